//! Project tasks: `cargo xtask demo | test | bench | guests | build-sinks | lint`.

mod bench_summary;
mod c_sinks;
mod language_sinks;
mod python_package;
mod test_servers;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Sink components built from source for the demo, the tests and the bench.
const GUESTS: &[&str] = &[
    "filter-sink",
    "stats-sink",
    "redact-sink",
    "rollup-sink",
    "csv-sink",
    "elasticsearch-sink",
    "count-sink",
    "outcome-sink",
    "trap-sink",
    "loop-sink",
    "oom-sink",
    "hostile-sink",
    "http-probe-sink",
    "tag-sink-v1",
    "tag-sink-v2",
    "contract-0-1-sink",
];

const DEMO_CONFIG: &str = include_str!("demo.toml");
const DEMO_EVENTS: usize = 200;

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match task.as_str() {
        "demo" => demo(&root),
        "test" => test(&root),
        "build-sinks" => build_sinks(&root),
        "bench" => bench(&root),
        "guests" => build_guests(),
        "fuzz" => fuzz(),
        "lint" => lint(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  \
                 demo         build the Rust example sinks and run `sinkbox run` on the demo config\n  \
                 test         install what the tests need, build every sink, run every test\n  \
                 bench        throughput, start times, hot reload (release build)\n  \
                 guests       build the Rust sink components for wasm32-wasip2\n  \
                 build-sinks  build every sink in every language (installs componentize-py and componentize-js into target/tools)\n  \
                 fuzz         the input fuzz targets with 20,000 cases each (SINKBOX_FUZZ_CASES to change)\n  \
                 lint         cargo fmt --check and cargo clippy -D warnings"
            );
            if task.is_empty() {
                Ok(())
            } else {
                bail!("unknown task `{task}`")
            }
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Installs the wasm32-wasip2 target when rustup does not have it yet.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to install the wasm32-wasip2 target")?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    Ok(())
}

fn build_guests() -> Result<()> {
    ensure_wasm_target()?;
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", "wasm32-wasip2"]);
    for guest in GUESTS {
        cmd.args(["-p", guest]);
    }
    run(&mut cmd)
}

/// Every sink in every language: the Rust guests, then the Python,
/// JavaScript and C sinks (installing their toolchains when missing).
fn build_sinks(root: &Path) -> Result<()> {
    build_guests()?;
    language_sinks::build(root)?;
    c_sinks::build(root)
}

/// The property-based fuzz targets of `tests/it/fuzz_inputs.rs`, run long.
fn fuzz() -> Result<()> {
    build_guests()?;
    let cases = std::env::var("SINKBOX_FUZZ_CASES").unwrap_or_else(|_| "20000".into());
    run(cargo()
        .args(["test", "-p", "sinkbox", "--test", "it", "fuzz_inputs::"])
        .env("SINKBOX_FUZZ_CASES", cases))
}

fn test(root: &Path) -> Result<()> {
    build_sinks(root)?;
    test_servers::ensure(root)?;
    // The workspace's default members are the host crates; the guests were
    // built above for wasm32-wasip2 and are exercised by the runtime's tests.
    run(cargo().arg("test"))?;
    python_package::test(root)
}

fn lint() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
    // The Python package is a workspace member outside the defaults (its
    // tests are pytest's).
    run(cargo().args(["clippy", "-p", "sinkbox-python", "--", "-D", "warnings"]))?;
    ensure_wasm_target()?;
    let mut cmd = cargo();
    cmd.args(["clippy", "--release", "--target", "wasm32-wasip2"]);
    for guest in GUESTS {
        cmd.args(["-p", guest]);
    }
    run(cmd.args(["--", "-D", "warnings"]))
}

/// The benches `cargo xtask bench` runs; each writes `target/bench/<name>.json`.
const BENCHES: [&str; 11] = [
    "sink_throughput",
    "native_writers",
    "producers",
    "hot_reload",
    "language_sinks",
    "http_sinks",
    "wasm_http",
    "routing",
    "db_sinks",
    "disk_buffer",
    "sources",
];

fn bench(root: &Path) -> Result<()> {
    build_sinks(root)?;
    test_servers::ensure(root)?;
    let mut cargo_bench = cargo();
    cargo_bench.args(["bench", "-p", "sinkbox"]);
    for name in BENCHES {
        cargo_bench.args(["--bench", name]);
    }
    run(&mut cargo_bench)?;
    python_package::bench(root)?;
    let mut written = BENCHES.to_vec();
    written.push("python");
    bench_summary::write(root, &written)
}

fn demo(root: &Path) -> Result<()> {
    build_guests()?;
    run(cargo().args(["build", "-p", "sinkbox"]))?;
    let demo_dir = root.join("target").join("demo");
    if demo_dir.exists() {
        std::fs::remove_dir_all(&demo_dir)?;
    }
    std::fs::create_dir_all(&demo_dir)?;
    let config = demo_dir.join("sinkbox.toml");
    std::fs::write(&config, DEMO_CONFIG)?;
    let events = demo_dir.join("events.ndjson");
    write_sample_events(&events, DEMO_EVENTS)?;

    let sinkbox = root.join("target").join("debug").join("sinkbox");
    run(Command::new(&sinkbox)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--input")
        .arg(&events))?;

    println!("\nThe demo ran {DEMO_EVENTS} generated events through four sinks:");
    println!("  console   (stdout)  printed above");
    for (sink, path) in [
        ("applog", "out/app.ndjson"),
        ("problems", "out/problems/problems.ndjson"),
    ] {
        let path = demo_dir.join(path);
        let lines = std::fs::read_to_string(&path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let kind = if sink == "applog" { "file" } else { "wasm" };
        println!(
            "  {sink:<9} ({kind})    {lines} records in {}",
            path.display()
        );
    }
    println!("  stats     (wasm)    counts by level in the log lines above");
    println!("config: {}", config.display());
    Ok(())
}

/// Deterministic sample events: a small web service's request log.
fn write_sample_events(path: &Path, count: usize) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let levels = [
        "info", "info", "info", "debug", "warn", "info", "error", "info",
    ];
    let routes = [
        "/api/orders",
        "/api/users",
        "/health",
        "/api/cart",
        "/login",
    ];
    let mut seed: u64 = 0x5eed;
    for i in 0..count {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let level = levels[(seed >> 33) as usize % levels.len()];
        let route = routes[(seed >> 40) as usize % routes.len()];
        let latency = (seed >> 20) % 900 + 3;
        let status = match level {
            "error" => 500,
            "warn" => 429,
            _ => 200,
        };
        writeln!(
            out,
            r#"{{"timestamp":"2026-11-22T10:{:02}:{:02}Z","level":"{level}","message":"{route} answered {status}","route":"{route}","status":{status},"latency_ms":{latency},"request_id":"req-{i:05}"}}"#,
            (i / 60) % 60,
            i % 60,
        )?;
    }
    out.flush()?;
    Ok(())
}
