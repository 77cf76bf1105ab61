//! Scale-out on JetStream, end to end with the real binary: three
//! `sinkbox run` processes share one durable consumer and deliver to one
//! HTTP receiver; one is killed with SIGKILL mid-run and started again.
//! Every record arrives, duplicates stay within the documented bound (the
//! killed process's batches in flight: 4 × `batch_size`), and each process
//! delivered a share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::nats_server::NatsServer;
use crate::recording_server::{Answer, RecordingServer};

const RECORDS: usize = 200_000;
const BATCH_SIZE: usize = 500;

#[test]
fn three_processes_share_a_stream_and_a_killed_one_loses_nothing() {
    let server = NatsServer::start(&[]);
    server.create_stream("LOGS", &["logs.>"]);
    server.publish("logs.app", (0..RECORDS).map(|i| format!("{{\"i\":{i}}}")));
    // Who delivered what: each process sends its name in a header.
    let delivered: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let receiver = {
        let delivered = delivered.clone();
        RecordingServer::start("127.0.0.1:0", move |request| {
            let process = request.header("x-process").unwrap_or("?").to_owned();
            let mut delivered = delivered.lock().unwrap();
            for line in String::from_utf8_lossy(&request.body).lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                delivered.push((process.clone(), record["i"].as_u64().unwrap() as usize));
            }
            Answer::ok()
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let config = |process: &str| {
        let data = dir.path().join(process);
        std::fs::create_dir_all(&data).unwrap();
        crate::support::config_file(
            &data,
            &format!(
                "[runtime]\ndata_dir = \"data\"\n\
                 [sources.agg]\ntype = \"nats\"\nurl = \"{}\"\nstream = \"LOGS\"\nconsumer = \"agg\"\n\
                 create_consumer = true\nack_wait = \"5s\"\nbatch_size = {BATCH_SIZE}\n\
                 [sinks.out]\ntype = \"http\"\nendpoint = \"{}/in\"\nbatch_format = \"ndjson\"\nhealthcheck = false\n\
                 headers = {{ \"X-Process\" = \"{process}\" }}\n",
                server.url(),
                receiver.base_url()
            ),
        )
    };
    let start = |process: &str| {
        let config = config(process);
        let mut child =
            crate::support::spawn_sinkbox_run(&["--config".as_ref(), config.as_os_str()]);
        let (stderr, _reader) = crate::support::collect_stderr(&mut child);
        crate::support::wait_until("the source to consume", || {
            stderr.lock().unwrap().contains("consuming nats")
        });
        (child, stderr)
    };
    let mut processes: Vec<_> = ["p1", "p2", "p3"].iter().map(|p| (*p, start(p))).collect();
    let unique = || {
        let delivered = delivered.lock().unwrap();
        let mut seen = vec![false; RECORDS];
        delivered
            .iter()
            .filter(|(_, i)| !std::mem::replace(&mut seen[*i], true))
            .count()
    };
    crate::support::wait_until("a quarter of the records to arrive", || {
        unique() >= RECORDS / 4
    });
    // SIGKILL: no drain, no acknowledgement of what p2 had in flight.
    let (_, (mut killed, _)) = processes.remove(1);
    killed.kill().unwrap();
    killed.wait().unwrap();
    processes.push(("p2", start("p2")));
    crate::support::wait_until("every record to arrive", || unique() == RECORDS);
    crate::support::wait_until("the stream to be acknowledged", || {
        let state = server.consumer_state("LOGS", "agg");
        state.ack_pending == 0 && state.pending == 0
    });
    for (name, (mut child, stderr)) in processes {
        let status = crate::support::terminate(&mut child);
        assert_eq!(status.code(), Some(0), "{name}: {}", stderr.lock().unwrap());
    }
    let delivered = delivered.lock().unwrap();
    let duplicates = delivered.len() - RECORDS;
    assert!(
        duplicates <= 4 * BATCH_SIZE,
        "{duplicates} duplicates; the bound is the killed process's batches in flight"
    );
    let mut shares: HashMap<&str, usize> = HashMap::new();
    for (process, _) in delivered.iter() {
        *shares.entry(process.as_str()).or_default() += 1;
    }
    eprintln!("{duplicates} duplicates; shares {shares:?}");
    for process in ["p1", "p2", "p3"] {
        assert!(
            shares.get(process).copied().unwrap_or(0) > 0,
            "{process} delivered nothing: {shares:?}"
        );
    }
}

/// A destination down for 30 s behind three consumers whose sinks have
/// disk buffers: what could not be delivered waits (in the buffers, and
/// in the stream once they and `max_ack_pending` are full), nothing goes
/// to dead letters, and everything arrives once it is back.
#[test]
fn a_destination_down_for_30_seconds_behind_three_consumers_loses_nothing() {
    use crate::recording_server::free_port;
    const COUNT: usize = 30_000;
    let server = NatsServer::start(&[]);
    server.create_stream("LOGS", &["logs.>"]);
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let consumers: Vec<_> = (0..3)
        .map(|n| {
            let p = crate::support::toml_pipeline(
                &dir.path().join(format!("c{n}")),
                &format!(
                    "[runtime]\ndata_dir = \"data\"\n\
                     [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/in\"\nbatch_format = \"ndjson\"\n\
                     healthcheck = false\nmax_retries = 100000\ninitial_backoff = \"50ms\"\nmax_backoff = \"500ms\"\n\
                     breaker_cool_down = \"200ms\"\nbuffer = {{ type = \"disk\" }}\n"
                ),
            );
            let mut options = crate::source_nats::options_for(&server, "agg");
            options.batch_size = 200;
            let source = sinkbox::sources::nats::start("in", p.clone(), options).unwrap();
            (p, source)
        })
        .collect();
    server.publish("logs.app", (0..COUNT).map(|i| format!("{{\"i\":{i}}}")));
    std::thread::sleep(Duration::from_secs(30));
    for (p, _) in &consumers {
        let stats = &p.stats()[0];
        assert_eq!(
            stats.dead_lettered, 0,
            "nothing dead-lettered during the outage: {stats:?}"
        );
    }
    let delivered: Arc<Mutex<Vec<usize>>> = Arc::default();
    let _receiver = {
        let delivered = delivered.clone();
        RecordingServer::start(&format!("127.0.0.1:{port}"), move |request| {
            let mut delivered = delivered.lock().unwrap();
            for line in String::from_utf8_lossy(&request.body).lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                delivered.push(record["i"].as_u64().unwrap() as usize);
            }
            Answer::ok()
        })
    };
    crate::support::wait_until("everything to arrive once the destination is back", || {
        let mut got = delivered.lock().unwrap().clone();
        got.sort_unstable();
        got.dedup();
        got.len() == COUNT
    });
    crate::support::wait_until("the stream to be acknowledged", || {
        let state = server.consumer_state("LOGS", "agg");
        state.ack_pending == 0 && state.pending == 0
    });
    for (p, source) in consumers {
        source.stop();
        let stats = p.shutdown().remove(0);
        assert_eq!(stats.dead_lettered, 0, "{stats:?}");
    }
    assert_eq!(
        delivered.lock().unwrap().len(),
        COUNT,
        "none twice: nobody died"
    );
}
