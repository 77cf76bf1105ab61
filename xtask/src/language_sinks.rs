//! Sinks written in Python and JavaScript: their toolchains, installed into
//! the project's own tool folder (`target/tools/`) at pinned versions, and
//! their builds. Generated bindings are never committed: each toolchain reads
//! `wit/` itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run;

/// componentize-py from PyPI.
const COMPONENTIZE_PY: &str = "0.25.1";
/// @bytecodealliance/componentize-js from npm.
const COMPONENTIZE_JS: &str = "0.23.0";

/// A Python sink: its folder, its module, the world it targets, the
/// component it builds.
pub struct PythonSink {
    pub dir: &'static str,
    pub module: &'static str,
    pub world: &'static str,
    pub output: &'static str,
}

/// A JavaScript sink: its source, the world it targets, the component.
pub struct JsSink {
    pub source: &'static str,
    pub world: &'static str,
    pub output: &'static str,
}

pub const PYTHON_SINKS: &[PythonSink] = &[
    PythonSink {
        dir: "example-sinks/redact-sink-py",
        module: "app",
        world: "sink-world",
        output: "redact_sink_py.wasm",
    },
    PythonSink {
        dir: "example-sinks/rollup-sink-py",
        module: "app",
        world: "sink-world",
        output: "rollup_sink_py.wasm",
    },
    // Sends over HTTP: its world imports wasi:http.
    PythonSink {
        dir: "example-sinks/slack-sink-py",
        module: "app",
        world: "sink-world-http",
        output: "slack_sink_py.wasm",
    },
];

/// JavaScript guests reach WASI only through their world, so they target
/// `sink-world-files`, which adds the filesystem's preopens.
pub const JS_SINKS: &[JsSink] = &[
    JsSink {
        source: "example-sinks/redact-sink-js/sink.js",
        world: "sink-world-files",
        output: "redact_sink_js.wasm",
    },
    JsSink {
        source: "example-sinks/rollup-sink-js/sink.js",
        world: "sink-world-files",
        output: "rollup_sink_js.wasm",
    },
    // Sends over HTTP: its world imports wasi:http.
    JsSink {
        source: "example-sinks/webhook-sink-js/sink.js",
        world: "sink-world-http",
        output: "webhook_sink_js.wasm",
    },
];

pub(crate) fn tools(root: &Path) -> PathBuf {
    root.join("target").join("tools")
}

pub(crate) fn output_dir(root: &Path) -> PathBuf {
    root.join("target").join("wasm32-wasip2").join("release")
}

/// Whether `output` is older than any of `inputs` (or missing).
pub(crate) fn stale(output: &Path, inputs: &[PathBuf]) -> bool {
    let Ok(built) = output.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    inputs.iter().any(|input| {
        input
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|changed| changed > built)
    })
}

/// Every file below `dir` (the WIT, a sink's folder).
pub(crate) fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                files.extend(files_below(&path));
            }
        } else {
            files.push(path);
        }
    }
    files
}

/// Runs apt-get for a missing system tool (CI machines are fresh).
pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    eprintln!("installing {packages:?} with apt-get");
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages))
}

pub(crate) fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A Python virtual environment at `venv`, made when missing (with
/// Debian's python3-venv if need be); returns its `pip`.
pub(crate) fn python_venv(venv: &Path) -> Result<PathBuf> {
    if !has("python3") {
        apt_install(&["python3", "python3-venv", "python3-pip"])?;
    }
    let pip = venv.join("bin").join("pip");
    if !pip.exists() {
        let made = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(venv)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            apt_install(&["python3-venv"])?;
            run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
        }
    }
    Ok(pip)
}

/// componentize-py in `target/tools/python`, installed when missing.
fn componentize_py(root: &Path) -> Result<PathBuf> {
    let venv = tools(root).join("python");
    let program = venv.join("bin").join("componentize-py");
    let version = Command::new(&program).arg("--version").output();
    if version.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(COMPONENTIZE_PY)) {
        return Ok(program);
    }
    let pip = python_venv(&venv)?;
    run(Command::new(pip)
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("componentize-py=={COMPONENTIZE_PY}")))?;
    Ok(program)
}

/// componentize-js in `target/tools/node/node_modules`, installed when
/// missing; returns the folder holding the build script.
fn componentize_js(root: &Path) -> Result<PathBuf> {
    let dir = tools(root).join("node");
    std::fs::create_dir_all(&dir)?;
    let installed = dir.join("node_modules/@bytecodealliance/componentize-js/package.json");
    let current = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned));
    if current.as_deref() != Some(COMPONENTIZE_JS) {
        if !has("node") || !has("npm") {
            apt_install(&["nodejs", "npm"])?;
        }
        let manifest = serde_json::json!({
            "name": "sinkbox-tools",
            "private": true,
            "type": "module",
            "dependencies": { "@bytecodealliance/componentize-js": COMPONENTIZE_JS }
        });
        std::fs::write(
            dir.join("package.json"),
            serde_json::to_string_pretty(&manifest)?,
        )?;
        run(Command::new("npm").current_dir(&dir).args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]))?;
    }
    // Next to node_modules, so the script's import resolves there.
    std::fs::copy(
        root.join("xtask/js/componentize.mjs"),
        dir.join("componentize.mjs"),
    )
    .context("copy the componentize-js build script")?;
    Ok(dir)
}

/// Builds every Python and JavaScript sink whose sources or WIT changed.
pub fn build(root: &Path) -> Result<()> {
    let wit = root.join("wit");
    let out = output_dir(root);
    std::fs::create_dir_all(&out)?;
    let wit_files = files_below(&wit);
    for sink in PYTHON_SINKS {
        let output = out.join(sink.output);
        let mut inputs = files_below(&root.join(sink.dir));
        inputs.extend(wit_files.iter().cloned());
        if !stale(&output, &inputs) {
            continue;
        }
        let program = componentize_py(root)?;
        run(Command::new(program)
            .arg("-d")
            .arg(&wit)
            .args(["-w", sink.world, "componentize", sink.module, "-p"])
            .arg(root.join(sink.dir))
            .arg("-o")
            .arg(&output))?;
    }
    for sink in JS_SINKS {
        let output = out.join(sink.output);
        let mut inputs = vec![
            root.join(sink.source),
            root.join("xtask/js/componentize.mjs"),
        ];
        inputs.extend(wit_files.iter().cloned());
        if !stale(&output, &inputs) {
            continue;
        }
        let dir = componentize_js(root)?;
        let status = Command::new("node")
            .current_dir(&dir)
            .arg("componentize.mjs")
            .arg(root.join(sink.source))
            .arg(&wit)
            .arg(sink.world)
            .arg(&output)
            .status()
            .context("run node")?;
        if !status.success() {
            bail!("building {} with componentize-js failed", sink.source);
        }
    }
    Ok(())
}
