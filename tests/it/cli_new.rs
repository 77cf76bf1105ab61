//! `sinkbox new`: every generated project (four languages, with and
//! without `--http`) builds from a clean folder with the toolchain its
//! README names and passes `sinkbox check` as generated, so the templates
//! never rot; and the command refuses what it must.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::recording_server::{Answer, RecordingServer};
use crate::support::{guest, sinkbox, workspace_root};

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `sinkbox new NAME --lang LANG [--http] --path DIR/NAME`.
fn generate(dir: &Path, name: &str, lang: &str, http: bool) -> PathBuf {
    let project = dir.join(name);
    let mut cmd = sinkbox();
    cmd.args(["new", name, "--lang", lang, "--path"])
        .arg(&project);
    if http {
        cmd.arg("--http");
    }
    let output = cmd.output().unwrap();
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("created "), "{said}");
    assert!(
        said.contains("sample.ndjson") && said.contains("README.md"),
        "{said}"
    );
    project
}

fn run(cmd: &mut Command, what: &str) {
    let output = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(output.status.success(), "{what} failed:\n{}", text(&output));
}

fn tools() -> PathBuf {
    workspace_root().join("target").join("tools")
}

/// Builds a generated project as its README says, with the toolchain the
/// example sinks use; returns the component.
fn build(project: &Path, name: &str, lang: &str, http: bool) -> PathBuf {
    match lang {
        "rust" => {
            // The usual command, in a target dir the generated projects
            // share (their dependencies build once); `--offline`, as the
            // workspace's lock already fetched every crate they use.
            let target = workspace_root().join("target").join("new-projects");
            run(
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .current_dir(project)
                    .args([
                        "build",
                        "--release",
                        "--target",
                        "wasm32-wasip2",
                        "--offline",
                        "--quiet",
                    ])
                    .env("CARGO_TARGET_DIR", &target),
                "cargo build",
            );
            target
                .join("wasm32-wasip2/release")
                .join(format!("{}.wasm", name.replace('-', "_")))
        }
        "python" => {
            guest("redact-sink-py"); // installs componentize-py when missing
            let world = if http {
                "sink-world-http"
            } else {
                "sink-world"
            };
            run(
                Command::new(tools().join("python/bin/componentize-py"))
                    .current_dir(project)
                    .args(["-d", "wit", "-w", world, "componentize", "app", "-o"])
                    .arg(format!("{name}.wasm")),
                "componentize-py",
            );
            project.join(format!("{name}.wasm"))
        }
        "javascript" => {
            guest("redact-sink-js"); // installs componentize-js when missing
            // What `npm install` would fetch, at the version package.json pins.
            std::os::unix::fs::symlink(
                tools().join("node/node_modules"),
                project.join("node_modules"),
            )
            .unwrap();
            let manifest: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(project.join("package.json")).unwrap(),
            )
            .unwrap();
            let installed: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(
                    tools()
                        .join("node/node_modules/@bytecodealliance/componentize-js/package.json"),
                )
                .unwrap(),
            )
            .unwrap();
            assert_eq!(
                manifest["devDependencies"]["@bytecodealliance/componentize-js"],
                installed["version"],
                "package.json pins the componentize-js the examples build with"
            );
            assert_eq!(manifest["scripts"]["build"], "node build.mjs");
            run(
                Command::new("node").current_dir(project).arg("build.mjs"),
                "node build.mjs",
            );
            project.join(format!("{name}.wasm"))
        }
        "c" => {
            guest("csv-sink-c"); // installs the C toolchain when missing
            let c = tools().join("c");
            let zig = c.join("zig/bin/python");
            run(
                Command::new("sh")
                    .current_dir(project)
                    .arg("build.sh")
                    .env("ZIG_CC", format!("{} -m ziglang cc", zig.display()))
                    .env("WIT_BINDGEN", c.join("bin/wit-bindgen"))
                    .env("WASM_TOOLS", c.join("bin/wasm-tools")),
                "sh build.sh",
            );
            project.join(format!("{name}.wasm"))
        }
        other => unreachable!("{other}"),
    }
}

/// `sinkbox check` with the arguments the README gives, then the sample.
fn check(project: &Path, component: &Path, http: bool) {
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    if http {
        let server = RecordingServer::start("127.0.0.1:0", |_| Answer::ok());
        let url = format!("{}/ingest", server.base_url());
        for extra in [&[][..], &["--input", "sample.ndjson"][..]] {
            let output = sinkbox()
                .current_dir(project)
                .arg("check")
                .arg(component)
                .args(["--config", &format!("url={url}"), "--http-allow", &url])
                .args(extra)
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", text(&output));
        }
        let posted: Vec<serde_json::Value> = server
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .flat_map(|r| serde_json::from_slice::<Vec<serde_json::Value>>(&r.body).unwrap())
            .collect();
        let sample: Vec<serde_json::Value> = std::fs::read_to_string(project.join("sample.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            posted.ends_with(&sample),
            "the sample was posted as it is: {posted:?}"
        );
        assert!(readme.contains("--http-allow"), "{readme}");
    } else {
        std::fs::create_dir(project.join("out")).unwrap();
        for extra in [&[][..], &["--input", "sample.ndjson"][..]] {
            let output = sinkbox()
                .current_dir(project)
                .arg("check")
                .arg(component)
                .args(["--grant", "out"])
                .args(extra)
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", text(&output));
        }
        let written = std::fs::read_to_string(project.join("out/out.ndjson")).unwrap();
        let sample = std::fs::read_to_string(project.join("sample.ndjson")).unwrap();
        assert!(
            written.ends_with(&sample),
            "the sample was written as it is:\n{written}"
        );
        assert!(
            readme.contains("--grant out --input sample.ndjson"),
            "{readme}"
        );
    }
}

fn builds_and_passes_check(lang: &str) {
    let _heavy = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    // C has no HTTP helper yet (refused below).
    let variants: &[bool] = if lang == "c" {
        &[false]
    } else {
        &[false, true]
    };
    for &http in variants {
        let name = if http { "my-poster" } else { "my-sink" };
        let project = generate(dir.path(), name, lang, http);
        let component = build(&project, name, lang, http);
        check(&project, &component, http);
    }
}

#[test]
fn a_new_rust_sink_builds_and_passes_check() {
    builds_and_passes_check("rust");
}

#[test]
fn a_new_python_sink_builds_and_passes_check() {
    builds_and_passes_check("python");
}

#[test]
fn a_new_javascript_sink_builds_and_passes_check() {
    builds_and_passes_check("javascript");
}

#[test]
fn a_new_c_sink_builds_and_passes_check() {
    builds_and_passes_check("c");
}

/// Every file below `dir`, relative to it.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_project_carries_this_builds_contract_and_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let project = generate(dir.path(), "carried", "rust", false);
    let root = workspace_root();
    // Every contract file, byte for byte.
    let contract = files_below(&root.join("wit"));
    assert_eq!(files_below(&project.join("wit")), contract);
    for file in &contract {
        assert_eq!(
            std::fs::read(project.join("wit").join(file)).unwrap(),
            std::fs::read(root.join("wit").join(file)).unwrap(),
            "{}",
            file.display()
        );
    }
    let sdk = files_below(&root.join("guest-sdk/src"));
    assert_eq!(files_below(&project.join("sdk/src")), sdk);
    for file in &sdk {
        assert_eq!(
            std::fs::read(project.join("sdk/src").join(file)).unwrap(),
            std::fs::read(root.join("guest-sdk/src").join(file)).unwrap(),
            "{}",
            file.display()
        );
    }
}

#[test]
fn a_c_project_carries_this_builds_c_sdk_and_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let project = generate(dir.path(), "carried-c", "c", false);
    let root = workspace_root();
    for file in ["sinkbox_sink.h", "sinkbox_sink.c"] {
        assert_eq!(
            std::fs::read(project.join(file)).unwrap(),
            std::fs::read(root.join("guest-sdk-c").join(file)).unwrap(),
            "{file}"
        );
    }
    let adapter = std::fs::read(project.join("wasi_snapshot_preview1.reactor.wasm")).unwrap();
    assert!(adapter.starts_with(b"\0asm"), "a wasm module");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(project.join("build.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "build.sh is executable");
}

#[test]
fn new_refuses_an_existing_directory_and_a_bad_name() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("keep.txt"), "mine").unwrap();
    let output = sinkbox()
        .args(["new", "taken", "--lang", "python", "--path"])
        .arg(&taken)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("already exists"),
        "{}",
        text(&output)
    );
    assert_eq!(files_below(&taken), vec![PathBuf::from("keep.txt")]);

    for bad in ["My_Sink", "1sink", "sink-", "../escape", ""] {
        let output = sinkbox()
            .args(["new", bad, "--lang", "rust"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(
            text(&output).contains("cannot name a sink"),
            "{bad}: {}",
            text(&output)
        );
    }
    let output = sinkbox()
        .args(["new", "ok", "--lang", "cobol"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("rust, python, javascript"),
        "{}",
        text(&output)
    );
}
