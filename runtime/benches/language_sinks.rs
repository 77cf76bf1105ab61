//! The same sink in Rust, Python and JavaScript (and the CSV sink in Rust
//! and C): first and cached start, and records/s at batch 1024.
//!
//! `cargo xtask bench` builds every sink (installing componentize-py and
//! componentize-js into `target/tools`, and the C toolchain) and runs this
//! in release mode. For `redact-sink` and `rollup-sink` in each language,
//! and `csv-sink` in Rust and C (columns `ts,level,route,user`), it measures:
//! - first start: compiling the component into an empty cache, then
//!   instantiating and calling `start`, as the first run of a new module;
//! - cached start: a fresh engine on the warm cache (as a new process would
//!   be) loading, instantiating and starting it;
//! - records/s through `Sink::write` with batches of 1024 ~100-byte log
//!   records, median of 3 rounds.
//!
//! And for the Python and JavaScript `rollup-sink`, what incremental
//! compilation saves: it rebuilds the sink after a one-line change (with
//! componentize-py or componentize-js from `target/tools`) and compiles that
//! build into an empty cache, and into a cache that holds the original's
//! function entries. (A Rust sink is small enough that its cold compile is
//! already a fraction of a second; it has no row.)
//!
//! Results go to `target/bench/language_sinks.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sinkbox::wasm::{DirGrant, WasmEngine, WasmSink, WasmSinkOptions};
use sinkbox::{Batch, Sink, WriteOutcome};

const ROUNDS: usize = 3;
const ROUND_TIME: Duration = Duration::from_millis(500);

fn guest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

fn options(dir: &Path, config: &[(&str, &str)]) -> WasmSinkOptions {
    WasmSinkOptions {
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        grant: Some(DirGrant {
            host_path: dir.to_owned(),
            guest_path: "/data".into(),
            read_only: false,
        }),
        call_timeout: Duration::from_secs(30),
        ..WasmSinkOptions::default()
    }
}

/// Loads (through `engine`'s cache), instantiates and starts the sink.
fn start(
    engine: &WasmEngine,
    path: &Path,
    dir: &Path,
    config: &[(&str, &str)],
) -> anyhow::Result<(WasmSink, Duration)> {
    let t = Instant::now();
    let mut sink = WasmSink::new("bench", engine.load(path)?, options(dir, config));
    sink.start()?;
    Ok((sink, t.elapsed()))
}

fn batches() -> Vec<Batch> {
    (0..8)
        .map(|b| {
            Batch::from_records(
                (0..1024).map(|i| {
                    let n = b * 1024 + i;
                    format!(
                        r#"{{"ts":"2026-11-22T10:{:02}:00Z","level":"info","route":"/api/{}","user":"u{n}","token":"t{n}"}}"#,
                        n % 60,
                        n % 7
                    )
                }),
                (b * 1024) as u64,
            )
        })
        .collect()
}

fn rate(sink: &mut WasmSink, batches: &[Batch]) -> f64 {
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut records = 0u64;
        while t.elapsed() < ROUND_TIME {
            for batch in batches {
                assert_eq!(sink.write(batch), WriteOutcome::Accepted);
                records += u64::from(batch.len());
            }
        }
        rounds.push(records as f64 / t.elapsed().as_secs_f64());
    }
    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rounds[rounds.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let batches = batches();
    let mut summary = serde_json::Map::new();
    println!(
        "{:<16} {:>8} {:>12} {:>12} {:>12}",
        "sink", "size MB", "first start", "cached start", "records/s"
    );
    let every_language: &[&str] = &["", "-py", "-js"];
    let csv_columns: &[(&str, &str)] = &[("columns", "ts,level,route,user")];
    for (kind, languages, config) in [
        ("redact-sink", every_language, &[][..]),
        ("rollup-sink", every_language, &[][..]),
        ("csv-sink", &["", "-c"][..], csv_columns),
    ] {
        for language in languages {
            let name = format!("{kind}{language}");
            let path = guest(&name);
            anyhow::ensure!(
                path.exists(),
                "{} is missing; run `cargo xtask bench`, which builds every sink",
                path.display()
            );
            let size = std::fs::metadata(&path)?.len() as f64 / 1e6;
            let cache = tempfile::tempdir()?;
            let out = tempfile::tempdir()?;
            let (mut first, first_start) = start(
                &WasmEngine::new(Some(cache.path().to_owned()))?,
                &path,
                out.path(),
                config,
            )?;
            first.stop();
            // A new engine on the warm cache: what a restarted process pays.
            let (mut sink, cached_start) = start(
                &WasmEngine::new(Some(cache.path().to_owned()))?,
                &path,
                out.path(),
                config,
            )?;
            let records_per_s = rate(&mut sink, &batches);
            sink.stop();
            println!(
                "{name:<16} {size:>8.1} {:>10.0} ms {:>9.1} ms {records_per_s:>12.0}",
                first_start.as_secs_f64() * 1e3,
                cached_start.as_secs_f64() * 1e3,
            );
            summary.insert(
                name,
                serde_json::json!({
                    "size_mb": size,
                    "first_start_ms": first_start.as_secs_f64() * 1e3,
                    "cached_start_ms": cached_start.as_secs_f64() * 1e3,
                    "records_per_s_batch_1024": records_per_s,
                }),
            );
        }
    }
    for language in [Language::Python, Language::JavaScript] {
        let name = language.sink();
        match recompile_after_a_one_line_change(language)? {
            Some((cold, warm)) => {
                println!(
                    "{name} after a one-line change: compile {:.1} s cold, {:.1} s with the original's function entries ({:.1}x)",
                    cold.as_secs_f64(),
                    warm.as_secs_f64(),
                    cold.as_secs_f64() / warm.as_secs_f64()
                );
                summary.insert(
                    format!("{name} recompile"),
                    serde_json::json!({
                        "cold_compile_s": cold.as_secs_f64(),
                        "incremental_compile_s": warm.as_secs_f64(),
                        "ratio": cold.as_secs_f64() / warm.as_secs_f64(),
                    }),
                );
            }
            None => println!(
                "({} is not in target/tools; run `cargo xtask bench` for the {name} recompile row)",
                language.tool()
            ),
        }
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("language_sinks.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("wrote {}", out.join("language_sinks.json").display());
    Ok(())
}

#[derive(Clone, Copy)]
enum Language {
    Python,
    JavaScript,
}

impl Language {
    fn sink(self) -> &'static str {
        match self {
            Language::Python => "rollup-sink-py",
            Language::JavaScript => "rollup-sink-js",
        }
    }

    fn tool(self) -> &'static str {
        match self {
            Language::Python => "componentize-py",
            Language::JavaScript => "componentize-js",
        }
    }
}

/// Compile times of the language's rollup sink rebuilt after a one-line
/// change: into an empty cache, and into one holding the original build's
/// function entries (the original's whole-component entry removed). `None`
/// without the language's build tool.
fn recompile_after_a_one_line_change(
    language: Language,
) -> anyhow::Result<Option<(Duration, Duration)>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = tempfile::tempdir()?;
    let rebuilt = work.path().join("changed.wasm");
    let change = |path: &Path, from: &str, to: &str| -> anyhow::Result<String> {
        let text = std::fs::read_to_string(path)?;
        let changed = text.replacen(from, to, 1);
        anyhow::ensure!(
            changed != text,
            "the line to change is not in {} any more",
            path.display()
        );
        Ok(changed)
    };
    let status = match language {
        Language::Python => {
            let componentize = root.join("target/tools/python/bin/componentize-py");
            if !componentize.exists() {
                return Ok(None);
            }
            let source = work.path().join("app");
            std::fs::create_dir_all(&source)?;
            std::fs::write(
                source.join("app.py"),
                change(
                    &root.join("example-sinks/rollup-sink-py/app.py"),
                    "config.get(\"by\", \"route\")",
                    "config.get(\"by\", \"route\") or \"route\"",
                )?,
            )?;
            std::process::Command::new(&componentize)
                .arg("-d")
                .arg(root.join("wit"))
                .args(["-w", "sink-world", "componentize", "app", "-p"])
                .arg(&source)
                .arg("-o")
                .arg(&rebuilt)
                .stdout(std::process::Stdio::null())
                .status()?
        }
        Language::JavaScript => {
            let tools = root.join("target/tools/node");
            if !tools.join("componentize.mjs").exists() {
                return Ok(None);
            }
            let source = work.path().join("sink.js");
            std::fs::write(
                &source,
                change(
                    &root.join("example-sinks/rollup-sink-js/sink.js"),
                    "by: options.by ?? 'route',",
                    "by: options.by ?? 'route' ?? 'route',",
                )?,
            )?;
            std::process::Command::new("node")
                .current_dir(&tools)
                .arg("componentize.mjs")
                .arg(&source)
                .arg(root.join("wit"))
                .arg("sink-world-files")
                .arg(&rebuilt)
                .stdout(std::process::Stdio::null())
                .status()?
        }
    };
    anyhow::ensure!(status.success(), "{} failed", language.tool());
    let compile = |cache: &Path, path: &Path| -> anyhow::Result<Duration> {
        let engine = WasmEngine::incremental(Some(cache.to_owned()))?;
        let t = Instant::now();
        engine.load(path)?;
        Ok(t.elapsed())
    };
    let cold_cache = tempfile::tempdir()?;
    let cold = compile(cold_cache.path(), &rebuilt)?;
    let warm_cache = tempfile::tempdir()?;
    compile(warm_cache.path(), &guest(language.sink()))?;
    for entry in sinkbox::wasm::cache_entries(warm_cache.path())? {
        if !entry.is_function() {
            std::fs::remove_file(entry.path)?;
        }
    }
    let warm = compile(warm_cache.path(), &rebuilt)?;
    Ok(Some((cold, warm)))
}
