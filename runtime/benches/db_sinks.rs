//! The `postgres`, `nats` and `cloudwatch` sinks against plain client
//! loops doing the same work on the same servers, started here on loopback
//! (PostgreSQL and `nats-server -js` from Debian's packages, moto from
//! `target/tools/moto`; `cargo xtask bench` installs them): records/s
//! through a whole pipeline (batches of 1024) beside
//! - PostgreSQL: the sink in `copy` and `insert` mode beside tokio-postgres
//!   loops loading the same four columns with `COPY` and with a prepared
//!   `INSERT … SELECT FROM unnest(…)`, one transaction per 1024 rows, into
//!   tables of the shape the sink creates;
//! - NATS: async-nats JetStream publishes of 1024 messages with
//!   `Nats-Msg-Id`, then their acks; subjects and ids shaped as the sink's
//!   (`plain.api` captured by `plain.*`, ids of a run and a number), so the
//!   server does the same work per message for both;
//! - CloudWatch: reqwest `PutLogEvents` of 1024 events, unsigned (moto does
//!   not check signatures; the sink signs every call), 100 calls a round,
//!   each side's log group deleted after its round so moto's heap starts
//!   empty for the next.
//!
//! Rounds are interleaved and the median of 6 reported; each sink runs
//! back to back with its plain loop (which goes first alternating) and
//! their ratio is the median of the rounds' ratios. Results go to
//! `target/bench/db_sinks.json`. `DB_SINKS_ONLY=postgres` (or `nats`,
//! `cloudwatch`) runs one destination, for profiling; it writes no JSON.

#[path = "support/mod.rs"]
#[allow(dead_code)]
mod bench_support;

/// What the servers' harnesses (shared with the tests) ask of `support`.
mod support {
    pub fn workspace_root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    // Inside this inline module a path starts from `benches/support/`.
    #[path = "../../../tests/it/support/ports.rs"]
    mod ports;
    pub use ports::free_port;
}

#[path = "../../tests/it/moto_server.rs"]
#[allow(dead_code)]
mod moto_server;
#[path = "../../tests/it/nats_server.rs"]
#[allow(dead_code)]
mod nats_server;
#[path = "../../tests/it/postgres_server.rs"]
#[allow(dead_code)]
mod postgres_server;

use std::path::Path;
use std::time::Instant;

use bench_support::{back_to_back, median, paired_ratio};

const BATCH: usize = 1024;
/// Even: each side of a pair goes first equally often.
const ROUNDS: usize = 6;

fn record(i: usize) -> String {
    format!(
        r#"{{"timestamp":"2026-12-01T10:00:00Z","level":"info","message":"request served","route":"/api/items","service":"api","i":{i}}}"#
    )
}

/// Records/s of a whole pipeline built from `toml`, sending `n` records.
fn through_sinkbox(toml: &str, n: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(
            &format!("[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = {BATCH}\ntimeout = \"1h\"\n{toml}"),
            "bench.toml",
            dir.path(),
        )
        .load()
        .unwrap();
    let pipeline = sinkbox::config::build_pipeline(&config).unwrap();
    let started = Instant::now();
    for i in 0..n {
        pipeline.emit_json(record(i).as_bytes()).unwrap();
    }
    let stats = pipeline.shutdown().remove(0);
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(stats.records, n as u64, "{stats:?}");
    n as f64 / elapsed
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A table of the shape the sink creates (id, created_at, the four
/// columns, a timestamp index), so the server does the same work per row
/// for the loop as for the sink; like the sink's, it grows round by round.
fn sink_shaped_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
             id BIGSERIAL PRIMARY KEY,
             created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
             \"timestamp\" TIMESTAMPTZ, level TEXT, message TEXT, event JSONB NOT NULL);
         CREATE INDEX IF NOT EXISTS {name}_timestamp_idx ON {name} (\"timestamp\" DESC)"
    )
}

/// Rows/s of a plain tokio-postgres loop: one transaction per 1024 rows,
/// loaded with `COPY` or with one prepared `INSERT … SELECT FROM unnest`
/// of four text arrays.
fn plain_postgres(port: u16, mode: &str, n: usize) -> f64 {
    use futures_util::SinkExt;
    runtime().block_on(async {
        let (mut client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={port} user=postgres password={} dbname=postgres",
                postgres_server::PASSWORD
            ),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let table = format!("plain_{mode}");
        client.batch_execute(&sink_shaped_table(&table)).await.unwrap();
        let insert = client
            .prepare(&format!(
                "INSERT INTO {table} (\"timestamp\", level, message, event) \
                 SELECT t::timestamptz, l, m, e::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(t, l, m, e)"
            ))
            .await
            .unwrap();
        let started = Instant::now();
        for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
            let transaction = client.transaction().await.unwrap();
            if mode == "copy" {
                let mut lines = Vec::new();
                for &i in chunk {
                    let record = record(i).replace('\\', "\\\\");
                    lines.extend_from_slice(
                        format!("2026-12-01T10:00:00Z\tinfo\trequest served\t{record}\n").as_bytes(),
                    );
                }
                let sink = transaction
                    .copy_in(&format!("COPY {table} (\"timestamp\", level, message, event) FROM STDIN"))
                    .await
                    .unwrap();
                futures_util::pin_mut!(sink);
                sink.send(bytes::Bytes::from(lines)).await.unwrap();
                sink.finish().await.unwrap();
            } else {
                let times = vec!["2026-12-01T10:00:00Z"; chunk.len()];
                let levels = vec!["info"; chunk.len()];
                let messages = vec!["request served"; chunk.len()];
                let events: Vec<String> = chunk.iter().map(|&i| record(i)).collect();
                transaction
                    .execute(&insert, &[&times, &levels, &messages, &events])
                    .await
                    .unwrap();
            }
            transaction.commit().await.unwrap();
        }
        n as f64 / started.elapsed().as_secs_f64()
    })
}

/// `round` keeps the message ids of each round new: a repeated id inside
/// the stream's duplicate window is acknowledged without being stored.
fn plain_nats(url: &str, round: usize, n: usize) -> f64 {
    runtime().block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        jetstream
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: "PLAIN".into(),
                subjects: vec!["plain.*".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        // The sink's ids: its run (time, process, a counter) and a number.
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let run = format!("{millis:x}.{:x}.{round:x}", std::process::id());
        let started = Instant::now();
        for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
            let mut acks = Vec::with_capacity(BATCH);
            for &i in chunk {
                let publish = async_nats::jetstream::message::PublishMessage::build()
                    .payload(record(i).into())
                    .message_id(format!("{run}-{i}"));
                acks.push(jetstream.send_publish("plain.api", publish).await.unwrap());
            }
            for ack in acks {
                ack.await.unwrap();
            }
        }
        n as f64 / started.elapsed().as_secs_f64()
    })
}

/// One CloudWatch Logs call to moto, unsigned (moto reads only the access
/// key, for the account).
fn logs_call(
    client: &reqwest::blocking::Client,
    endpoint: &str,
    access_key: &str,
    action: &str,
    body: String,
) {
    let response = client
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("Logs_20140328.{action}"))
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .body(body)
        .send()
        .unwrap();
    let _ = response.bytes();
}

/// Empties moto of a group and its events, off the clock: moto keeps every
/// event as a Python object, and a heap grown by the other side of a pair
/// makes the garbage collector's pauses land on whoever runs next.
fn delete_log_group(endpoint: &str, access_key: &str, group: &str) {
    logs_call(
        &reqwest::blocking::Client::new(),
        endpoint,
        access_key,
        "DeleteLogGroup",
        serde_json::json!({ "logGroupName": group }).to_string(),
    );
}

fn plain_cloudwatch(endpoint: &str, stream: &str, n: usize) -> f64 {
    let client = reqwest::blocking::Client::new();
    let call = |action: &str, body: String| logs_call(&client, endpoint, "bench", action, body);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Timed from the group and a new stream on, as the sink makes its own
    // on its first write.
    let started = Instant::now();
    call("CreateLogGroup", r#"{"logGroupName":"/plain"}"#.into());
    call(
        "CreateLogStream",
        serde_json::json!({"logGroupName": "/plain", "logStreamName": stream}).to_string(),
    );
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let events: Vec<serde_json::Value> = chunk
            .iter()
            .map(|&i| serde_json::json!({"timestamp": now, "message": record(i)}))
            .collect();
        let body = serde_json::json!({"logGroupName": "/plain", "logStreamName": stream, "logEvents": events});
        call("PutLogEvents", body.to_string());
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // No background work to land on one side of a pair: no autovacuum, and
    // checkpoints only when asked for, before each side, off the clock.
    let postgres = postgres_server::PostgresServer::start_with(&[
        "autovacuum=off",
        "max_wal_size=10GB",
        "checkpoint_timeout=1d",
    ]);
    let nats = nats_server::NatsServer::start(&[]);
    let moto = moto_server::MotoServer::start();
    let pg_rows = 100 * BATCH;
    let nats_messages = 150 * BATCH;
    let cw_events = 100 * BATCH;
    let secret_dir = tempfile::tempdir().unwrap();
    let pw = secret_dir.path().join("pg");
    std::fs::write(&pw, postgres_server::PASSWORD).unwrap();
    let pg = |mode: &str| {
        format!(
            "[secrets]\npg = {{ file = \"{}\" }}\n[sinks.db]\ntype = \"postgres\"\n{}write_mode = \"{mode}\"\ntable_name = \"bench_{mode}\"\n",
            pw.display(),
            postgres.sink_toml()
        )
    };
    let (mut copy, mut insert) = (Vec::new(), Vec::new());
    let (mut plain_copy, mut plain_insert) = (Vec::new(), Vec::new());
    let (mut nats_sink, mut nats_plain, mut cw_sink, mut cw_plain) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let only = std::env::var("DB_SINKS_ONLY").ok();
    let runs = |destination: &str| only.as_deref().is_none_or(|o| o == destination);
    // Each sink and its plain loop run back to back, the first of the pair
    // alternating by round; a pair's ratio is the median of its rounds'.
    for round in 0..ROUNDS {
        if runs("postgres") {
            let checkpoint = || postgres.query("CHECKPOINT");
            for (mode, sink, plain) in [
                ("copy", &mut copy, &mut plain_copy),
                ("insert", &mut insert, &mut plain_insert),
            ] {
                back_to_back(
                    round,
                    &mut || {
                        checkpoint();
                        sink.push((through_sinkbox(&pg(mode), pg_rows), 0.0));
                    },
                    &mut || {
                        checkpoint();
                        plain.push((plain_postgres(postgres.port, mode, pg_rows), 0.0));
                    },
                );
            }
        }
        if runs("nats") {
            let sink_toml = format!(
                "[sinks.bus]\ntype = \"nats\"\nurl = \"{}\"\nsubject = \"bench.{{service}}\"\nstream = \"BENCH\"\n",
                nats.url()
            );
            back_to_back(
                round,
                &mut || nats_sink.push((through_sinkbox(&sink_toml, nats_messages), 0.0)),
                &mut || nats_plain.push((plain_nats(&nats.url(), round, nats_messages), 0.0)),
            );
        }
        if !runs("cloudwatch") {
            continue;
        }
        // The records' own time would be out of CloudWatch's window: use now.
        let sink_toml = format!(
            "[sinks.cw]\ntype = \"cloudwatch\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\nlog_group_name = \"/bench\"\nlog_stream_name = \"r{round}-{now}\"\naccess_key_id = \"AKIDBENCH\"\nsecret_access_key = \"bench\"\ntimestamp_field = \"none\"\n",
            moto.endpoint()
        );
        back_to_back(
            round,
            &mut || {
                cw_sink.push((through_sinkbox(&sink_toml, cw_events), 0.0));
                delete_log_group(&moto.endpoint(), "AKIDBENCH", "/bench");
            },
            &mut || {
                cw_plain.push((
                    plain_cloudwatch(&moto.endpoint(), &format!("p{round}-{now}"), cw_events),
                    0.0,
                ));
                delete_log_group(&moto.endpoint(), "bench", "/plain");
            },
        );
    }
    let ratio = |sink: &[(f64, f64)], plain: &[(f64, f64)]| {
        if sink.is_empty() {
            0.0
        } else {
            paired_ratio(sink, plain)
        }
    };
    let (copy_ratio, insert_ratio) = (ratio(&copy, &plain_copy), ratio(&insert, &plain_insert));
    let (nats_ratio, cw_ratio) = (ratio(&nats_sink, &nats_plain), ratio(&cw_sink, &cw_plain));
    if let Some(only) = only {
        println!(
            "{only}: ratios copy {copy_ratio:.2} insert {insert_ratio:.2} nats {nats_ratio:.2} cloudwatch {cw_ratio:.2}"
        );
        return;
    }
    let (copy, insert) = (median(copy).0, median(insert).0);
    let (plain_copy, plain_insert) = (median(plain_copy).0, median(plain_insert).0);
    let (nats_sink, nats_plain) = (median(nats_sink).0, median(nats_plain).0);
    let (cw_sink, cw_plain) = (median(cw_sink).0, median(cw_plain).0);
    println!("postgres, batches of {BATCH}, rows/s (median of {ROUNDS}):");
    println!("  sink, COPY        {copy:>10.0}   {copy_ratio:.2}x the plain COPY loop");
    println!(
        "  sink, INSERT      {insert:>10.0}   {insert_ratio:.2}x the plain INSERT loop, {:.2}x the sink's COPY",
        insert / copy
    );
    println!("  plain COPY loop   {plain_copy:>10.0}");
    println!("  plain INSERT loop {plain_insert:>10.0}");
    println!("nats JetStream, acked, messages/s:");
    println!("  sink            {nats_sink:>10.0}   {nats_ratio:.2}x the plain loop");
    println!("  plain loop      {nats_plain:>10.0}");
    println!("cloudwatch (moto), events/s:");
    println!("  sink            {cw_sink:>10.0}   {cw_ratio:.2}x the plain loop");
    println!("  plain loop      {cw_plain:>10.0}");
    let json = serde_json::json!({
        "batch": BATCH,
        "postgres_rows_per_s": {"sink_copy": copy, "sink_insert": insert,
            "plain_copy": plain_copy, "plain_insert": plain_insert,
            "copy_ratio": copy_ratio, "insert_ratio": insert_ratio},
        "nats_messages_per_s": {"sink": nats_sink, "plain": nats_plain, "ratio": nats_ratio},
        "cloudwatch_events_per_s": {"sink": cw_sink, "plain": cw_plain, "ratio": cw_ratio},
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("db_sinks.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}
