//! Sinks written in C: the toolchain, installed into `target/tools/c` at
//! pinned versions (Zig's `zig cc` from PyPI's `ziglang`, `wit-bindgen`
//! and `wasm-tools` from crates.io, the WASI preview1 adapter of the
//! wasmtime release the host runs), and the builds: bindings generated
//! from `wit/` into `target/c-bindings/`, never committed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::language_sinks::{files_below, output_dir, python_venv, stale, tools};
use crate::{cargo, run};

/// `zig cc` targets wasm32-wasi with its own libc.
const ZIGLANG: &str = "0.15.2";
/// `wit-bindgen c` writes the bindings (the version the Rust SDK uses).
const WIT_BINDGEN: &str = "0.61.1";
/// `wasm-tools component new` wraps the module into a component.
const WASM_TOOLS: &str = "1.258.3";

/// A C sink: its sources, the world it targets, the component.
pub struct CSink {
    pub dir: &'static str,
    pub world: &'static str,
    pub output: &'static str,
}

pub const C_SINKS: &[CSink] = &[
    CSink {
        dir: "example-sinks/csv-sink-c",
        world: "sink-world",
        output: "csv_sink_c.wasm",
    },
    // Misbehaves on request, to show the sandbox holds for C too.
    CSink {
        dir: "example-sinks/hostile-sink-c",
        world: "sink-world",
        output: "hostile_sink_c.wasm",
    },
];

/// The C SDK: `sinkbox_sink.h` and the exports over it.
const SDK_DIR: &str = "guest-sdk-c";

/// The installed toolchain.
pub struct CToolchain {
    python: PathBuf,
    wit_bindgen: PathBuf,
    wasm_tools: PathBuf,
    adapter: PathBuf,
}

fn version_of(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Installs what is missing and returns the toolchain.
pub fn toolchain(root: &Path) -> Result<CToolchain> {
    let dir = tools(root).join("c");
    std::fs::create_dir_all(&dir)?;
    let venv = dir.join("zig");
    let pip = python_venv(&venv)?;
    let python = venv.join("bin").join("python");
    let zig_version = Command::new(&python)
        .args(["-m", "ziglang", "version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if zig_version != ZIGLANG {
        run(Command::new(pip)
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("ziglang=={ZIGLANG}")))?;
    }
    let bin = dir.join("bin");
    let wit_bindgen = bin.join("wit-bindgen");
    if !version_of(&wit_bindgen).contains(WIT_BINDGEN) {
        run(cargo()
            .args([
                "install",
                "--locked",
                "--quiet",
                "wit-bindgen-cli",
                "--version",
                WIT_BINDGEN,
                "--root",
            ])
            .arg(&dir))?;
    }
    let wasm_tools = bin.join("wasm-tools");
    if !version_of(&wasm_tools).contains(WASM_TOOLS) {
        run(cargo()
            .args([
                "install",
                "--locked",
                "--quiet",
                "wasm-tools",
                "--version",
                WASM_TOOLS,
            ])
            .args(["--no-default-features", "--features", "component", "--root"])
            .arg(&dir))?;
    }
    let adapter = dir.join("wasi_snapshot_preview1.reactor.wasm");
    let bytes = wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;
    if std::fs::read(&adapter).ok().as_deref() != Some(bytes) {
        std::fs::write(&adapter, bytes).context("write the WASI preview1 adapter")?;
    }
    Ok(CToolchain {
        python,
        wit_bindgen,
        wasm_tools,
        adapter,
    })
}

impl CToolchain {
    /// `zig cc`.
    fn zig_cc(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "ziglang", "cc"]);
        cmd
    }

    /// Builds the C files of `sources` (a folder) with the SDK into the
    /// component `output`, for `world`: the three steps the C guide shows.
    pub fn build(&self, root: &Path, sources: &Path, world: &str, output: &Path) -> Result<()> {
        let scratch = root.join("target").join("c-bindings").join(
            output
                .file_stem()
                .context("an output file name")?
                .to_string_lossy()
                .as_ref(),
        );
        std::fs::create_dir_all(&scratch)?;
        run(Command::new(&self.wit_bindgen)
            .args(["c", "--world", world, "--out-dir"])
            .arg(&scratch)
            .arg(root.join("wit")))?;
        let stem = world.replace('-', "_");
        let mut cc = self.zig_cc();
        // A 128 KiB stack instead of Zig's default, which makes the
        // module's first memory 16 MiB: more than a sink's usual cap.
        cc.args([
            "-target",
            "wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-s",
            "-Wl,-z,stack-size=131072",
        ])
        .args(["-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(&scratch)
        .arg("-I")
        .arg(root.join(SDK_DIR))
        .arg(scratch.join(format!("{stem}.c")))
        .arg(scratch.join(format!("{stem}_component_type.o")))
        .arg(root.join(SDK_DIR).join("sinkbox_sink.c"));
        for file in files_below(sources) {
            if file.extension().is_some_and(|e| e == "c") {
                cc.arg(file);
            }
        }
        let module = scratch.join("module.wasm");
        run(cc.arg("-o").arg(&module))?;
        run(Command::new(&self.wasm_tools)
            .args(["component", "new"])
            .arg(&module)
            .arg("--adapt")
            .arg(&self.adapter)
            .arg("-o")
            .arg(output))
    }
}

/// Builds every C example sink whose sources, the SDK or the WIT changed.
pub fn build(root: &Path) -> Result<()> {
    let out = output_dir(root);
    std::fs::create_dir_all(&out)?;
    let mut shared = files_below(&root.join("wit"));
    shared.extend(files_below(&root.join(SDK_DIR)));
    // The compiler flags live here.
    shared.push(root.join("xtask/src/c_sinks.rs"));
    let mut toolchain = None;
    for sink in C_SINKS {
        let output = out.join(sink.output);
        let sources = root.join(sink.dir);
        let mut inputs = files_below(&sources);
        inputs.extend(shared.iter().cloned());
        if !stale(&output, &inputs) {
            continue;
        }
        if toolchain.is_none() {
            toolchain = Some(self::toolchain(root)?);
        }
        toolchain
            .as_ref()
            .expect("installed above")
            .build(root, &sources, sink.world, &output)?;
    }
    Ok(())
}
