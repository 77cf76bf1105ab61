//! Emit latency while a wasm sink's module is swapped 20 times, against the
//! same run without swaps, and the pause of the slowest swap.
//!
//! `cargo xtask bench` builds the guests and runs this in release mode. A
//! paced producer emits ~100k records/s for three seconds into a pipeline
//! with one `tag-sink` (v1/v2, cached modules); in the second run another
//! thread swaps the module every 140 ms. Every emit is timed. Afterwards the
//! records in both versions' files are counted: none may be lost or doubled.
//! Results go to `target/bench/hot_reload.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sinkbox::Pipeline;
use sinkbox::pipeline::BatchOptions;
use sinkbox::reload::ModuleSource;
use sinkbox::wasm::{DirGrant, WasmEngine, WasmSink, WasmSinkOptions};

const RUN: Duration = Duration::from_secs(3);
const SWAPS: usize = 20;

fn guest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

struct RunResult {
    latencies_ns: Vec<u64>,
    emitted: usize,
    delivered: usize,
    pauses: Vec<Duration>,
    prepares: Vec<Duration>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1e3
}

fn run(engine: &WasmEngine, swaps: usize) -> anyhow::Result<RunResult> {
    let out = tempfile::tempdir()?;
    let (v1, v2) = (guest("tag-sink-v1"), guest("tag-sink-v2"));
    let sink = WasmSink::new(
        "tag",
        engine.load(&v1)?,
        WasmSinkOptions {
            grant: Some(DirGrant {
                host_path: out.path().to_owned(),
                guest_path: "/data".into(),
                read_only: false,
            }),
            ..WasmSinkOptions::default()
        },
    );
    let pipeline = Pipeline::builder()
        .data_dir(out.path().join("data"))
        .batch(BatchOptions {
            max_records: 256,
            max_bytes: 1 << 20,
            timeout: Duration::from_millis(10),
        })
        .sink("tag", sink)
        .build()?;
    let done = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (pipeline, done) = (pipeline.clone(), done.clone());
        std::thread::spawn(move || {
            let mut pauses = Vec::new();
            let mut prepares = Vec::new();
            let every = RUN / (swaps as u32 + 1);
            for swap in 0..swaps {
                std::thread::sleep(every);
                if done.load(Ordering::Acquire) {
                    break;
                }
                let module = if swap % 2 == 0 { &v2 } else { &v1 };
                let report = pipeline
                    .reload_sink("tag", ModuleSource::Path(module.clone()))
                    .expect("a good module reloads");
                pauses.push(report.pause);
                prepares.push(report.prepare);
            }
            (pauses, prepares)
        })
    };
    let mut latencies_ns = Vec::with_capacity(400_000);
    let started = Instant::now();
    let mut i = 0usize;
    while started.elapsed() < RUN {
        for _ in 0..100 {
            let line = format!(r#"{{"i":{i},"level":"info","msg":"request served"}}"#);
            let t = Instant::now();
            pipeline.emit_json(line.as_bytes())?;
            latencies_ns.push(t.elapsed().as_nanos() as u64);
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done.store(true, Ordering::Release);
    let (pauses, prepares) = swapper.join().expect("the swapper thread");
    pipeline.shutdown();
    let count = |name: &str| {
        std::fs::read_to_string(out.path().join(name))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    };
    Ok(RunResult {
        latencies_ns,
        emitted: i,
        delivered: count("v1.ndjson") + count("v2.ndjson"),
        pauses,
        prepares,
    })
}

fn main() -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let engine = WasmEngine::new(Some(cache.path().to_owned()))?;
    // Warm the compile cache, as a module already deployed once would be.
    engine.load(&guest("tag-sink-v1"))?;
    engine.load(&guest("tag-sink-v2"))?;
    let mut summary = serde_json::Map::new();
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>6}",
        "run", "p50 µs", "p99 µs", "max µs", "emitted", "delivered", "swaps"
    );
    for (label, swaps) in [("no swaps", 0), ("20 swaps", SWAPS)] {
        let mut result = run(&engine, swaps)?;
        result.latencies_ns.sort_unstable();
        let (p50, p99, max) = (
            percentile(&result.latencies_ns, 0.50),
            percentile(&result.latencies_ns, 0.99),
            *result.latencies_ns.last().unwrap_or(&0) as f64 / 1e3,
        );
        println!(
            "{label:<10} {p50:>9.2} {p99:>9.2} {max:>9.0} {:>9} {:>10} {:>6}",
            result.emitted,
            result.delivered,
            result.pauses.len()
        );
        let lost = result.emitted as i64 - result.delivered as i64;
        assert_eq!(lost, 0, "{label}: records lost or doubled across swaps");
        let slowest_pause = result.pauses.iter().max().copied().unwrap_or_default();
        let slowest_prepare = result.prepares.iter().max().copied().unwrap_or_default();
        if swaps > 0 {
            println!(
                "  slowest swap: worker pause {:.2} ms (flush + stop of the old instance), prepare {:.2} ms (cached compile + instantiate + start, off the emit path)",
                slowest_pause.as_secs_f64() * 1e3,
                slowest_prepare.as_secs_f64() * 1e3
            );
        }
        summary.insert(
            label.replace(' ', "_"),
            serde_json::json!({
                "emit_latency_us": { "p50": p50, "p99": p99, "max": max },
                "emitted": result.emitted,
                "delivered": result.delivered,
                "lost": lost,
                "swaps": result.pauses.len(),
                "slowest_swap_pause_ms": slowest_pause.as_secs_f64() * 1e3,
                "slowest_prepare_ms": slowest_prepare.as_secs_f64() * 1e3,
            }),
        );
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("hot_reload.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("wrote {}", out.join("hot_reload.json").display());
    Ok(())
}
