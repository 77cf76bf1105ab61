//! End-to-end acknowledgements: records emitted with
//! `Pipeline::emit_acknowledged` resolve only once every sink that took
//! them settled them, and the report says how.

use std::time::Duration;

use crate::recording_server::{Answer, RecordingServer};
use crate::support::{Gate, Recorder, RecordingSink, fast_retry, toml_pipeline};
use sinkbox::pipeline::OverflowPolicy;
use sinkbox::{AckReport, Condition, SinkSpec, WriteOutcome};

const SHORT: Duration = Duration::from_millis(200);
const LONG: Duration = Duration::from_secs(30);

fn records(n: usize) -> Vec<String> {
    (0..n).map(|i| format!(r#"{{"i":{i}}}"#)).collect()
}

#[test]
fn an_acknowledgement_resolves_once_the_sink_has_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let p = crate::support::pipeline_of(
        dir.path(),
        100,
        vec![SinkSpec::new(
            "gated",
            RecordingSink::gated(&recorder, &gate),
        )],
    )
    .unwrap();
    let ack = p.emit_acknowledged(records(3)).unwrap();
    crate::support::wait_until("the sink to be handed the batch", || gate.entered() == 1);
    assert_eq!(ack.wait(SHORT), None, "not before the sink delivered");
    gate.open();
    assert_eq!(ack.wait(LONG), Some(AckReport::default()));
    assert_eq!(recorder.records.lock().unwrap().len(), 3);
    // Its records were a batch of their own, not mixed with other emits.
    assert_eq!(recorder.batches.lock().unwrap()[0].1, 3);
    p.shutdown();
}

#[test]
fn a_sink_whose_when_keeps_nothing_does_not_hold_it_and_refusals_are_reported() {
    /// Refuses the first record of every batch, takes the rest.
    struct Refusing;
    impl sinkbox::Sink for Refusing {
        fn start(&mut self) -> Result<(), sinkbox::SinkError> {
            Ok(())
        }
        fn write(&mut self, _: &sinkbox::Batch) -> WriteOutcome {
            WriteOutcome::Records(sinkbox::RecordResults::new().rejected(0..1, "no"))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = crate::support::pipeline_of(
        dir.path(),
        100,
        vec![
            SinkSpec::new("errors_only", RecordingSink::new(&recorder))
                .when(Condition::parse(r#"level == "error""#).unwrap()),
            SinkSpec::new("refusing", Refusing).retry(fast_retry()),
        ],
    )
    .unwrap();
    let ack = p.emit_acknowledged(records(4)).unwrap();
    let report = ack.wait(LONG).expect("settled");
    assert_eq!(
        report,
        AckReport {
            dead_lettered: 1,
            ..AckReport::default()
        }
    );
    assert!(report.all_kept() && !report.all_delivered());
    assert!(recorder.records.lock().unwrap().is_empty());
    p.shutdown();
}

#[test]
fn a_dropped_batch_is_reported_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let p = crate::support::pipeline_of(
        dir.path(),
        100,
        vec![
            SinkSpec::new("gated", RecordingSink::gated(&recorder, &gate))
                .queue_capacity(1)
                .overflow(OverflowPolicy::DropNewest),
        ],
    )
    .unwrap();
    let first = p.emit_acknowledged(records(2)).unwrap();
    crate::support::wait_until("the worker to take the first", || gate.entered() == 1);
    let second = p.emit_acknowledged(records(2)).unwrap();
    let third = p.emit_acknowledged(records(2)).unwrap();
    assert_eq!(
        third.wait(LONG),
        Some(AckReport {
            dropped: 2,
            ..AckReport::default()
        }),
        "the queue was full"
    );
    gate.open();
    assert_eq!(first.wait(LONG), Some(AckReport::default()));
    assert_eq!(second.wait(LONG), Some(AckReport::default()));
    p.shutdown();
}

#[test]
fn a_fanout_resolves_only_when_its_targets_have_delivered() {
    // The target's server fails three times first.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = RecordingServer::start("127.0.0.1:0", move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 {
            Answer::status(503, "warming up")
        } else {
            Answer::ok()
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let p = toml_pipeline(
        dir.path(),
        &format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sinks.both]\ntype = \"composite\"\npattern = \"fanout\"\ntargets = [\"web\", \"copy\"]\n\
             [sinks.web]\ntype = \"http\"\nendpoint = \"{}/in\"\nhealthcheck = false\ninitial_backoff = \"100ms\"\nmax_backoff = \"100ms\"\n\
             [sinks.copy]\ntype = \"file\"\npath = \"copy.ndjson\"\n",
            server.base_url()
        ),
    );
    let ack = p.emit_acknowledged(records(2)).unwrap();
    assert_eq!(ack.wait(SHORT), None, "the http target is still retrying");
    assert_eq!(ack.wait(LONG), Some(AckReport::default()));
    assert!(server.requests().len() >= 4);
    p.shutdown();
}

#[test]
fn records_written_to_a_disk_buffer_are_acknowledged_before_delivery() {
    // Nothing listens: the sink cannot deliver, its buffer holds the batch.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let p = toml_pipeline(
        dir.path(),
        &format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/in\"\nhealthcheck = false\n\
             buffer = {{ type = \"disk\", max_size = \"16MiB\" }}\n"
        ),
    );
    let ack = p.emit_acknowledged(records(5)).unwrap();
    assert_eq!(ack.wait(LONG), Some(AckReport::default()));
    let stats = p.stats().remove(0);
    assert_eq!(stats.records, 0, "not delivered, yet safe on disk");
    p.shutdown_within(Duration::from_millis(500));
}
