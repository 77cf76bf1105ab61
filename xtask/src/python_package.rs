//! The Python package (`python/`): built with maturin into its own
//! environment under `target/tools/pypkg` (in the workspace's target dir,
//! dev profile, so it reuses the runtime already built for the tests), then
//! its pytest suite run against what the sinks wrote, structlog and loguru
//! included.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::language_sinks::{python_venv, tools};
use crate::run;

/// What the package is built and tested with: maturin, pytest, and the
/// real logging libraries its front ends are tested against.
const TOOLS: &[(&str, &str)] = &[
    ("maturin", "1.16.0"),
    ("pytest", "9.2.0"),
    ("structlog", "26.1.0"),
    ("loguru", "0.7.3"),
];

/// What the benchmark adds: the seed library it is measured against.
const BENCH_TOOLS: &[(&str, &str)] = &[("fapilog", "0.18.1")];

/// The package's environment, with every list of `tools_needed` installed.
fn environment(root: &Path, tools_needed: &[&[(&str, &str)]]) -> Result<PathBuf> {
    let venv = tools(root).join("pypkg");
    let pip = python_venv(&venv)?;
    let has = |package: &str, version: &str| {
        Command::new(&pip)
            .args(["show", package])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {version}"))
            })
    };
    let wanted = || tools_needed.iter().flat_map(|list| list.iter());
    if !wanted().all(|(package, version)| has(package, version)) {
        run(Command::new(&pip)
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(wanted().map(|(package, version)| format!("{package}=={version}"))))?;
    }
    Ok(venv)
}

/// Builds the package into its environment (`release` for benchmarks);
/// the environment's `bin` and the `PATH` that puts it first.
fn develop(root: &Path, release: bool) -> Result<(PathBuf, std::ffi::OsString)> {
    let venv = if release {
        environment(root, &[TOOLS, BENCH_TOOLS])?
    } else {
        environment(root, &[TOOLS])?
    };
    let bin = venv.join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.clone()];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths)?;
    let mut maturin = Command::new(bin.join("maturin"));
    maturin.args(["develop", "--quiet"]);
    if release {
        maturin.arg("--release");
    }
    run(maturin
        .arg("--manifest-path")
        .arg(root.join("python").join("Cargo.toml"))
        .env("VIRTUAL_ENV", &venv)
        .env("PATH", &path))?;
    Ok((bin, path))
}

/// Runs the extension's own Rust tests, builds the package into its
/// environment and runs its pytest suite.
pub(crate) fn test(root: &Path) -> Result<()> {
    run(crate::cargo().args(["test", "-p", "sinkbox-python", "--lib"]))?;
    let (bin, path) = develop(root, false)?;
    run(Command::new(bin.join("python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join("python").join("tests"))
        .env("PATH", &path))
}

/// Builds the package optimised and runs its benchmark, which writes
/// `target/bench/python.json`.
pub(crate) fn bench(root: &Path) -> Result<()> {
    let (bin, path) = develop(root, true)?;
    run(Command::new(bin.join("python"))
        .arg(
            root.join("python")
                .join("bench")
                .join("logging_throughput.py"),
        )
        .arg(root.join("target").join("bench").join("python.json"))
        .env("PATH", &path))
}
