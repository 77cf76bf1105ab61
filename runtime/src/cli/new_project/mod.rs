//! `sinkbox new NAME --lang rust|python|javascript|c [--http]`: a sink
//! project that builds with one documented command and passes `sinkbox
//! check` as generated, like `cargo new` or `npm init`.

mod project_files;
mod readme;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use project_files::{build_command, component_path, project_files};

/// A language a sink can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust with the sinkbox guest SDK (vendored into the project).
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Javascript,
    /// C (or C++), built with `zig cc` over the C guest SDK.
    C,
}

/// What `sinkbox new` takes.
#[derive(Clone, Debug, clap::Args)]
pub struct NewArgs {
    /// The sink's name: lower-case letters, digits and `-`, starting with
    /// a letter; also the project's directory.
    pub name: String,
    /// The language of the sink.
    #[arg(long, value_enum)]
    pub lang: Language,
    /// A sink that sends over HTTP (the host's wasi:http) instead of
    /// writing files into its grant.
    #[arg(long)]
    pub http: bool,
    /// Where to create the project (default: ./NAME).
    #[arg(long)]
    pub path: Option<PathBuf>,
}

/// Creates the project and says what it wrote.
pub fn new_project(args: &NewArgs) -> anyhow::Result<ExitCode> {
    check_name(&args.name)?;
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        bail!(
            "`{}` already exists; choose another name, or --path for a directory that does not exist yet",
            dir.display()
        );
    }
    let files = project_files(args.lang, &args.name, args.http);
    for file in &files {
        write_file(&dir, file)?;
    }
    let component = component_path(args.lang, &args.name);
    println!(
        "created {} ({} sink{}, {} files):",
        dir.display(),
        match args.lang {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Javascript => "JavaScript",
            Language::C => "C",
        },
        if args.http { " sending over HTTP" } else { "" },
        files.len()
    );
    for file in files
        .iter()
        .filter(|f| !f.path.starts_with("wit/") && !f.path.starts_with("sdk/"))
    {
        println!("  {}", file.path);
    }
    println!("  wit/  the sinkbox contract");
    if args.lang == Language::Rust {
        println!("  sdk/  the Rust guest SDK");
    }
    println!(
        "next:\n  cd {}\n  {}\n  sinkbox check {component}{}",
        dir.display(),
        build_command(args.lang, &args.name, args.http),
        if args.http {
            " --config url=http://127.0.0.1:8080/ingest --http-allow http://127.0.0.1:8080/ingest"
        } else {
            " --grant out"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A name usable as a directory, a crate, a package and a file name.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !valid {
        bail!(
            "`{name}` cannot name a sink: use lower-case letters, digits and `-`, starting with a letter (at most 64), such as `my-sink`"
        );
    }
    Ok(())
}

fn write_file(dir: &Path, file: &project_files::ProjectFile) -> anyhow::Result<()> {
    let full = dir.join(&file.path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    std::fs::write(&full, &file.bytes)
        .with_context(|| format!("cannot write `{}`", full.display()))?;
    if file.executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make `{}` executable", full.display()))?;
    }
    Ok(())
}
