//! Native vs wasm sink throughput with the same trivial counting logic.
//!
//! `cargo xtask bench` builds the guests and runs this in release mode. For
//! batch sizes 1, 64 and 1024 of ~100-byte records it measures records/s
//! through `Sink::write` for the native counter and for the `count-sink`
//! component (one call per batch, one copy into the guest), interleaving the
//! two so both see the same machine noise, and prints the wasm/native ratio.
//! It also measures the whole pipeline at batch 1024 and component start
//! times (cold compile, cached load, instantiate + start), and the pipeline
//! at batches of 1 and 64 with and without merged batches. Results go to
//! `target/bench/sink_throughput.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sinkbox::pipeline::BatchOptions;
use sinkbox::wasm::{WasmEngine, WasmSink, WasmSinkOptions};
use sinkbox::{Batch, Pipeline, Sink, SinkError, WriteOutcome};

/// The native twin of `tests/guests/count-sink`.
struct NativeCountSink {
    records: u64,
    bytes: u64,
}

impl NativeCountSink {
    fn boxed() -> Box<dyn Sink> {
        Box::new(NativeCountSink {
            records: 0,
            bytes: 0,
        })
    }
}

impl Sink for NativeCountSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        for record in batch.records() {
            self.records += 1;
            self.bytes += record.len() as u64;
        }
        WriteOutcome::Accepted
    }
}

const BATCH_SIZES: [usize; 3] = [1, 64, 1024];
const ROUNDS: usize = 5;
/// Each round runs at least this long, so per-call overhead dominates timer noise.
const ROUND_TIME: Duration = Duration::from_millis(300);

fn record(i: usize) -> String {
    // ~100 bytes, shaped like a log line.
    let r = format!(
        r#"{{"ts":"2026-11-22T10:00:00Z","level":"info","msg":"request served","route":"/api/items","id":"{i:08}"}}"#
    );
    debug_assert!((95..=105).contains(&r.len()));
    r
}

fn batches(size: usize) -> Vec<Batch> {
    let total = 64 * 1024;
    (0..total / size)
        .map(|b| Batch::from_records((0..size).map(|i| record(b * size + i)), (b * size) as u64))
        .collect()
}

/// Records per second of one round of `sink.write` over `batches`.
fn round(sink: &mut dyn Sink, batches: &[Batch]) -> f64 {
    let start = Instant::now();
    let mut records = 0u64;
    while start.elapsed() < ROUND_TIME {
        for batch in batches {
            assert_eq!(sink.write(batch), WriteOutcome::Accepted);
            records += u64::from(batch.len());
        }
    }
    records as f64 / start.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn guest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release/count_sink.wasm")
}

/// Records per second from `emit_json` to `sink` through batches of
/// `max_records` (the producer blocks while the sink's queue is full).
fn pipeline_rate(sink: Box<dyn Sink>, records: &[String], max_records: u32) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records,
            max_bytes: 1 << 24,
            timeout: Duration::from_secs(1),
        })
        .sink_spec(sinkbox::SinkSpec::boxed("bench", sink))
        .build()
        .unwrap();
    let start = Instant::now();
    for record in records {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    let stats = pipeline.shutdown();
    assert_eq!(stats[0].records, records.len() as u64);
    records.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let path = guest_path();
    anyhow::ensure!(
        path.exists(),
        "{} is missing; run `cargo xtask bench`, which builds it",
        path.display()
    );
    let cache = tempfile::tempdir()?;

    // Start times: cold compile, cached load (a new engine, as a new process
    // would have), and instantiate + start.
    let t = Instant::now();
    let cold = WasmEngine::new(Some(cache.path().to_owned()))?.load(&path)?;
    let cold_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(!cold.from_cache());
    let engine = WasmEngine::new(Some(cache.path().to_owned()))?;
    let t = Instant::now();
    let component = engine.load(&path)?;
    let cached_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(component.from_cache());
    let mut wasm = WasmSink::new("count", component.clone(), WasmSinkOptions::default());
    let t = Instant::now();
    wasm.start()?;
    let instantiate_ms = t.elapsed().as_secs_f64() * 1e3;

    let mut native = NativeCountSink {
        records: 0,
        bytes: 0,
    };
    println!(
        "component start: cold compile {cold_ms:.1} ms, cached load {cached_ms:.2} ms, instantiate+start {instantiate_ms:.3} ms"
    );
    println!(
        "{:>6} {:>16} {:>16} {:>11}",
        "batch", "native rec/s", "wasm rec/s", "wasm/native"
    );
    let mut rows = Vec::new();
    for size in BATCH_SIZES {
        let batches = batches(size);
        let (mut n, mut w) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            n.push(round(&mut native, &batches));
            w.push(round(&mut wasm, &batches));
        }
        let (n, w) = (median(n), median(w));
        println!("{size:>6} {n:>16.0} {w:>16.0} {:>11.3}", w / n);
        rows.push(serde_json::json!({
            "batch": size, "native_records_per_sec": n, "wasm_records_per_sec": w, "ratio": w / n
        }));
    }

    // Read the native counters, as the guest does at stop, so the optimizer
    // cannot drop the counting loop as dead code.
    println!(
        "native sink counted {} records, {} bytes",
        native.records, native.bytes
    );

    let records: Vec<String> = (0..500_000).map(record).collect();
    let (mut n, mut w) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        n.push(pipeline_rate(NativeCountSink::boxed(), &records, 1024));
        w.push(pipeline_rate(
            Box::new(WasmSink::new(
                "count",
                component.clone(),
                WasmSinkOptions::default(),
            )),
            &records,
            1024,
        ));
    }
    let (pn, pw) = (median(n), median(w));
    println!(
        "pipeline (emit_json -> batch 1024 -> sink): native {pn:.0} rec/s, wasm {pw:.0} rec/s, ratio {:.3}",
        pw / pn
    );

    // Small batches under load: the wasm sink one call per batch
    // (merge_max_bytes = 0) and with queued batches merged (the default).
    // Merging pays off where the sink, not the producer, is the bottleneck.
    let wasm_sink = |merge_max_bytes| -> Box<dyn Sink> {
        Box::new(WasmSink::new(
            "count",
            component.clone(),
            WasmSinkOptions {
                merge_max_bytes,
                ..WasmSinkOptions::default()
            },
        ))
    };
    let default_merge = WasmSinkOptions::default().merge_max_bytes;
    let mut small_batches = serde_json::Map::new();
    for max_records in [1u32, 64] {
        let (mut n, mut single, mut merged) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            n.push(pipeline_rate(
                NativeCountSink::boxed(),
                &records,
                max_records,
            ));
            single.push(pipeline_rate(wasm_sink(0), &records, max_records));
            merged.push(pipeline_rate(
                wasm_sink(default_merge),
                &records,
                max_records,
            ));
        }
        let (native, single, merged) = (median(n), median(single), median(merged));
        println!(
            "pipeline at batch {max_records}: native {native:.0} rec/s, wasm one call per batch {single:.0} rec/s ({:.3}), wasm merged {merged:.0} rec/s ({:.3}); merged/unmerged {:.2}x",
            single / native,
            merged / native,
            merged / single
        );
        small_batches.insert(
            format!("pipeline_batch_{max_records}"),
            serde_json::json!({
                "native_records_per_sec": native,
                "wasm_unmerged_records_per_sec": single,
                "wasm_merged_records_per_sec": merged,
                "unmerged_ratio": single / native,
                "merged_ratio": merged / native,
                "merged_over_unmerged": merged / single,
            }),
        );
    }

    let summary = serde_json::json!({
        "record_bytes": record(0).len(),
        "sink_write": rows,
        "pipeline_batch_1024": { "native_records_per_sec": pn, "wasm_records_per_sec": pw, "ratio": pw / pn },
        "pipeline_small_batches": small_batches,
        "component_start_ms": { "cold_compile": cold_ms, "cached_load": cached_ms, "instantiate_and_start": instantiate_ms },
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("sink_throughput.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("wrote {}", out.join("sink_throughput.json").display());
    Ok(())
}
