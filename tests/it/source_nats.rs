//! The `nats` source on a real `nats-server -js` on loopback (started by
//! the tests): each message acknowledged only once its record is
//! delivered, kept in progress while a destination is slow (no
//! redelivery), invalid messages terminated and kept in the source's dead
//! letters, and two consumers with one name sharing the work.

use std::time::Duration;

use sinkbox::sources::nats::NatsSourceOptions;
use sinkbox::{Pipeline, SinkSpec};

use crate::nats_server::NatsServer;
use crate::support::{Gate, Recorder, RecordingSink};

/// A `nats` source's options for `server`'s stream `LOGS` and durable
/// `consumer` (created), as `--source` reads them.
pub fn options_for(server: &NatsServer, consumer: &str) -> NatsSourceOptions {
    options(server, consumer)
}

fn options(server: &NatsServer, consumer: &str) -> NatsSourceOptions {
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .cli_sink("stdout://")
        .cli_source(format!(
            "{}?stream=LOGS&consumer={consumer}&create_consumer=true&ack_wait=1s&batch_size=100&metadata_field=nats#in",
            server.url()
        ))
        .load()
        .unwrap();
    match &config.sources[0].kind {
        sinkbox::config::SourceKind::Nats(options) => options.clone(),
        other => panic!("{other:?}"),
    }
}

fn pipeline(dir: &std::path::Path, sink: RecordingSink) -> Pipeline {
    crate::support::pipeline_of(dir, 10_000, vec![SinkSpec::new("out", sink)]).unwrap()
}

fn numbered(range: std::ops::Range<usize>) -> impl Iterator<Item = String> {
    range.map(|i| format!("{{\"i\":{i}}}"))
}

#[test]
fn messages_are_acknowledged_once_delivered_and_kept_in_progress_meanwhile() {
    let server = NatsServer::start(&[]);
    server.create_stream("LOGS", &["logs.>"]);
    server.publish("logs.web", numbered(0..1000));
    server.publish("logs.web", ["{\"cut\":".to_owned(), "not json".to_owned()]);
    let dir = tempfile::tempdir().unwrap();
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let p = pipeline(dir.path(), RecordingSink::gated(&recorder, &gate));
    let source = sinkbox::sources::nats::start("in", p.clone(), options(&server, "agg")).unwrap();
    assert!(
        source.describe().contains("stream LOGS as consumer agg"),
        "{}",
        source.describe()
    );
    crate::support::wait_until("the sink to hold a batch", || gate.entered() == 1);
    // Held three times longer than ack_wait: the messages stay in
    // progress, nothing is acknowledged and nothing comes again.
    std::thread::sleep(Duration::from_secs(3));
    let held = server.consumer_state("LOGS", "agg");
    assert!(held.ack_pending > 0, "{held:?}");
    assert_eq!(
        held.ack_floor, 0,
        "nothing acknowledged before delivery: {held:?}"
    );
    assert_eq!(
        held.redelivered, 0,
        "kept in progress, not redelivered: {held:?}"
    );
    gate.open();
    crate::support::wait_until("every message to be acknowledged", || {
        let state = server.consumer_state("LOGS", "agg");
        state.ack_pending == 0 && state.pending == 0 && state.ack_floor == 1002
    });
    let stats = source.stats();
    assert_eq!(
        (
            stats.requests,
            stats.records,
            stats.accepted,
            stats.bad_requests
        ),
        (1002, 1000, 1000, 2)
    );
    source.stop();
    p.shutdown();
    let records = recorder.records.lock().unwrap().clone();
    assert_eq!(
        crate::support::numbers(&records),
        (0..1000).collect::<Vec<_>>()
    );
    let first: serde_json::Value = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(
        first["nats"],
        serde_json::json!({"stream": "LOGS", "subject": "logs.web", "stream_sequence": 1, "delivered": 1})
    );
    // The two that were not records are in the source's dead letters.
    let listed = sinkbox::dead_letters::list(&dir.path().join("data")).unwrap();
    let kept = listed
        .iter()
        .find(|d| d.sink == "source.in")
        .expect("source.in dead letters");
    assert_eq!(kept.records, 2, "{listed:?}");
}

#[test]
fn two_consumers_with_one_name_share_the_messages() {
    let server = NatsServer::start(&[]);
    server.create_stream("LOGS", &["logs.>"]);
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (Recorder::default(), Recorder::default());
    let p1 = pipeline(&dir.path().join("1"), RecordingSink::new(&first));
    let p2 = pipeline(&dir.path().join("2"), RecordingSink::new(&second));
    let s1 = sinkbox::sources::nats::start("in", p1.clone(), options(&server, "shared")).unwrap();
    let s2 = sinkbox::sources::nats::start("in", p2.clone(), options(&server, "shared")).unwrap();
    server.publish("logs.a", numbered(0..5000));
    crate::support::wait_until("every message to be delivered", || {
        first.records.lock().unwrap().len() + second.records.lock().unwrap().len() >= 5000
    });
    crate::support::wait_until("every message to be acknowledged", || {
        server.consumer_state("LOGS", "shared").ack_floor == 5000
    });
    s1.stop();
    s2.stop();
    p1.shutdown();
    p2.shutdown();
    let (a, b) = (
        crate::support::numbers(&first.records.lock().unwrap()),
        crate::support::numbers(&second.records.lock().unwrap()),
    );
    assert!(
        !a.is_empty() && !b.is_empty(),
        "each took a share: {} and {}",
        a.len(),
        b.len()
    );
    let mut all: Vec<usize> = a.into_iter().chain(b).collect();
    all.sort_unstable();
    assert_eq!(all, (0..5000).collect::<Vec<_>>(), "every message once");
}

#[test]
fn a_consumer_that_does_not_exist_or_a_server_that_is_down_is_a_clear_error() {
    let server = NatsServer::start(&[]);
    server.create_stream("LOGS", &["logs.>"]);
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), RecordingSink::new(&Recorder::default()));
    let mut missing = options(&server, "nobody");
    missing.create_consumer = false;
    let err = sinkbox::sources::nats::start("in", p.clone(), missing)
        .err()
        .unwrap();
    assert!(err.contains("cannot find the consumer `nobody`"), "{err}");
    assert!(err.contains("create_consumer = true"), "{err}");
    let mut no_stream = options(&server, "agg");
    no_stream.stream = "NOPE".into();
    let err = sinkbox::sources::nats::start("in", p.clone(), no_stream)
        .err()
        .unwrap();
    assert!(err.contains("cannot find the stream `NOPE`"), "{err}");
    let mut down = options(&server, "agg");
    down.server.url = format!("nats://127.0.0.1:{}", crate::recording_server::free_port());
    down.server.connect_timeout = Duration::from_millis(500);
    let err = sinkbox::sources::nats::start("in", p.clone(), down)
        .err()
        .unwrap();
    assert!(err.contains("source `in`"), "{err}");
    p.shutdown();
}
