//! The producer side: the `tracing` layer against the peer an application
//! would otherwise pick (`tracing-subscriber`'s JSON formatter into
//! `tracing-appender`'s lossless non-blocking writer), and `Pipeline::emit`
//! from one thread and from four.
//!
//! Every round writes the same events to one file and is timed until the
//! file holds all of them (the peer's guard dropped, the pipeline shut
//! down). Rounds of the two sides alternate, so both see the same noise.
//! Run by `cargo xtask bench`; writes `target/bench/producers.json`.

use std::path::Path;
use std::time::{Duration, Instant};

use sinkbox::pipeline::BatchOptions;
use sinkbox::sinks::{FileSink, FileSinkOptions};
use sinkbox::{Pipeline, SinkboxLayer};
use tracing_subscriber::prelude::*;

const EVENTS: u64 = 1_000_000;
/// Events timed one by one for the latency figures.
const TIMED: usize = 200_000;
const ROUNDS: usize = 3;

fn pipeline_to_file(path: &Path, data_dir: &Path) -> Pipeline {
    Pipeline::builder()
        .data_dir(data_dir)
        .batch(BatchOptions::default())
        .sink(
            "file",
            FileSink::new(FileSinkOptions {
                path: path.to_owned(),
                sync_on_flush: false,
            }),
        )
        .build()
        .unwrap()
}

/// The event both sides log: a message and three fields.
fn log_one(i: u64) {
    tracing::info!(target: "app::http", user = "ada", status = 200u64, request = i, "request served");
}

fn lines_in(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    memchr::memchr_iter(b'\n', &bytes).count() as u64
}

/// Events/s and the per-event latencies (ns, sorted) of the peer.
fn peer_round(dir: &Path) -> (f64, Vec<u64>) {
    let path = dir.join("peer.ndjson");
    let file = std::fs::File::create(&path).unwrap();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(file);
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(writer)
        .with_current_span(false)
        .with_span_list(false)
        .finish();
    let started = Instant::now();
    let latencies = tracing::subscriber::with_default(subscriber, || {
        for i in 0..EVENTS {
            log_one(i);
        }
        timed_events()
    });
    drop(guard);
    let rate = (EVENTS + TIMED as u64) as f64 / started.elapsed().as_secs_f64();
    assert_eq!(lines_in(&path), EVENTS + TIMED as u64);
    std::fs::remove_file(&path).unwrap();
    (rate, latencies)
}

/// The same for `SinkboxLayer` into a `file` sink.
fn layer_round(dir: &Path) -> (f64, Vec<u64>) {
    let path = dir.join("layer.ndjson");
    let pipeline = pipeline_to_file(&path, dir);
    let subscriber = tracing_subscriber::registry().with(SinkboxLayer::new(pipeline.clone()));
    let started = Instant::now();
    let latencies = tracing::subscriber::with_default(subscriber, || {
        for i in 0..EVENTS {
            log_one(i);
        }
        timed_events()
    });
    pipeline.shutdown();
    let rate = (EVENTS + TIMED as u64) as f64 / started.elapsed().as_secs_f64();
    assert_eq!(lines_in(&path), EVENTS + TIMED as u64);
    std::fs::remove_file(&path).unwrap();
    (rate, latencies)
}

fn timed_events() -> Vec<u64> {
    let mut latencies = Vec::with_capacity(TIMED);
    for i in 0..TIMED as u64 {
        let t = Instant::now();
        log_one(i);
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    latencies.sort_unstable();
    latencies
}

#[derive(serde::Serialize)]
struct Event<'a> {
    level: &'a str,
    message: &'a str,
    user: &'a str,
    status: u16,
    request: u64,
}

/// Events/s of `threads` producers emitting `EVENTS` in all, and their
/// per-emit latencies (ns, sorted, every thread's together).
fn emit_round(dir: &Path, threads: u64) -> (f64, Vec<u64>) {
    let path = dir.join(format!("emit-{threads}.ndjson"));
    let pipeline = pipeline_to_file(&path, dir);
    let per_thread = EVENTS / threads;
    let timed_per_thread = TIMED as u64 / threads;
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let pipeline = pipeline.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(timed_per_thread as usize);
                for i in 0..per_thread {
                    let event = Event {
                        level: "info",
                        message: "request served",
                        user: "ada",
                        status: 200,
                        request: i,
                    };
                    if i < timed_per_thread {
                        let t = Instant::now();
                        pipeline.emit(&event).unwrap();
                        latencies.push(t.elapsed().as_nanos() as u64);
                    } else {
                        pipeline.emit(&event).unwrap();
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    pipeline.shutdown();
    let rate = (per_thread * threads) as f64 / started.elapsed().as_secs_f64();
    assert_eq!(lines_in(&path), per_thread * threads);
    std::fs::remove_file(&path).unwrap();
    latencies.sort_unstable();
    (rate, latencies)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// The round with the median rate.
fn median_round(mut rounds: Vec<(f64, Vec<u64>)>) -> (f64, Vec<u64>) {
    rounds.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    rounds.swap_remove(rounds.len() / 2)
}

fn main() -> anyhow::Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&target)?;
    let dir = tempfile::tempdir_in(&target)?;
    // `PRODUCERS_PROFILE=layer` runs only the layer, for a profiler.
    if std::env::var("PRODUCERS_PROFILE").as_deref() == Ok("layer") {
        for _ in 0..ROUNDS {
            layer_round(dir.path());
        }
        return Ok(());
    }
    let (mut peer, mut layer, mut one, mut four) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        peer.push(peer_round(dir.path()));
        layer.push(layer_round(dir.path()));
        one.push(emit_round(dir.path(), 1));
        four.push(emit_round(dir.path(), 4));
        // Let the kernel write the files back between rounds.
        std::thread::sleep(Duration::from_millis(200));
    }
    let (peer, layer, one, four) = (
        median_round(peer),
        median_round(layer),
        median_round(one),
        median_round(four),
    );
    println!("{EVENTS} events + {TIMED} timed, one file each, median of {ROUNDS} rounds:");
    let print = |label: &str, r: &(f64, Vec<u64>), ratio: Option<(&str, f64)>| {
        let ratio = ratio.map_or(String::new(), |(name, value)| {
            format!("   {name} {value:.2}x")
        });
        println!(
            "  {label:<43} {:>10.0} ev/s  p50 {:>5} ns  p99 {:>6} ns{ratio}",
            r.0,
            percentile(&r.1, 0.5),
            percentile(&r.1, 0.99)
        );
    };
    print("tracing-subscriber json + tracing-appender", &peer, None);
    print(
        "SinkboxLayer -> file sink",
        &layer,
        Some(("layer/peer", layer.0 / peer.0)),
    );
    print("Pipeline::emit, 1 thread", &one, None);
    print(
        "Pipeline::emit, 4 threads",
        &four,
        Some(("4/1 threads", four.0 / one.0)),
    );
    let row = |r: &(f64, Vec<u64>)| {
        serde_json::json!({
            "events_per_sec": r.0,
            "p50_ns": percentile(&r.1, 0.5),
            "p99_ns": percentile(&r.1, 0.99),
        })
    };
    let summary = serde_json::json!({
        "events": EVENTS,
        "tracing_appender_json": row(&peer),
        "sinkbox_layer": row(&layer),
        "layer_over_tracing_appender": layer.0 / peer.0,
        "emit_1_thread": row(&one),
        "emit_4_threads": row(&four),
        "emit_4_over_1_threads": four.0 / one.0,
    });
    std::fs::write(
        target.join("producers.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    Ok(())
}
