//! The HTTP tier, end to end with the real binary: an edge `sinkbox run`
//! sends 100,000 records through a disk-buffered `http` sink to an
//! aggregator's `http_server` source (`ack = "delivered"`), which delivers
//! to a receiver. The aggregator is killed with SIGKILL twice mid-run and
//! started again: every record arrives, repeats stay within the edge's
//! requests in flight at each kill.

use std::sync::{Arc, Mutex};

use crate::recording_server::{Answer, RecordingServer, free_port};

const RECORDS: usize = 100_000;
/// Records per request from the edge (its `max_events`).
const PER_REQUEST: usize = 1000;

#[test]
fn the_aggregator_killed_twice_loses_nothing_the_edge_sent() {
    let delivered: Arc<Mutex<Vec<usize>>> = Arc::default();
    let receiver = {
        let delivered = delivered.clone();
        RecordingServer::start("127.0.0.1:0", move |request| {
            let mut delivered = delivered.lock().unwrap();
            for line in String::from_utf8_lossy(&request.body).lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                delivered.push(record["i"].as_u64().unwrap() as usize);
            }
            Answer::ok()
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let aggregator_dir = dir.path().join("aggregator");
    std::fs::create_dir_all(&aggregator_dir).unwrap();
    let aggregator_config = crate::support::config_file(
        &aggregator_dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:{port}\"\npath = \"/ingest\"\nack = \"delivered\"\n\
             [sinks.out]\ntype = \"http\"\nendpoint = \"{}/in\"\nbatch_format = \"ndjson\"\nhealthcheck = false\n",
            receiver.base_url()
        ),
    );
    let start_aggregator = || {
        let mut child = crate::support::spawn_sinkbox_run(&[
            "--config".as_ref(),
            aggregator_config.as_os_str(),
        ]);
        let (stderr, _reader) = crate::support::collect_stderr(&mut child);
        crate::support::wait_until("the aggregator to listen", || {
            stderr.lock().unwrap().contains("listening on")
        });
        child
    };
    let edge_dir = dir.path().join("edge");
    std::fs::create_dir_all(&edge_dir).unwrap();
    let input = edge_dir.join("records.ndjson");
    let lines: String = (0..RECORDS).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    std::fs::write(&input, lines).unwrap();
    let edge_config = crate::support::config_file(
        &edge_dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sinks.aggregator]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/ingest\"\nbatch_format = \"ndjson\"\n\
             healthcheck = false\nmax_events = {PER_REQUEST}\nmax_retries = 100000\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n\
             breaker_cool_down = \"100ms\"\nbuffer = {{ type = \"disk\" }}\n"
        ),
    );
    let mut aggregator = start_aggregator();
    let mut edge = crate::support::sinkbox()
        .args(["run", "--shutdown-timeout", "300s", "--config"])
        .arg(&edge_config)
        .arg("--input")
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (edge_log, _edge_reader) = crate::support::collect_stderr(&mut edge);
    let arrived = || delivered.lock().unwrap().len();
    for fraction in [4, 2] {
        crate::support::wait_until("records to arrive before a kill", || {
            arrived() >= RECORDS / fraction
        });
        aggregator.kill().unwrap();
        aggregator.wait().unwrap();
        aggregator = start_aggregator();
    }
    let status = edge.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", edge_log.lock().unwrap());
    crate::support::terminate(&mut aggregator);
    let delivered = delivered.lock().unwrap();
    let mut unique = delivered.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), RECORDS, "every record at least once");
    let repeats = delivered.len() - RECORDS;
    eprintln!("{repeats} repeats");
    assert!(
        repeats <= 2 * PER_REQUEST,
        "{repeats} repeats; the bound is one edge request per kill"
    );
}
