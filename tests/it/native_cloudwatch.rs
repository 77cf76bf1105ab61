//! The `cloudwatch` sink against the CloudWatch Logs API served by moto
//! (`moto_server.rs`): every record once in streams made from its fields
//! and in time order, events outside the service's window and oversized
//! records dead-lettered alone, an endpoint that is down at first, and the
//! secret key never printed. The splitter's limits, which moto does not
//! enforce, are unit-tested in `sinks/cloudwatch/event_batches.rs`.

use std::time::Duration;

use crate::moto_server::MotoServer;
use crate::support::free_port;
use crate::support::{dead_letters, toml_pipeline};

const GROUP: &str = "/sinkbox/test";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn pipeline(dir: &std::path::Path, endpoint: &str, batch: u32, extra: &str) -> sinkbox::Pipeline {
    std::fs::write(dir.join("aws.secret"), "moto-Secret-Key-99").unwrap();
    toml_pipeline(
        dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = {batch}\ntimeout = \"1h\"\n\
             [secrets]\naws = {{ file = \"aws.secret\" }}\n\
             [sinks.cw]\ntype = \"cloudwatch\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\nlog_group_name = \"{GROUP}\"\n\
             log_stream_name = \"app-{{service}}\"\naccess_key_id = \"AKIDSINKBOXTEST\"\nsecret_access_key = \"${{secret:aws}}\"\n\
             initial_backoff = \"50ms\"\nmax_backoff = \"500ms\"\nmax_retries = 1000\n{extra}\n"
        ),
    )
}

fn numbers(events: &[(i64, String)]) -> Vec<u64> {
    events
        .iter()
        .map(|(_, m)| {
            serde_json::from_str::<serde_json::Value>(m).unwrap()["i"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn every_record_arrives_once_in_its_stream_in_time_order() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &moto.endpoint(), 250, "");
    let base = now_ms() - 60_000;
    for i in 0..1000i64 {
        let service = ["api", "worker"][(i % 2) as usize];
        // Pairs out of order within a batch: each call is sorted by time.
        let at = base + i + if i % 4 < 2 { 2 } else { -2 };
        p.emit(&serde_json::json!({"i": i, "service": service, "timestamp": at}))
            .unwrap();
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (1000, 0), "{stats:?}");
    assert_eq!(moto.streams(GROUP), ["app-api", "app-worker"]);
    let mut all = Vec::new();
    for stream in ["app-api", "app-worker"] {
        let events = moto.events(GROUP, stream);
        assert_eq!(events.len(), 500, "{stream}");
        for (timestamp, message) in &events {
            let record: serde_json::Value = serde_json::from_str(message).unwrap();
            assert_eq!(*timestamp, record["timestamp"].as_i64().unwrap());
            assert_eq!(
                format!("app-{}", record["service"].as_str().unwrap()),
                stream
            );
        }
        all.extend(numbers(&events));
    }
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
}

#[test]
fn events_outside_the_window_and_oversized_records_are_dead_lettered_alone() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &moto.endpoint(),
        40,
        "oversized_event_action = \"reject\"\n",
    );
    let now = now_ms();
    let day = 24 * 3600 * 1000;
    for i in 0..100i64 {
        let (at, pad) = match i {
            3 | 4 => (now - 20 * day, String::new()),
            50 => (now + day, String::new()),
            77 => (now, "x".repeat(1_100_000)),
            _ => (now - 1000, String::new()),
        };
        p.emit(&serde_json::json!({"i": i, "service": "api", "timestamp": at, "pad": pad}))
            .unwrap();
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (96, 4), "{stats:?}");
    let mut delivered = numbers(&moto.events(GROUP, "app-api"));
    delivered.sort_unstable();
    let expected: Vec<u64> = (0..100).filter(|i| ![3, 4, 50, 77].contains(i)).collect();
    assert_eq!(delivered, expected);
    let letters = dead_letters(&dir.path().join("data/dead-letter/cw.ndjson"));
    let reasons: Vec<String> = letters
        .iter()
        .map(|l| l["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains("14 days"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("2 hours")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("oversized_event_action")),
        "{reasons:?}"
    );
}

#[test]
fn records_wait_for_an_endpoint_that_is_down_at_first() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &format!("http://127.0.0.1:{port}"), 50, "");
    let now = now_ms();
    for i in 0..300i64 {
        p.emit(&serde_json::json!({"i": i, "service": "api", "timestamp": now}))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1500));
    let moto = MotoServer::start_on(port);
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (300, 0), "{stats:?}");
    assert!(stats.retries > 0, "{stats:?}");
    let mut delivered = numbers(&moto.events(GROUP, "app-api"));
    delivered.sort_unstable();
    assert_eq!(delivered, (0..300).collect::<Vec<_>>());
}

#[test]
fn the_secret_key_is_never_printed() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("aws.secret"), "moto-Secret-Key-77").unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\ndata_dir = \"data\"\n[secrets]\naws = {{ file = \"aws.secret\" }}\n\
             [sinks.cw]\ntype = \"cloudwatch\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\nlog_group_name = \"{GROUP}\"\n\
             log_stream_name = \"cli\"\naccess_key_id = \"AKIDSINKBOXTEST\"\nsecret_access_key = \"${{secret:aws}}\"\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    let (succeeded, printed) =
        crate::support::run_config_with_input(&config, "trace", b"{\"i\":1}\n{\"i\":2}\n");
    assert!(succeeded, "{printed}");
    assert!(!printed.contains("moto-Secret-Key-77"), "{printed}");
    assert_eq!(numbers(&moto.events(GROUP, "cli")), [1, 2]);
}
