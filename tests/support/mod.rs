//! Shared helpers for the integration tests: guest components built from
//! source, a shared compile cache, polling with a generous deadline.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sinkbox::pipeline::RetryPolicy;
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

/// The compiled component of guest crate `name` (e.g. `"trap-sink"`).
/// Builds every guest once per test binary (quick when `cargo xtask test`
/// already built them).
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        // `cargo xtask guests` knows the guest list and installs the target.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(workspace_root())
            .args(["run", "--quiet", "--package", "xtask", "--", "guests"])
            .status()
            .expect("run cargo to build the guests");
        assert!(
            status.success(),
            "building the guests failed; see `cargo xtask guests`"
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

/// Retries and restarts that run out fast, so failure paths take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_restarts: 2,
    }
}

/// Polls `condition` until it holds; panics with `what` after a generous
/// deadline (a last guard, not a timing assertion).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines of a file, or none if it does not exist.
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `n` compact JSON records `{"i":<start+k>,"level":"info"}`, plus `extra`
/// fields spliced into the record at `marker_at`.
pub fn records(start: usize, n: usize, marker_at: Option<usize>, extra: &str) -> Vec<String> {
    (start..start + n)
        .map(|i| {
            if Some(i) == marker_at {
                format!(r#"{{"i":{i},"level":"info",{extra}}}"#)
            } else {
                format!(r#"{{"i":{i},"level":"info"}}"#)
            }
        })
        .collect()
}
