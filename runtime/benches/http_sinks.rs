//! The `http` and `loki` sinks against a plain reqwest loop posting the
//! same batches, into the same loopback receiver (tiny_http, in this
//! process, reading every body and answering 200): records/s and process
//! CPU time per record, batches of 1024 records of ~110 bytes (each with
//! its own millisecond, a thousand a second); `http` as
//! NDJSON with gzip off and on, `loki` as snappy protobuf and as JSON (each
//! record read for its `level` label and `ts` timestamp). The `loki` sink
//! is also set against its own plain loop: one that builds the same
//! snappy protobuf push from labels and times extracted beforehand (what
//! the sink costs beyond the protocol itself), and the `otlp` sink
//! (protobuf) against a plain loop that builds the same export request
//! from time, severity, body and attributes extracted beforehand. Rounds
//! are interleaved and the median of 6 reported; a sink and its plain loop
//! run back to back (which goes first alternating, each first in three
//! rounds), and their ratio is the median of the rounds' ratios, so both
//! sides of a pair see the same machine noise.
//! Results go to `target/bench/http_sinks.json`.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Instant;

use sinkbox::sinks::{
    BatchFormat, Compression, HttpOptions, HttpSink, HttpSinkOptions, LineSizeAction, LogMapping,
    LokiEncoding, LokiSink, LokiSinkOptions, OtlpEncoding, OtlpSink, OtlpSinkOptions,
    OutOfOrderAction,
};
use sinkbox::{Batch, Sink, WriteOutcome};
use support::{back_to_back, cpu_time, loopback_receiver, median, paired_ratio};

const BATCH: usize = 1024;
const BATCHES: usize = 200;
/// Even: each side of a pair goes first equally often (going first
/// measurably helps on this machine kind).
const ROUNDS: usize = 6;

/// Loki's push messages, written here from its published `logproto`
/// (the sink's own types are private).
mod logproto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<Stream>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Stream {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<Entry>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub line: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// One record's OTLP slots, extracted beforehand for the plain loop.
struct OtlpFields {
    time: u64,
    severity: &'static str,
    body: &'static str,
    attributes: Vec<(&'static str, String)>,
}

/// The plain OTLP loop: builds the export request from `fields`, encodes
/// it and posts it.
fn plain_otlp_export(
    client: &reqwest::blocking::Client,
    url: &reqwest::Url,
    fields: &[OtlpFields],
) {
    use prost::Message;
    use support::otlp_proto::*;
    let text = |s: &str| {
        Some(AnyValue {
            string_value: Some(s.to_owned()),
        })
    };
    let log_records = fields
        .iter()
        .map(|record| LogRecord {
            time_unix_nano: record.time,
            observed_time_unix_nano: record.time,
            severity_number: 9,
            severity_text: record.severity.to_owned(),
            body: text(record.body),
            attributes: record
                .attributes
                .iter()
                .map(|(key, value)| KeyValue {
                    key: (*key).to_owned(),
                    value: text(value),
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: text("bench"),
                }],
            }),
            scope_logs: vec![ScopeLogs { log_records }],
        }],
    };
    let response = client
        .post(url.clone())
        .header("Content-Type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .unwrap();
    assert!(response.status().is_success());
}

/// The plain Loki loop: `labels` and `times` were extracted from the
/// records beforehand; it groups the batch into streams, copies each line,
/// encodes the push, compresses it and posts it.
fn plain_loki_push(
    client: &reqwest::blocking::Client,
    url: &reqwest::Url,
    batch: &Batch,
    labels: &[&'static str],
    times: &[u64],
) {
    use prost::Message;
    let mut streams: Vec<logproto::Stream> = Vec::new();
    for ((line, label), at) in batch.records().zip(labels).zip(times) {
        let stream = match streams.iter().position(|s| s.labels == *label) {
            Some(i) => &mut streams[i],
            None => {
                streams.push(logproto::Stream {
                    labels: (*label).to_owned(),
                    entries: Vec::with_capacity(batch.len() as usize),
                });
                streams.last_mut().unwrap()
            }
        };
        stream.entries.push(logproto::Entry {
            timestamp: Some(logproto::Timestamp {
                seconds: (at / 1_000_000_000) as i64,
                nanos: (at % 1_000_000_000) as i32,
            }),
            line: std::str::from_utf8(line).unwrap().to_owned(),
        });
    }
    let body = logproto::PushRequest { streams }.encode_to_vec();
    let body = snap::raw::Encoder::new().compress_vec(&body).unwrap();
    let response = client
        .post(url.clone())
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert!(response.status().is_success());
}

/// Record `i`'s time: a thousand records a second, each its own
/// millisecond (`2026-11-22T10:MM:SS.mmmZ`), in nanoseconds and as text.
fn time_of(i: usize) -> (u64, String) {
    let (minute, second, milli) = ((i / 60_000) % 60, (i / 1000) % 60, i % 1000);
    let nanos = 1_795_860_000_000_000_000u64
        + (minute as u64 * 60 + second as u64) * 1_000_000_000
        + milli as u64 * 1_000_000;
    (
        nanos,
        format!("2026-11-22T10:{minute:02}:{second:02}.{milli:03}Z"),
    )
}

fn record(i: usize) -> String {
    let (_, ts) = time_of(i);
    format!(
        r#"{{"ts":"{ts}","level":"info","msg":"request served","route":"/api/items","id":"{i:08}"}}"#
    )
}

/// (records/s, CPU µs per record) of one round.
fn measure(mut send: impl FnMut(&Batch)) -> (f64, f64) {
    let batches: Vec<Batch> = (0..BATCHES)
        .map(|b| {
            Batch::from_records(
                (0..BATCH).map(|i| record(b * BATCH + i)),
                (b * BATCH) as u64,
            )
        })
        .collect();
    let (wall, cpu) = (Instant::now(), cpu_time());
    for batch in &batches {
        send(batch);
    }
    let records = (BATCHES * BATCH) as f64;
    (
        records / wall.elapsed().as_secs_f64(),
        (cpu_time() - cpu).as_secs_f64() * 1e6 / records,
    )
}

fn main() {
    let (port, _server) = loopback_receiver("");
    let url: reqwest::Url = format!("http://127.0.0.1:{port}/ingest").parse().unwrap();
    let sink = |compression| {
        let mut http = HttpOptions::new(url.clone());
        http.healthcheck = false;
        http.compression = compression;
        http.max_events = BATCH as u32;
        let mut sink = HttpSink::new(HttpSinkOptions {
            http,
            format: BatchFormat::Ndjson,
            signing: None,
        });
        sink.start().unwrap();
        sink
    };
    let loki = |encoding| {
        let mut http = HttpOptions::new(url.clone());
        http.healthcheck = false;
        http.max_events = BATCH as u32;
        let mut sink = LokiSink::new(LokiSinkOptions {
            http,
            encoding,
            labels: vec![("job".into(), "bench".into())],
            label_keys: vec!["level".into()],
            max_label_values: 100,
            line_field: None,
            timestamp_field: Some("ts".into()),
            out_of_order: OutOfOrderAction::Accept,
            max_line_size: 256 << 10,
            line_size_action: LineSizeAction::Truncate,
        })
        .unwrap();
        sink.start().unwrap();
        sink
    };
    let mut otlp_sink = {
        let mut http = HttpOptions::new(url.clone());
        http.healthcheck = false;
        http.max_events = BATCH as u32;
        let mut sink = OtlpSink::new(OtlpSinkOptions {
            http,
            encoding: OtlpEncoding::Protobuf,
            resource: vec![("service.name".into(), "bench".into())],
            mapping: LogMapping {
                timestamp_field: "ts".into(),
                body_field: "msg".into(),
                ..LogMapping::default()
            },
        });
        sink.start().unwrap();
        sink
    };
    let mut plain_sink = sink(Compression::None);
    let mut gzip_sink = sink(Compression::Gzip);
    let mut loki_protobuf = loki(LokiEncoding::Protobuf);
    let mut loki_json = loki(LokiEncoding::Json);
    let client = reqwest::blocking::Client::new();
    let (mut plain, mut gzip, mut reference) = (Vec::new(), Vec::new(), Vec::new());
    let (mut loki_pb, mut loki_js, mut loki_plain) = (Vec::new(), Vec::new(), Vec::new());
    // What the plain Loki loop is handed: every record's stream and time,
    // already extracted (all records here are `info`), per batch.
    let labels = vec![r#"{job="bench", level="info"}"#; BATCH];
    let times: Vec<Vec<u64>> = (0..BATCHES)
        .map(|b| (0..BATCH).map(|i| time_of(b * BATCH + i).0).collect())
        .collect();
    let times_of = |batch: &Batch| &times[batch.first_sequence() as usize / BATCH];
    // What the plain OTLP loop is handed: every record's slots (the ids
    // vary per batch in the records; the same length here).
    let otlp_fields: Vec<OtlpFields> = (0..BATCH)
        .map(|i| OtlpFields {
            time: 1_795_860_000_000_000_000,
            severity: "info",
            body: "request served",
            attributes: vec![("route", "/api/items".into()), ("id", format!("{i:08}"))],
        })
        .collect();
    let (mut otlp, mut otlp_plain) = (Vec::new(), Vec::new());
    // `HTTP_SINKS_PROFILE=loki_plain` (or another sender below) runs that
    // sender alone for a while, for a profiler; nothing is printed.
    if let Ok(only) = std::env::var("HTTP_SINKS_PROFILE") {
        for _ in 0..10 {
            match only.as_str() {
                "loki_plain" => {
                    measure(|batch| plain_loki_push(&client, &url, batch, &labels, times_of(batch)))
                }
                "loki" => {
                    measure(|batch| assert_eq!(loki_protobuf.write(batch), WriteOutcome::Accepted))
                }
                "otlp_plain" => measure(|_| plain_otlp_export(&client, &url, &otlp_fields)),
                "otlp" => {
                    measure(|batch| assert_eq!(otlp_sink.write(batch), WriteOutcome::Accepted))
                }
                other => {
                    panic!("HTTP_SINKS_PROFILE={other}: one of loki_plain, loki, otlp_plain, otlp")
                }
            };
        }
        return;
    }
    for round in 0..ROUNDS {
        // Each sink and its plain loop back to back, the first of the pair
        // alternating by round.
        back_to_back(
            round,
            &mut || {
                otlp.push(measure(|batch| {
                    assert_eq!(otlp_sink.write(batch), WriteOutcome::Accepted)
                }))
            },
            &mut || otlp_plain.push(measure(|_| plain_otlp_export(&client, &url, &otlp_fields))),
        );
        back_to_back(
            round,
            &mut || {
                loki_pb.push(measure(|batch| {
                    assert_eq!(loki_protobuf.write(batch), WriteOutcome::Accepted)
                }))
            },
            &mut || {
                loki_plain.push(measure(|batch| {
                    plain_loki_push(&client, &url, batch, &labels, times_of(batch))
                }))
            },
        );
        reference.push(measure(|batch| {
            let response = client
                .post(url.clone())
                .header("Content-Type", "application/x-ndjson")
                .body(batch.bytes().to_vec())
                .send()
                .unwrap();
            assert!(response.status().is_success());
        }));
        plain.push(measure(|batch| {
            assert_eq!(plain_sink.write(batch), WriteOutcome::Accepted)
        }));
        gzip.push(measure(|batch| {
            assert_eq!(gzip_sink.write(batch), WriteOutcome::Accepted)
        }));
        loki_js.push(measure(|batch| {
            assert_eq!(loki_json.write(batch), WriteOutcome::Accepted)
        }));
    }
    let loki_over_plain = paired_ratio(&loki_pb, &loki_plain);
    let otlp_over_plain = paired_ratio(&otlp, &otlp_plain);
    let (reference, plain, gzip) = (median(reference), median(plain), median(gzip));
    let (loki_pb, loki_js, loki_plain) = (median(loki_pb), median(loki_js), median(loki_plain));
    println!(
        "\nhttp and loki sinks into a loopback receiver, batches of {BATCH} (median of {ROUNDS})"
    );
    println!(
        "{:<28} {:>12} {:>14} {:>10}",
        "", "records/s", "CPU µs/record", "ratio"
    );
    for (name, (rate, cpu)) in [
        ("plain reqwest loop", reference),
        ("http sink, no compression", plain),
        ("http sink, gzip", gzip),
        ("loki sink, snappy protobuf", loki_pb),
        ("loki sink, JSON", loki_js),
    ] {
        println!(
            "{name:<28} {rate:>12.0} {cpu:>14.3} {:>10.2}",
            rate / reference.0
        );
    }
    println!(
        "\nthe loki sink against a plain loop pushing the same protobuf from labels extracted beforehand"
    );
    for (name, (rate, cpu), ratio) in [
        ("plain loki push loop", loki_plain, 1.0),
        ("loki sink, snappy protobuf", loki_pb, loki_over_plain),
    ] {
        println!("{name:<28} {rate:>12.0} {cpu:>14.3} {ratio:>10.2}");
    }
    let (otlp, otlp_plain) = (median(otlp), median(otlp_plain));
    println!(
        "\nthe otlp sink against a plain loop exporting the same log records from slots extracted beforehand"
    );
    for (name, (rate, cpu), ratio) in [
        ("plain otlp export loop", otlp_plain, 1.0),
        ("otlp sink, protobuf", otlp, otlp_over_plain),
    ] {
        println!("{name:<28} {rate:>12.0} {cpu:>14.3} {ratio:>10.2}");
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    let json = serde_json::json!({
        "batch": BATCH,
        "reference": {"records_per_s": reference.0, "cpu_us_per_record": reference.1},
        "http_sink": {"records_per_s": plain.0, "cpu_us_per_record": plain.1, "ratio": plain.0 / reference.0},
        "http_sink_gzip": {"records_per_s": gzip.0, "cpu_us_per_record": gzip.1, "ratio": gzip.0 / reference.0},
        "loki_sink_protobuf": {"records_per_s": loki_pb.0, "cpu_us_per_record": loki_pb.1, "ratio": loki_pb.0 / reference.0},
        "loki_sink_json": {"records_per_s": loki_js.0, "cpu_us_per_record": loki_js.1, "ratio": loki_js.0 / reference.0},
        "loki_plain_push": {"records_per_s": loki_plain.0, "cpu_us_per_record": loki_plain.1},
        "loki_sink_over_plain_push": loki_over_plain,
        "otlp_plain_export": {"records_per_s": otlp_plain.0, "cpu_us_per_record": otlp_plain.1},
        "otlp_sink_protobuf": {"records_per_s": otlp.0, "cpu_us_per_record": otlp.1},
        "otlp_sink_over_plain_export": otlp_over_plain,
    });
    std::fs::write(
        out.join("http_sinks.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}
