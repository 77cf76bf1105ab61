//! The memory-mapped writer against `BufWriter<File>` and a plain `memcpy`
//! of the same bytes (the physical limit), ~100-byte records, 1 GiB each.
//!
//! Run by `cargo xtask bench` after `sink_throughput`; adds its figures to
//! `target/bench/native_writers.json`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use sinkbox::sinks::{
    FileMode, MmapWriter, MmapWriterOptions, RotatingFileSink, RotatingFileSinkOptions, SyncPolicy,
};
use sinkbox::{Batch, Sink, WriteOutcome};

const TOTAL: usize = 1 << 30;
const ROUNDS: usize = 3;

fn records() -> Vec<Vec<u8>> {
    (0..10_000)
        .map(|i| {
            format!(r#"{{"ts":"2026-11-22T10:00:00Z","level":"info","msg":"request served","route":"/api/items","id":"{i:08}"}}"#)
                .into_bytes()
        })
        .collect()
}

/// Calls `append` with records until `TOTAL` bytes (newlines included) went in.
fn drive(records: &[Vec<u8>], mut append: impl FnMut(&[u8])) -> usize {
    let mut written = 0;
    'outer: loop {
        for record in records {
            append(record);
            written += record.len() + 1;
            if written >= TOTAL {
                break 'outer;
            }
        }
    }
    written
}

fn gib_per_sec(bytes: usize, started: Instant) -> f64 {
    bytes as f64 / started.elapsed().as_secs_f64() / (1u64 << 30) as f64
}

fn mmap_round(dir: &Path, records: &[Vec<u8>]) -> f64 {
    let path = dir.join("mmap.ndjson");
    let options = MmapWriterOptions {
        sync: SyncPolicy::None,
        ..MmapWriterOptions::default()
    };
    let started = Instant::now();
    let mut writer = MmapWriter::open(&path, options).unwrap();
    let written = drive(records, |r| writer.append_line(r).unwrap());
    writer.close().unwrap();
    let rate = gib_per_sec(written, started);
    std::fs::remove_file(path).unwrap();
    rate
}

fn bufwriter_round(dir: &Path, records: &[Vec<u8>]) -> f64 {
    let path = dir.join("buf.ndjson");
    let started = Instant::now();
    let mut writer = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let written = drive(records, |r| {
        writer.write_all(r).unwrap();
        writer.write_all(b"\n").unwrap();
    });
    writer.flush().unwrap();
    drop(writer);
    let rate = gib_per_sec(written, started);
    std::fs::remove_file(path).unwrap();
    rate
}

fn memcpy_round(buffer: &mut [u8], records: &[Vec<u8>]) -> f64 {
    let started = Instant::now();
    let mut at = 0;
    let written = drive(records, |r| {
        let end = at + r.len();
        if end < buffer.len() {
            buffer[at..end].copy_from_slice(r);
            buffer[end] = b'\n';
            at = end + 1;
        }
    });
    std::hint::black_box(&buffer);
    gib_per_sec(written, started)
}

/// Records/s through `RotatingFileSink::write` for 256 MiB in batches of
/// 1024, and the seconds until `stop` returns (background gzip drained).
fn rotating_round(dir: &Path, records: &[Vec<u8>], max_bytes: u64, compress: bool) -> (f64, f64) {
    let path = dir.join(format!("rot-{compress}/app.log"));
    let mut sink = RotatingFileSink::new(RotatingFileSinkOptions {
        path: path.clone(),
        max_bytes: Some(max_bytes),
        interval: None,
        max_files: 100,
        compress,
        mode: FileMode::Json,
        sync_on_flush: false,
    });
    sink.start().unwrap();
    let batches: Vec<Batch> = records
        .chunks(1024)
        .map(|c| Batch::from_records(c, 0))
        .collect();
    let per_pass: usize = batches.iter().map(|b| b.bytes().len()).sum();
    let passes = (256 << 20) / per_pass + 1;
    let started = Instant::now();
    let mut count = 0u64;
    for _ in 0..passes {
        for batch in &batches {
            assert_eq!(sink.write(batch), WriteOutcome::Accepted);
            count += u64::from(batch.len());
        }
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    sink.stop();
    let drained = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    (rate, drained)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&target)?;
    let dir = tempfile::tempdir_in(&target)?;
    let records = records();
    // Touched once, so the memcpy round measures copying, not page faults.
    let mut buffer = vec![1u8; TOTAL + 4096];
    let (mut m, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        m.push(mmap_round(dir.path(), &records));
        b.push(bufwriter_round(dir.path(), &records));
        c.push(memcpy_round(&mut buffer, &records));
    }
    let (m, b, c) = (median(m), median(b), median(c));
    println!("1 GiB of ~100-byte records, median of {ROUNDS}:");
    println!("  MmapWriter        {m:6.2} GiB/s");
    println!(
        "  BufWriter<File>   {b:6.2} GiB/s   mmap/bufwriter {:.2}x",
        m / b
    );
    println!(
        "  memcpy            {c:6.2} GiB/s   mmap/memcpy    {:.2}x",
        m / c
    );

    let (plain, plain_done) = rotating_round(dir.path(), &records, 1 << 40, false);
    let (gz, gz_done) = rotating_round(dir.path(), &records, 64 << 20, true);
    println!("rotating_file, 256 MiB in batches of 1024:");
    println!("  no rotation                  {plain:12.0} rec/s (done in {plain_done:.2} s)");
    println!(
        "  rotate every 64 MiB + gzip   {gz:12.0} rec/s ({:.2}x; gzip drained {gz_done:.2} s after the start)",
        gz / plain
    );
    let summary = serde_json::json!({
        "mmap_gib_per_sec": m, "bufwriter_gib_per_sec": b, "memcpy_gib_per_sec": c,
        "mmap_over_bufwriter": m / b, "mmap_over_memcpy": m / c,
        "rotating_file_records_per_sec": { "no_rotation": plain, "rotate_64mib_gzip": gz, "ratio": gz / plain },
        "rotating_file_gzip_drained_secs": gz_done,
    });
    std::fs::write(
        target.join("native_writers.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    Ok(())
}
