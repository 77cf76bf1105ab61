//! Guest components built from source, the engine and compile cache the
//! tests share, and directory grants.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sinkbox::wasm::{SinkComponent, WasmEngine};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The compiled component of guest `name`: a Rust guest crate (e.g.
/// `"trap-sink"`), or a Python or JavaScript sink (`"redact-sink-py"`,
/// `"rollup-sink-js"`), or a C sink (`"csv-sink-c"`). Builds them once per test binary (quick when
/// `cargo xtask test` already built them).
pub fn guest(name: &str) -> PathBuf {
    static RUST: OnceLock<()> = OnceLock::new();
    static EVERY_LANGUAGE: OnceLock<()> = OnceLock::new();
    // `cargo xtask guests` knows the Rust guests and installs the target;
    // `build-sinks` also installs the Python, JavaScript and C toolchains.
    let (once, task) = if name.ends_with("-py") || name.ends_with("-js") || name.ends_with("-c") {
        (&EVERY_LANGUAGE, "build-sinks")
    } else {
        (&RUST, "guests")
    };
    once.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(workspace_root())
            .args(["run", "--quiet", "--package", "xtask", "--", task])
            .status()
            .expect("run cargo to build the guests");
        assert!(
            status.success(),
            "building the sinks failed; see `cargo xtask {task}`"
        );
    });
    let path = target_dir()
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is missing after the guest build",
        path.display()
    );
    path
}

/// One engine per test binary, sharing a compile cache under `target/`.
pub fn engine() -> WasmEngine {
    static ENGINE: OnceLock<WasmEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| WasmEngine::new(Some(target_dir().join("sinkbox-test-cache"))).unwrap())
        .clone()
}

/// The loaded component of guest crate `name`.
pub fn component(name: &str) -> Arc<SinkComponent> {
    engine().load(&guest(name)).unwrap()
}

/// Wasm sink options granting `dir` at `/data`, with `config`.
pub fn granted(dir: &Path, config: &[(&str, &str)]) -> sinkbox::wasm::WasmSinkOptions {
    sinkbox::wasm::WasmSinkOptions {
        grant: Some(sinkbox::wasm::DirGrant {
            host_path: dir.to_owned(),
            guest_path: "/data".into(),
            read_only: false,
        }),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..sinkbox::wasm::WasmSinkOptions::default()
    }
}
