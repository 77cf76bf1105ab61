//! The HTTP sources against their references, each side run by the
//! release `sinkbox` binary into a `file` sink, rounds interleaved and the
//! median of 3 reported:
//! - `http_server` (`ack = "delivered"`): 4 client connections posting
//!   NDJSON bodies of 1,000 records of ~100 bytes, against the same
//!   records through `sinkbox run --input FILE` (process start included,
//!   a few milliseconds); with the p50 and p99 time from a request sent to
//!   its 200 (the records then in the file);
//! - `otlp` (protobuf, `ack = "delivered"`): the same 4 clients posting
//!   `ExportLogsServiceRequest`s of 1,000 log records, against a plain
//!   loop decoding the same bodies with `prost` (written here from the
//!   published `opentelemetry-proto`), which is all a receiver must do
//!   before it has the records.
//!
//! - `nats`: 100,000 messages in a JetStream stream, consumed by one
//!   `sinkbox run` with a `nats` source into a `file` sink, each message
//!   acknowledged once its record is in the file, against a plain
//!   async-nats loop that fetches batches of 500, writes them to a file
//!   and acknowledges them; and two `sinkbox run` processes sharing the
//!   consumer against one (a `nats-server -js` on loopback, started here).
//!
//! Results go to `target/bench/sources.json`.

// Shared by the benches; this one uses `median` and the OTLP messages.
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;

const RECORDS_PER_BODY: usize = 1000;
const BODIES: usize = 300;
const CLIENTS: usize = 4;
const ROUNDS: usize = 3;
const TOTAL: usize = RECORDS_PER_BODY * BODIES;

use support::otlp_proto as otlp;

fn record(i: usize) -> String {
    format!(
        r#"{{"ts":"2026-11-22T10:00:00Z","level":"info","msg":"request served","route":"/api/items","id":"{i:08}"}}"#
    )
}

fn ndjson_bodies() -> Vec<bytes::Bytes> {
    (0..BODIES)
        .map(|b| {
            let mut body = String::with_capacity(RECORDS_PER_BODY * 110);
            for i in 0..RECORDS_PER_BODY {
                body.push_str(&record(b * RECORDS_PER_BODY + i));
                body.push('\n');
            }
            body.into()
        })
        .collect()
}

fn otlp_bodies() -> Vec<bytes::Bytes> {
    let text = |s: String| {
        Some(otlp::AnyValue {
            string_value: Some(s),
        })
    };
    (0..BODIES)
        .map(|b| {
            let log_records = (0..RECORDS_PER_BODY)
                .map(|i| otlp::LogRecord {
                    time_unix_nano: 1_795_860_000_000_000_000,
                    severity_number: 9,
                    severity_text: "info".into(),
                    body: text("request served".into()),
                    attributes: vec![
                        otlp::KeyValue {
                            key: "route".into(),
                            value: text("/api/items".into()),
                        },
                        otlp::KeyValue {
                            key: "id".into(),
                            value: text(format!("{:08}", b * RECORDS_PER_BODY + i)),
                        },
                    ],
                    trace_id: vec![0x5b; 16],
                    span_id: vec![0xee; 8],
                    ..Default::default()
                })
                .collect();
            otlp::ExportLogsServiceRequest {
                resource_logs: vec![otlp::ResourceLogs {
                    resource: Some(otlp::Resource {
                        attributes: vec![otlp::KeyValue {
                            key: "service.name".into(),
                            value: text("bench".into()),
                        }],
                    }),
                    scope_logs: vec![otlp::ScopeLogs { log_records }],
                }],
            }
            .encode_to_vec()
            .into()
        })
        .collect()
}

fn sinkbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sinkbox"))
}

/// A configuration with one `file` sink writing `out.ndjson` in `dir`,
/// and `source` (a `[sources.in]` table body, or nothing).
fn config(dir: &Path, source: Option<&str>) -> PathBuf {
    let mut text = format!(
        "[runtime]\ndata_dir = \"{0}/data\"\n[sinks.out]\ntype = \"file\"\npath = \"{0}/out.ndjson\"\n",
        dir.display()
    );
    if let Some(source) = source {
        text.push_str(&format!(
            "[sources.in]\naddress = \"127.0.0.1:0\"\n{source}\n"
        ));
    }
    let path = dir.join("sinkbox.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `sinkbox run` serving the configuration's source: the process and the
/// URL it listens on.
fn serve(config: &Path) -> (Child, String) {
    let mut child = sinkbox()
        .args(["run", "--config"])
        .arg(config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("sinkbox said where it listens")
            .unwrap();
        if let Some((_, url)) = line.split_once("listening on ") {
            break url.trim().to_owned();
        }
    };
    // Keep reading (and dropping) its log so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

/// Stops a served `sinkbox run` the way an operator does (SIGTERM) and
/// waits for it to drain.
fn stop(mut child: Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

fn lines_in(path: &Path) -> usize {
    BufReader::new(std::fs::File::open(path).unwrap())
        .lines()
        .count()
}

/// Posts every body from `CLIENTS` connections at once: records/s and
/// each request's time to its 200.
fn post_all(
    url: &str,
    content_type: &'static str,
    bodies: &[bytes::Bytes],
) -> (f64, Vec<Duration>) {
    let bodies = Arc::new(bodies.to_vec());
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (url, bodies) = (url.to_owned(), bodies.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()
                    .unwrap();
                let mut waits = Vec::new();
                for body in bodies.iter().skip(c).step_by(CLIENTS) {
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("content-type", content_type)
                        .body(body.clone())
                        .send()
                        .unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                    response.bytes().unwrap();
                    waits.push(sent.elapsed());
                }
                waits
            })
        })
        .collect();
    let mut waits: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let rate = TOTAL as f64 / started.elapsed().as_secs_f64();
    waits.sort();
    (rate, waits)
}

/// One round through a served source: records/s and the answer times.
fn through_source(
    source: &str,
    content_type: &'static str,
    bodies: &[bytes::Bytes],
) -> (f64, Vec<Duration>) {
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = serve(&config(dir.path(), Some(source)));
    let measured = post_all(&url, content_type, bodies);
    stop(child);
    assert_eq!(lines_in(&dir.path().join("out.ndjson")), TOTAL);
    measured
}

/// One round of `sinkbox run --input FILE`: records/s, process start to
/// exit.
fn through_input(input: &Path) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), None);
    let started = Instant::now();
    let status = sinkbox()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let rate = TOTAL as f64 / started.elapsed().as_secs_f64();
    assert!(status.success());
    assert_eq!(lines_in(&dir.path().join("out.ndjson")), TOTAL);
    rate
}

/// One round of the plain loop: decode every OTLP body.
fn plain_decode(bodies: &[bytes::Bytes]) -> f64 {
    let started = Instant::now();
    let mut records = 0;
    for body in bodies {
        let request = otlp::ExportLogsServiceRequest::decode(&body[..]).unwrap();
        records += request.resource_logs[0].scope_logs[0].log_records.len();
    }
    assert_eq!(records, TOTAL);
    TOTAL as f64 / started.elapsed().as_secs_f64()
}

const NATS_MESSAGES: usize = 100_000;
const NATS_BATCH: usize = 500;

/// A throwaway `nats-server -js` on loopback; killed on drop.
struct NatsServer {
    child: Child,
    port: u16,
    _store: tempfile::TempDir,
}

impl NatsServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = tempfile::tempdir().unwrap();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (cargo xtask bench installs it)");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            _store: store,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A stream `name` holding the benchmark's messages.
fn fill_stream(server: &NatsServer, name: &str) {
    runtime().block_on(async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: name.into(),
                subjects: vec![format!("{name}.>")],
                ..Default::default()
            })
            .await
            .unwrap();
        let mut acks = Vec::new();
        for i in 0..NATS_MESSAGES {
            acks.push(
                jetstream
                    .publish(format!("{name}.app"), record(i).into())
                    .await
                    .unwrap(),
            );
            if acks.len() == 1000 {
                for ack in acks.drain(..) {
                    ack.await.unwrap();
                }
            }
        }
        for ack in acks {
            ack.await.unwrap();
        }
    })
}

/// How many of the stream's messages durable `consumer` has acknowledged.
async fn acknowledged(
    jetstream: &async_nats::jetstream::Context,
    stream: &str,
    consumer: &str,
) -> u64 {
    let Ok(stream) = jetstream.get_stream(stream).await else {
        return 0;
    };
    let Ok(mut consumer) = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer)
        .await
    else {
        return 0;
    };
    consumer
        .info()
        .await
        .map(|info| info.ack_floor.stream_sequence)
        .unwrap_or(0)
}

/// The plain loop: fetch a batch, write it to a file, acknowledge it.
fn plain_nats_loop(server: &NatsServer, stream: &str) -> f64 {
    use futures_util::StreamExt;
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(dir.path().join("out.ndjson")).unwrap());
    runtime().block_on(async {
        let started = Instant::now();
        let client = async_nats::connect(server.url()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        let consumer = jetstream
            .get_stream(stream)
            .await
            .unwrap()
            .get_or_create_consumer(
                "plain",
                async_nats::jetstream::consumer::pull::Config {
                    durable_name: Some("plain".into()),
                    ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut done = 0;
        while done < NATS_MESSAGES {
            let mut batch = consumer
                .fetch()
                .max_messages(NATS_BATCH)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .unwrap();
            let mut messages = Vec::with_capacity(NATS_BATCH);
            while let Some(Ok(message)) = batch.next().await {
                file.write_all(&message.payload).unwrap();
                file.write_all(b"\n").unwrap();
                messages.push(message);
            }
            file.flush().unwrap();
            for message in &messages {
                message.ack().await.unwrap();
            }
            done += messages.len();
        }
        // The last acks reach the server.
        while acknowledged(&jetstream, stream, "plain").await < NATS_MESSAGES as u64 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        NATS_MESSAGES as f64 / started.elapsed().as_secs_f64()
    })
}

/// `processes` `sinkbox run`s sharing one consumer on `stream`, each into
/// its own file: messages/s from the first start to the last
/// acknowledgement.
fn through_nats_source(server: &NatsServer, stream: &str, processes: usize) -> f64 {
    let dirs: Vec<_> = (0..processes)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let started = Instant::now();
    let children: Vec<Child> = dirs
        .iter()
        .map(|dir| {
            let config = config(dir.path(), None);
            let mut text = std::fs::read_to_string(&config).unwrap();
            text.push_str(&format!(
                "[sources.agg]\ntype = \"nats\"\nurl = \"{}\"\nstream = \"{stream}\"\nconsumer = \"agg\"\ncreate_consumer = true\nbatch_size = {NATS_BATCH}\n",
                server.url()
            ));
            std::fs::write(&config, text).unwrap();
            sinkbox()
                .args(["run", "--config"])
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let rate = runtime().block_on(async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        while acknowledged(&jetstream, stream, "agg").await < NATS_MESSAGES as u64 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        NATS_MESSAGES as f64 / started.elapsed().as_secs_f64()
    });
    for child in children {
        stop(child);
    }
    let lines: usize = dirs
        .iter()
        .map(|d| lines_in(&d.path().join("out.ndjson")))
        .sum();
    assert!(lines >= NATS_MESSAGES, "{lines} lines");
    rate
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1e3
}

fn main() {
    let ndjson = ndjson_bodies();
    let protobuf = otlp_bodies();
    let input_dir = tempfile::tempdir().unwrap();
    let input = input_dir.path().join("records.ndjson");
    std::fs::write(&input, ndjson.concat()).unwrap();
    let (mut http, mut input_rates, mut otlp_rates, mut decode) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut waits = Vec::new();
    for _ in 0..ROUNDS {
        input_rates.push((through_input(&input), 0.0));
        let (rate, round_waits) =
            through_source("type = \"http_server\"", "application/x-ndjson", &ndjson);
        http.push((rate, 0.0));
        waits.extend(round_waits);
        otlp_rates.push((
            through_source("type = \"otlp\"", "application/x-protobuf", &protobuf).0,
            0.0,
        ));
        decode.push((plain_decode(&protobuf), 0.0));
    }
    let nats = NatsServer::start();
    let (mut plain_nats, mut one, mut two) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for (side, rates) in [("P", &mut plain_nats), ("O", &mut one), ("T", &mut two)] {
            let stream = format!("B{round}{side}");
            fill_stream(&nats, &stream);
            let rate = match side {
                "P" => plain_nats_loop(&nats, &stream),
                "O" => through_nats_source(&nats, &stream, 1),
                _ => through_nats_source(&nats, &stream, 2),
            };
            rates.push((rate, 0.0));
        }
    }
    let (plain_nats, one, two) = (
        support::median(plain_nats).0,
        support::median(one).0,
        support::median(two).0,
    );
    waits.sort();
    let (input_rate, http_rate) = (support::median(input_rates).0, support::median(http).0);
    let (otlp_rate, decode_rate) = (support::median(otlp_rates).0, support::median(decode).0);
    let (p50, p99) = (percentile(&waits, 0.5), percentile(&waits, 0.99));
    println!(
        "\nsources into a file sink, {TOTAL} records, bodies of {RECORDS_PER_BODY}, {CLIENTS} clients (median of {ROUNDS})"
    );
    println!("{:<40} {:>12} {:>8}", "", "records/s", "ratio");
    println!(
        "{:<40} {input_rate:>12.0} {:>8.2}",
        "sinkbox run --input FILE", 1.0
    );
    println!(
        "{:<40} {http_rate:>12.0} {:>8.2}",
        "http_server, ack = delivered",
        http_rate / input_rate
    );
    println!(
        "{:<40} {decode_rate:>12.0} {:>8.2}",
        "plain OTLP protobuf decode loop", 1.0
    );
    println!(
        "{:<40} {otlp_rate:>12.0} {:>8.2}",
        "otlp source, protobuf, ack = delivered",
        otlp_rate / decode_rate
    );
    println!(
        "http_server request to 200 (ack = delivered, {RECORDS_PER_BODY} records): p50 {p50:.2} ms, p99 {p99:.2} ms"
    );
    println!(
        "\nnats: {NATS_MESSAGES} messages consumed into a file and acknowledged (median of {ROUNDS})"
    );
    println!(
        "{:<40} {plain_nats:>12.0} {:>8.2}",
        "plain async-nats fetch-write-ack loop", 1.0
    );
    println!(
        "{:<40} {one:>12.0} {:>8.2}",
        "one sinkbox, nats source",
        one / plain_nats
    );
    println!(
        "{:<40} {two:>12.0} {:>8.2}",
        "two sinkboxes sharing the consumer",
        two / one
    );
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    let json = serde_json::json!({
        "records": TOTAL,
        "records_per_body": RECORDS_PER_BODY,
        "clients": CLIENTS,
        "run_input": {"records_per_s": input_rate},
        "http_server": {"records_per_s": http_rate, "p50_ms": p50, "p99_ms": p99},
        "http_server_over_run_input": http_rate / input_rate,
        "plain_otlp_decode": {"records_per_s": decode_rate},
        "otlp_source": {"records_per_s": otlp_rate},
        "otlp_source_over_plain_decode": otlp_rate / decode_rate,
        "plain_nats_loop": {"messages_per_s": plain_nats},
        "nats_source": {"messages_per_s": one},
        "nats_source_over_plain_loop": one / plain_nats,
        "two_nats_sources": {"messages_per_s": two, "over_one": two / one},
    });
    std::fs::write(
        out.join("sources.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}
