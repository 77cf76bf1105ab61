//! A disk buffer against the memory queue, side by side in one run: one
//! sink that only counts, 400,000 records of ~100 bytes in batches of 1024,
//! through `emit_json` until `shutdown` returns. Reports records/s, the
//! p99 of one `emit` call, and the bytes written to the disk per record
//! (from the process's own write counter, `wchar` in `/proc/self/io`), for
//! the memory queue, `sync = "interval"` and `sync = "batch"`. Rounds are
//! interleaved and the median of 3 reported. Results go to
//! `target/bench/disk_buffer.json`.

use std::path::Path;
use std::time::{Duration, Instant};

use sinkbox::pipeline::{BatchOptions, DiskBufferOptions, SyncPolicy, WhenFull};
use sinkbox::{Batch, Pipeline, Sink, SinkError, SinkSpec, WriteOutcome};

const RECORDS: usize = 400_000;
const ROUNDS: usize = 3;

struct Counting;

impl Sink for Counting {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        std::hint::black_box(batch.len());
        WriteOutcome::Accepted
    }
}

fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("wchar: "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// (records/s, emit p99 in µs, bytes written per record).
fn round(buffer: Option<SyncPolicy>) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SinkSpec::new("out", Counting);
    if let Some(sync) = buffer {
        spec = spec.disk_buffer(DiskBufferOptions {
            max_size: 4 << 30,
            when_full: WhenFull::Block,
            sync,
            ..Default::default()
        });
    }
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 1024,
            max_bytes: 1 << 24,
            timeout: Duration::from_secs(3600),
        })
        .sink_spec(spec)
        .build()
        .unwrap();
    let records: Vec<String> = (0..RECORDS)
        .map(|i| format!(r#"{{"ts":"2026-12-02T10:00:00Z","level":"info","msg":"request served","route":"/api/items","id":"{i:08}"}}"#))
        .collect();
    let before = written_bytes();
    let mut emits = Vec::with_capacity(RECORDS);
    let started = Instant::now();
    for record in &records {
        let at = Instant::now();
        pipeline.emit_json(record.as_bytes()).unwrap();
        emits.push(at.elapsed());
    }
    let stats = pipeline.shutdown().remove(0);
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(stats.records, RECORDS as u64);
    let written = written_bytes().saturating_sub(before);
    emits.sort_unstable();
    let p99 = emits[emits.len() * 99 / 100].as_secs_f64() * 1e6;
    (
        RECORDS as f64 / elapsed,
        p99,
        written as f64 / RECORDS as f64,
    )
}

fn median(mut values: Vec<(f64, f64, f64)>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    values[values.len() / 2]
}

fn main() {
    let (mut memory, mut interval, mut batch) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        memory.push(round(None));
        interval.push(round(Some(SyncPolicy::Interval)));
        batch.push(round(Some(SyncPolicy::Batch)));
    }
    let (memory, interval, batch) = (median(memory), median(interval), median(batch));
    println!(
        "disk buffer vs memory queue, {RECORDS} records of ~100 bytes, batches of 1024 (median of {ROUNDS}):"
    );
    println!(
        "  {:<26} {:>12} {:>14} {:>16}",
        "", "records/s", "emit p99 µs", "bytes written/rec"
    );
    for (name, (rate, p99, bytes)) in [
        ("memory queue", memory),
        ("disk, sync = \"interval\"", interval),
        ("disk, sync = \"batch\"", batch),
    ] {
        println!(
            "  {name:<26} {rate:>12.0} {p99:>14.2} {bytes:>16.1}   {:.2}x memory",
            rate / memory.0
        );
    }
    let row = |(rate, p99, bytes): (f64, f64, f64)| serde_json::json!({"records_per_s": rate, "emit_p99_us": p99, "bytes_written_per_record": bytes, "ratio_to_memory": rate / memory.0});
    let json = serde_json::json!({
        "records": RECORDS,
        "memory": row(memory),
        "disk_sync_interval": row(interval),
        "disk_sync_batch": row(batch),
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("disk_buffer.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}
