//! The sandboxed `elasticsearch-sink` (Rust, over the host's `wasi:http`
//! and its grant) against a native Rust client sending the same `_bulk`
//! requests, into the same loopback receiver (tiny_http in this process,
//! reading every body and answering a `_bulk` reply without errors):
//! records/s and process CPU time per record, batches of 1024 records of
//! ~100 bytes, median of 3 interleaved rounds. Results go to
//! `target/bench/wasm_http.json`.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use sinkbox::wasm::{
    HttpGrant, SinkEgress, WasmEngine, WasmSink, WasmSinkOptions, parse_allow_entry,
};
use sinkbox::{Batch, Sink, WriteOutcome};
use support::{cpu_time, loopback_receiver, median};

const BATCH: usize = 1024;
const BATCHES: usize = 100;
const ROUNDS: usize = 3;
const REPLY: &str = r#"{"took":1,"errors":false,"items":[]}"#;

fn record(i: usize) -> String {
    format!(
        r#"{{"ts":"2026-11-22T10:00:00Z","level":"info","msg":"request served","route":"/api/items","id":"{i:08}"}}"#
    )
}

fn measure(batches: &[Batch], mut send: impl FnMut(&Batch)) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    for batch in batches {
        send(batch);
    }
    let records = (batches.len() * BATCH) as f64;
    (
        records / wall.elapsed().as_secs_f64(),
        (cpu_time() - cpu).as_secs_f64() * 1e6 / records,
    )
}

fn main() {
    let (port, _server) = loopback_receiver(REPLY);
    let bulk = format!("http://127.0.0.1:{port}/_bulk");
    let batches: Vec<Batch> = (0..BATCHES)
        .map(|b| {
            Batch::from_records(
                (0..BATCH).map(|i| record(b * BATCH + i)),
                (b * BATCH) as u64,
            )
        })
        .collect();

    let engine = WasmEngine::new(Some(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-cache"),
    ))
    .unwrap();
    let component = engine
        .load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/wasm32-wasip2/release/elasticsearch_sink.wasm"),
        )
        .expect("build the sinks first: cargo xtask bench does");
    let grant = HttpGrant::new(vec![
        parse_allow_entry(&bulk, &|_| Err("no secrets".into())).unwrap(),
    ]);
    let mut sandboxed = WasmSink::new(
        "es",
        component,
        WasmSinkOptions {
            config: vec![
                ("url".into(), bulk.clone()),
                ("index".into(), "bench".into()),
            ],
            http: Some(Arc::new(SinkEgress::new("es", grant).unwrap())),
            ..WasmSinkOptions::default()
        },
    );
    sandboxed.start().unwrap();

    // The native reference: the same body, built the same way, sent with
    // the same client library the host uses.
    let client = reqwest::blocking::Client::new();
    let action = serde_json::json!({"index": {"_index": "bench"}}).to_string();
    let mut body = Vec::new();
    let mut native_send = |batch: &Batch| {
        body.clear();
        for record in batch.records() {
            body.extend_from_slice(action.as_bytes());
            body.push(b'\n');
            body.extend_from_slice(record);
            body.push(b'\n');
        }
        let response = client
            .post(&bulk)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .unwrap();
        assert!(response.status().is_success());
        let reply: serde_json::Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
        assert_eq!(reply["errors"], false);
    };
    let (mut native, mut wasm) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        native.push(measure(&batches, &mut native_send));
        wasm.push(measure(&batches, |batch| {
            assert_eq!(sandboxed.write(batch), WriteOutcome::Accepted)
        }));
    }
    let (native, wasm) = (median(native), median(wasm));
    println!(
        "\nelasticsearch _bulk into a loopback receiver, batches of {BATCH} (median of {ROUNDS})"
    );
    println!(
        "{:<34} {:>12} {:>14} {:>8}",
        "", "records/s", "CPU µs/record", "ratio"
    );
    for (name, (rate, cpu)) in [
        ("native Rust client (reqwest)", native),
        ("elasticsearch-sink (wasm, wasi:http)", wasm),
    ] {
        println!(
            "{name:<34} {rate:>12.0} {cpu:>14.3} {:>8.2}",
            rate / native.0
        );
    }
    let stats = sandboxed.http_stats();
    println!(
        "sandboxed sink: {} requests, {} bytes out",
        stats.requests, stats.bytes_out
    );
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    let json = serde_json::json!({
        "batch": BATCH,
        "native": {"records_per_s": native.0, "cpu_us_per_record": native.1},
        "elasticsearch_sink": {"records_per_s": wasm.0, "cpu_us_per_record": wasm.1, "ratio": wasm.0 / native.0},
    });
    std::fs::write(
        out.join("wasm_http.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}
