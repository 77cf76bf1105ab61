//! The pipeline with native sinks: flush and shutdown semantics, overflow
//! policies, batch closing, emit validation, panicking sinks, the tracing
//! layer.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::{Gate, Recorder, RecordingSink, fast_retry, wait_until};
use sinkbox::pipeline::{BatchOptions, OverflowPolicy};
use sinkbox::{EmitError, Pipeline, SinkSpec, SinkboxLayer};

fn manual_batches() -> BatchOptions {
    BatchOptions {
        max_records: 10_000,
        max_bytes: 1 << 24,
        timeout: Duration::from_secs(3600),
    }
}

fn emit_n(pipeline: &Pipeline, range: std::ops::Range<u32>) {
    for i in range {
        pipeline.emit(&serde_json::json!({ "i": i })).unwrap();
    }
}

fn numbers(recorder: &Recorder) -> Vec<u32> {
    recorder
        .records
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r).unwrap()["i"]
                .as_u64()
                .unwrap() as u32
        })
        .collect()
}

#[test]
fn flush_returns_once_every_sink_has_everything_emitted_before_it() {
    let (a, b) = (Recorder::default(), Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(manual_batches())
        .sink("a", RecordingSink::new(&a))
        .sink("b", RecordingSink::new(&b))
        .build()
        .unwrap();
    emit_n(&pipeline, 0..10);
    let report = pipeline.flush(Duration::from_secs(60));
    assert!(report.is_complete(), "{report}");
    for recorder in [&a, &b] {
        assert_eq!(numbers(recorder), (0..10).collect::<Vec<_>>());
        assert_eq!(recorder.flushes.load(Ordering::SeqCst), 1);
    }
    // A second flush with nothing new still flushes and completes.
    assert!(pipeline.flush(Duration::from_secs(60)).is_complete());
    pipeline.shutdown();
    assert_eq!(a.stops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_flush_past_its_deadline_names_the_sinks_that_did_not_finish() {
    let (slow, fast) = (Recorder::default(), Recorder::default());
    let gate = Gate::closed();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(manual_batches())
        .sink("slow", RecordingSink::gated(&slow, &gate))
        .sink("fast", RecordingSink::new(&fast))
        .build()
        .unwrap();
    emit_n(&pipeline, 0..3);
    let report = pipeline.flush(Duration::from_millis(100));
    assert_eq!(report.timed_out, vec!["slow".to_owned()]);
    assert!(report.failed.is_empty());
    assert_eq!(report.to_string(), "not finished in time: slow");
    assert_eq!(numbers(&fast), vec![0, 1, 2]);
    gate.open();
    pipeline.shutdown();
    assert_eq!(
        numbers(&slow),
        vec![0, 1, 2],
        "nothing is lost after a timed-out flush"
    );
}

#[test]
fn shutdown_drains_every_queue_and_stops_each_sink_once() {
    let recorder = Recorder::default();
    let gate = Gate::closed();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 2,
            ..manual_batches()
        })
        .sink("gated", RecordingSink::gated(&recorder, &gate))
        .build()
        .unwrap();
    emit_n(&pipeline, 0..9);
    wait_until("the sink is inside its first write", || gate.entered() == 1);
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            gate.open();
        })
    };
    let stats = pipeline.shutdown();
    opener.join().unwrap();
    assert_eq!(numbers(&recorder), (0..9).collect::<Vec<_>>());
    assert_eq!(stats[0].records, 9);
    assert_eq!(stats[0].batches, 5);
    assert_eq!(recorder.stops.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.flushes.load(Ordering::SeqCst), 1);
    // Idempotent, and later events are refused.
    assert_eq!(pipeline.shutdown(), stats);
    assert!(matches!(pipeline.emit(&1), Err(EmitError::Closed)));
    assert!(
        pipeline.flush(Duration::from_secs(3600)).is_complete(),
        "nothing left to flush"
    );
    assert_eq!(recorder.stops.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_the_last_handle_delivers_everything_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, recorder) = crate::support::recording_pipeline(dir.path(), 10_000);
    let clone = pipeline.clone();
    emit_n(&pipeline, 0..3);
    drop(pipeline);
    emit_n(&clone, 3..4);
    assert_eq!(
        recorder.stops.load(Ordering::SeqCst),
        0,
        "a clone keeps it running"
    );
    drop(clone);
    assert_eq!(numbers(&recorder), vec![0, 1, 2, 3]);
    assert_eq!(recorder.stops.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.flushes.load(Ordering::SeqCst), 1);
}

/// A pipeline of one-record batches into a sink with a one-batch queue,
/// whose write of batch 0 is held at `gate`: the next batch fills the queue.
fn one_slot_pipeline(
    policy: OverflowPolicy,
    recorder: &Recorder,
    gate: &Arc<Gate>,
    dir: &Path,
) -> Pipeline {
    let pipeline = Pipeline::builder()
        .data_dir(dir)
        .batch(BatchOptions {
            max_records: 1,
            ..manual_batches()
        })
        .sink_spec(
            SinkSpec::new("gated", RecordingSink::gated(recorder, gate))
                .queue_capacity(1)
                .overflow(policy),
        )
        .build()
        .unwrap();
    emit_n(&pipeline, 0..1);
    wait_until("the sink holds batch 0 inside write", || {
        gate.entered() == 1
    });
    pipeline
}

fn overflow_run(policy: OverflowPolicy) -> (Vec<u32>, u64) {
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let dir = tempfile::tempdir().unwrap();
    let pipeline = one_slot_pipeline(policy, &recorder, &gate, dir.path());
    emit_n(&pipeline, 1..5);
    let dropped = pipeline.stats()[0].dropped;
    gate.open();
    pipeline.shutdown();
    (numbers(&recorder), dropped)
}

#[test]
fn drop_newest_keeps_the_queued_batch_and_counts_the_rest() {
    assert_eq!(overflow_run(OverflowPolicy::DropNewest), (vec![0, 1], 3));
}

#[test]
fn drop_oldest_keeps_the_latest_batch_and_counts_the_rest() {
    assert_eq!(overflow_run(OverflowPolicy::DropOldest), (vec![0, 4], 3));
}

#[test]
fn block_holds_the_producer_until_the_sink_makes_room() {
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let dir = tempfile::tempdir().unwrap();
    let pipeline = one_slot_pipeline(OverflowPolicy::Block, &recorder, &gate, dir.path());
    emit_n(&pipeline, 1..2);
    let producer = {
        let pipeline = pipeline.clone();
        std::thread::spawn(move || emit_n(&pipeline, 2..3))
    };
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !producer.is_finished(),
        "emit must wait while the queue is full"
    );
    gate.open();
    producer.join().unwrap();
    let stats = pipeline.shutdown();
    assert_eq!(numbers(&recorder), vec![0, 1, 2]);
    assert_eq!(stats[0].dropped, 0);
}

#[test]
fn batches_close_by_count_and_by_age_with_continuous_sequences() {
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 3,
            max_bytes: 1 << 20,
            timeout: Duration::from_millis(300),
        })
        .sink("rec", RecordingSink::new(&recorder))
        .build()
        .unwrap();
    emit_n(&pipeline, 0..7);
    // Two full batches at once, then the last record once its batch is old enough.
    wait_until("the timer closes the partial batch", || {
        numbers(&recorder).len() == 7
    });
    assert_eq!(
        *recorder.batches.lock().unwrap(),
        vec![(0, 3), (3, 3), (6, 1)]
    );
    assert_eq!(
        recorder.flushes.load(Ordering::SeqCst),
        0,
        "closing a batch is not a flush"
    );
    pipeline.shutdown();
}

#[test]
fn batches_close_by_size() {
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_bytes: 20,
            ..manual_batches()
        })
        .sink("rec", RecordingSink::new(&recorder))
        .build()
        .unwrap();
    emit_n(&pipeline, 0..4); // `{"i":0}\n` is 8 bytes: the third record closes a batch.
    wait_until("the first batch closes", || {
        recorder.batches.lock().unwrap().len() == 1
    });
    assert_eq!(recorder.batches.lock().unwrap()[0], (0, 3));
    pipeline.shutdown();
    assert_eq!(numbers(&recorder), vec![0, 1, 2, 3]);
}

#[test]
fn emit_json_accepts_one_value_and_says_what_is_wrong_otherwise() {
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(manual_batches())
        .sink("rec", RecordingSink::new(&recorder))
        .build()
        .unwrap();
    pipeline.emit_json(b"  {\"a\":1}\r\n").unwrap();
    pipeline.emit_json(b"{\n  \"pretty\": [1,\n 2]\n}").unwrap();
    let err = pipeline.emit_json(b"{\"a\":").unwrap_err().to_string();
    assert!(
        err.starts_with("not a single JSON value: EOF while parsing"),
        "{err}"
    );
    let err = pipeline.emit_json(b"{} {}").unwrap_err().to_string();
    assert!(
        err.contains("trailing characters after the JSON value at byte 2"),
        "{err}"
    );
    let err = pipeline
        .emit_json(b"{\"a\":\"\xff\"}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid UTF-8 at byte 6"), "{err}");
    let err = pipeline.emit_json(b"   ").unwrap_err().to_string();
    assert!(err.contains("empty input"), "{err}");
    pipeline.shutdown();
    assert_eq!(
        *recorder.records.lock().unwrap(),
        // Line breaks between tokens become spaces; nothing else changes.
        vec![
            r#"{"a":1}"#.to_owned(),
            r#"{   "pretty": [1,  2] }"#.to_owned()
        ]
    );
}

#[test]
fn a_panicking_native_sink_is_restarted_and_loses_nothing() {
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink {
        panic_once: true,
        ..RecordingSink::new(&recorder)
    };
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(manual_batches())
        .sink_spec(SinkSpec::new("buggy", sink).retry(fast_retry()))
        .build()
        .unwrap();
    emit_n(&pipeline, 0..3);
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(numbers(&recorder), vec![0, 1, 2]);
    assert_eq!(stats.errors.fatal, 1);
    assert_eq!(stats.restarts, 1);
    assert_eq!(stats.dead_lettered, 0);
}

#[test]
fn the_tracing_layer_turns_application_events_into_records() {
    use tracing_subscriber::prelude::*;
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(manual_batches())
        .sink("rec", RecordingSink::new(&recorder))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(SinkboxLayer::new(pipeline.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "app::auth", user = "ada", attempts = 3, "logged in");
        tracing::warn!(target: "sinkbox::internal", "never fed back into the pipeline");
        tracing::debug!(target: "app::auth", "below the default minimum level");
    });
    pipeline.shutdown();
    let records = recorder.records.lock().unwrap();
    assert_eq!(records.len(), 1);
    let record: serde_json::Value = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(record["level"], "info");
    assert_eq!(record["target"], "app::auth");
    assert_eq!(record["message"], "logged in");
    assert_eq!(record["user"], "ada");
    assert_eq!(record["attempts"], 3);
    assert!(record["timestamp"].as_str().unwrap().ends_with('Z'));
}

/// A producer that emits until the pipeline refuses; returns how many
/// events were accepted.
fn flood(pipeline: &Pipeline) -> std::thread::JoinHandle<u64> {
    let pipeline = pipeline.clone();
    std::thread::spawn(move || {
        let mut accepted = 0u64;
        loop {
            match pipeline.emit_json(format!(r#"{{"i":{accepted}}}"#).as_bytes()) {
                Ok(()) => accepted += 1,
                Err(EmitError::Closed) => return accepted,
                Err(err) => panic!("{err}"),
            }
        }
    })
}

#[test]
fn flush_and_shutdown_honour_their_deadlines_behind_a_full_block_queue() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let gate = Gate::closed();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 1,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(3600),
        })
        .sink_spec(
            SinkSpec::new("stuck", RecordingSink::gated(&recorder, &gate))
                .queue_capacity(2)
                .overflow(OverflowPolicy::Block),
        )
        .build()
        .unwrap();
    let producer = flood(&pipeline);
    wait_until(
        "the producer waits on the full queue behind a stuck sink",
        || gate.entered() == 1 && pipeline.stats()[0].queue_depth == 2,
    );
    // The sink is stuck in `write`: only the deadline can end these calls.
    let report = pipeline.flush(Duration::from_millis(200));
    assert_eq!(report.timed_out, vec!["stuck".to_owned()], "{report}");

    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            gate.open();
        })
    };
    let report = pipeline.shutdown_within(Duration::from_millis(300));
    let accepted = producer.join().unwrap();
    opener.join().unwrap();
    assert_eq!(report.unfinished, vec!["stuck".to_owned()]);
    wait_until("the stuck sink has accounted for every event", || {
        let stats = &pipeline.stats()[0];
        stats.records + stats.dead_lettered == accepted
    });
    let stats = &pipeline.stats()[0];
    assert!(stats.dead_lettered > 0, "{stats:?}");
    let letters = crate::support::dead_letters(&dir.path().join("dead-letter/stuck.ndjson"));
    assert_eq!(letters.len() as u64, stats.dead_lettered);
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("shutdown deadline")
    );
}

#[test]
fn an_invalid_sink_name_is_refused_by_the_builder() {
    let err = Pipeline::builder()
        .sink("../etc", RecordingSink::new(&Recorder::default()))
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("contains '/'"), "{err}");
}

#[test]
fn many_producers_lose_nothing_double_nothing_and_keep_each_threads_order() {
    const THREADS: u64 = 6;
    const PER_THREAD: u64 = 20_000;
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 97,
            max_bytes: 1 << 20,
            // Short, so the timer closes batches while producers fill others.
            timeout: Duration::from_millis(1),
        })
        .sink("rec", RecordingSink::new(&recorder))
        .build()
        .unwrap();
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let pipeline = pipeline.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    pipeline
                        .emit(&serde_json::json!({ "t": t, "i": i }))
                        .unwrap();
                    if i % 5_000 == 0 {
                        // A flush among the emits closes every shard.
                        assert!(pipeline.flush(Duration::from_secs(60)).is_complete());
                    }
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.records, THREADS * PER_THREAD);

    // Batches arrive in sequence order, each a contiguous range, together
    // covering 0..N exactly once.
    let batches = recorder.batches.lock().unwrap();
    let mut next = 0u64;
    for (first, len) in batches.iter() {
        assert_eq!(*first, next, "batches out of order or with a gap");
        next += u64::from(*len);
    }
    assert_eq!(next, THREADS * PER_THREAD);

    // Every event once, and each thread's events in the order it emitted them.
    let records = recorder.records.lock().unwrap();
    let mut last_seen = vec![None::<u64>; THREADS as usize];
    for record in records.iter() {
        let value: serde_json::Value = serde_json::from_str(record).unwrap();
        let (t, i) = (value["t"].as_u64().unwrap(), value["i"].as_u64().unwrap());
        let expected = last_seen[t as usize].map_or(0, |last| last + 1);
        assert_eq!(
            i, expected,
            "thread {t}: event {i} after {:?}",
            last_seen[t as usize]
        );
        last_seen[t as usize] = Some(i);
    }
    assert!(last_seen.iter().all(|last| *last == Some(PER_THREAD - 1)));
}

/// A recording sink that takes merged batches of up to `limit` bytes.
struct MergingSink {
    inner: RecordingSink,
    limit: Option<usize>,
}

impl sinkbox::Sink for MergingSink {
    fn start(&mut self) -> Result<(), sinkbox::SinkError> {
        self.inner.start()
    }
    fn write(&mut self, batch: &sinkbox::Batch) -> sinkbox::WriteOutcome {
        self.inner.write(batch)
    }
    fn merge_limit(&self) -> Option<usize> {
        self.limit
    }
}

/// Emits 61 one-record batches while the sink is stuck in its first write,
/// then lets it go; returns the batches it received.
fn batches_after_a_stall(limit: Option<usize>) -> Vec<(u64, u32)> {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let gate = Gate::closed();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 1,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(3600),
        })
        .sink_spec(
            SinkSpec::new(
                "merging",
                MergingSink {
                    inner: RecordingSink::gated(&recorder, &gate),
                    limit,
                },
            )
            .queue_capacity(100),
        )
        .build()
        .unwrap();
    emit_n(&pipeline, 0..1);
    wait_until("the sink is stuck in its first write", || {
        gate.entered() == 1
    });
    emit_n(&pipeline, 1..61);
    wait_until("60 batches wait in the queue", || {
        pipeline.stats()[0].queue_depth == 60
    });
    gate.open();
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.records, 61);
    assert_eq!(numbers(&recorder), (0..61).collect::<Vec<_>>());
    recorder.batches.lock().unwrap().clone()
}

#[test]
fn a_sink_that_takes_merged_batches_gets_the_queued_ones_together_within_its_limit() {
    let one_by_one = batches_after_a_stall(None);
    assert_eq!(one_by_one.len(), 61);

    // Each record is `{"i":<n>}` plus a newline: 8 or 9 bytes; 80 bytes hold 9.
    let merged = batches_after_a_stall(Some(80));
    let mut next = 0;
    for (first, len) in &merged {
        assert_eq!(*first, next, "merged batches keep consecutive numbers");
        assert!(
            *len <= 10,
            "a merged batch of {len} records is past the 80-byte limit"
        );
        next += u64::from(*len);
    }
    assert_eq!(next, 61);
    // The first batch went alone; the 60 behind it in at most 8 calls.
    assert!(merged.len() <= 9, "{merged:?}");
}

/// Takes merged batches; rejects any call holding a `poison` record and
/// notes the (first sequence, count) of every call.
struct PoisonRejectingSink {
    inner: RecordingSink,
    calls: Arc<std::sync::Mutex<Vec<(u64, u32)>>>,
}

impl sinkbox::Sink for PoisonRejectingSink {
    fn start(&mut self) -> Result<(), sinkbox::SinkError> {
        self.inner.start()
    }
    fn write(&mut self, batch: &sinkbox::Batch) -> sinkbox::WriteOutcome {
        self.calls
            .lock()
            .unwrap()
            .push((batch.first_sequence(), batch.len()));
        if batch
            .records()
            .any(|r| std::str::from_utf8(r).unwrap().contains("poison"))
        {
            return sinkbox::WriteOutcome::Rejected("a poison record".into());
        }
        self.inner.write(batch)
    }
    fn merge_limit(&self) -> Option<usize> {
        Some(1 << 20)
    }
}

#[test]
fn a_poisoned_batch_in_a_merged_call_is_dead_lettered_alone() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let gate = Gate::closed();
    let calls = Arc::default();
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 4,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(3600),
        })
        .sink(
            "merging",
            PoisonRejectingSink {
                inner: RecordingSink::gated(&recorder, &gate),
                calls: Arc::clone(&calls),
            },
        )
        .build()
        .unwrap();
    emit_n(&pipeline, 0..4);
    wait_until("the sink is stuck in its first write", || {
        gate.entered() == 1
    });
    for i in 4..16u32 {
        let record = if i == 9 {
            serde_json::json!({ "i": i, "poison": true })
        } else {
            serde_json::json!({ "i": i })
        };
        pipeline.emit(&record).unwrap();
    }
    wait_until("three batches wait in the queue", || {
        pipeline.stats()[0].queue_depth == 3
    });
    gate.open();
    let stats = pipeline.shutdown().remove(0);
    // The three queued batches went in one call, which was rejected; then
    // each went alone, and only the one holding the poison record was
    // rejected again.
    assert_eq!(
        *calls.lock().unwrap(),
        [(0, 4), (4, 12), (4, 4), (8, 4), (12, 4)]
    );
    assert_eq!((stats.records, stats.dead_lettered), (12, 4), "{stats:?}");
    assert_eq!(numbers(&recorder), (0..8).chain(12..16).collect::<Vec<_>>());
    let letters =
        crate::support::dead_letters(&dir.path().join("dead-letter").join("merging.ndjson"));
    let sequences: Vec<u64> = letters
        .iter()
        .map(|l| l["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [8, 9, 10, 11]);
    assert_eq!(letters[0]["reason"], "rejected: a poison record");
}
