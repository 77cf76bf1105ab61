//! The worker's outcome handling, driven by a sink that answers from a
//! script: one row per behaviour.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::batch::Batch;
use crate::sink::{RecordResults, SinkError, WriteOutcome};

/// Answers each `write` with the next scripted outcome (`None` panics),
/// then `Accepted`; records which records each write saw.
struct ScriptedSink {
    script: VecDeque<Option<WriteOutcome>>,
    seen: Writes,
}

impl Sink for ScriptedSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        self.seen
            .lock()
            .unwrap()
            .push((batch.first_sequence(), batch.len()));
        match self.script.pop_front() {
            Some(Some(outcome)) => outcome,
            Some(None) => panic!("scripted panic"),
            None => WriteOutcome::Accepted,
        }
    }
}

struct Row {
    name: &'static str,
    script: Vec<Option<WriteOutcome>>,
    /// (records accepted, dead-lettered, retries, restarts)
    expect: (u64, u64, u64, u64),
    /// (first sequence, count) of every write the sink saw.
    writes: Vec<(u64, u32)>,
}

fn retry() -> WriteOutcome {
    WriteOutcome::Retryable("busy".into())
}

fn deferred() -> WriteOutcome {
    WriteOutcome::Deferred {
        wait: Duration::from_micros(1),
        reason: "breaker open".into(),
    }
}

fn fatal() -> WriteOutcome {
    WriteOutcome::Fatal("broken".into())
}

/// (first sequence, count) of every write a [`ScriptedSink`] saw.
type Writes = Arc<Mutex<Vec<(u64, u32)>>>;

/// A running worker around a [`ScriptedSink`]: two retries, two restarts.
fn scripted_worker(
    dir: &std::path::Path,
    script: Vec<Option<WriteOutcome>>,
) -> (SinkWorker, Arc<WorkerShared>, Writes) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(WorkerShared {
        name: "scripted".into(),
        queue: SinkQueue::new(4, Default::default()),
        counters: Default::default(),
        health: Mutex::new(Health::Healthy),
        module: Mutex::new(ModuleState::default()),
        reloader: Mutex::new(None),
        log_budget: Mutex::new(None),
        http: Mutex::new(None),
        route: Mutex::new(None),
        abandon: Default::default(),
        buffer: None,
        when_checked: Default::default(),
    });
    let sink = ScriptedSink {
        script: script.into(),
        seen: seen.clone(),
    };
    let policy = RetryPolicy {
        max_retries: Some(2),
        max_retry_duration: None,
        initial_backoff: Duration::from_micros(1),
        max_backoff: Duration::from_micros(1),
        max_restarts: 2,
    };
    let faults = FaultPolicy {
        optional: false,
        rollback_batches: 0,
    };
    let mut worker = SinkWorker::new(
        shared.clone(),
        Box::new(sink),
        policy,
        faults,
        DeadLetterStore::new(dir, "scripted", 1 << 20),
    );
    worker.running = true;
    (worker, shared, seen)
}

/// Checks the counters and the writes against `row`; returns the stats.
fn check(row: &Row, shared: &WorkerShared, seen: &Writes) -> crate::SinkStats {
    let stats = shared
        .counters
        .snapshot("scripted", 0, &ModuleState::default(), 0, None);
    assert_eq!(
        (
            stats.records,
            stats.dead_lettered,
            stats.retries,
            stats.restarts
        ),
        row.expect,
        "{}: {stats:?}",
        row.name
    );
    assert_eq!(*seen.lock().unwrap(), row.writes, "{}", row.name);
    stats
}

#[test]
fn every_outcome_is_handled_as_the_contract_says() {
    let partial = |accepted| WriteOutcome::Partial {
        accepted,
        reason: "half".into(),
    };
    let rows = vec![
        Row {
            name: "accepted",
            script: vec![],
            expect: (4, 0, 0, 0),
            writes: vec![(10, 4)],
        },
        Row {
            name: "retryable once, then accepted",
            script: vec![Some(retry())],
            expect: (4, 0, 1, 0),
            writes: vec![(10, 4), (10, 4)],
        },
        Row {
            name: "retryable past max_retries is dead-lettered",
            script: vec![Some(retry()), Some(retry()), Some(retry())],
            expect: (0, 4, 2, 0),
            writes: vec![(10, 4), (10, 4), (10, 4)],
        },
        Row {
            name: "partial retries only the tail",
            script: vec![Some(partial(1)), Some(partial(2))],
            expect: (4, 0, 2, 0),
            writes: vec![(10, 4), (11, 3), (13, 1)],
        },
        Row {
            name: "partial past the batch counts as accepted",
            script: vec![Some(partial(9))],
            expect: (4, 0, 0, 0),
            writes: vec![(10, 4)],
        },
        Row {
            name: "partial 0 forever runs out of retries",
            script: vec![Some(partial(0)), Some(partial(0)), Some(partial(0))],
            expect: (0, 4, 2, 0),
            writes: vec![(10, 4), (10, 4), (10, 4)],
        },
        Row {
            name: "deferred (an open breaker) never uses up retries",
            script: vec![
                Some(deferred()),
                Some(deferred()),
                Some(deferred()),
                Some(deferred()),
                Some(retry()),
                Some(deferred()),
            ],
            expect: (4, 0, 1, 0),
            writes: vec![(10, 4); 7],
        },
        Row {
            name: "rejected is dead-lettered without a retry",
            script: vec![Some(WriteOutcome::Rejected("no".into()))],
            expect: (0, 4, 0, 0),
            writes: vec![(10, 4)],
        },
        Row {
            name: "fatal restarts, then the batch goes through",
            script: vec![Some(fatal())],
            expect: (4, 0, 1, 1),
            writes: vec![(10, 4), (10, 4)],
        },
        Row {
            name: "fatal past max_restarts is dead-lettered",
            script: vec![Some(fatal()), Some(fatal()), Some(fatal())],
            expect: (0, 4, 2, 2),
            writes: vec![(10, 4), (10, 4), (10, 4)],
        },
        Row {
            name: "a panic in write is a fatal",
            script: vec![None],
            expect: (4, 0, 1, 1),
            writes: vec![(10, 4), (10, 4)],
        },
    ];
    for mut row in rows {
        let dir = tempfile::tempdir().unwrap();
        let script = std::mem::take(&mut row.script);
        let (mut worker, shared, seen) = scripted_worker(dir.path(), script);
        let records: Vec<String> = (0..4).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
        worker.deliver(Batch::from_records(&records, 10), false);
        check(&row, &shared, &seen);
    }
}

#[test]
fn past_the_retry_window_a_failing_batch_gets_one_try_and_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let (mut worker, shared, seen) =
        scripted_worker(dir.path(), vec![Some(retry()), Some(deferred())]);
    worker.policy.max_retries = None;
    worker.policy.max_retry_duration = Some(Duration::ZERO);
    let records: Vec<String> = (0..4).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
    worker.deliver(Batch::from_records(&records, 10), false);
    worker.deliver(Batch::from_records(&records, 14), false);
    let row = Row {
        name: "window spent",
        script: vec![],
        expect: (0, 8, 0, 0),
        writes: vec![(10, 4), (14, 4)],
    };
    check(&row, &shared, &seen);
    let reasons: Vec<String> =
        crate::pipeline::read_dead_letters(&dir.path().join("dead-letter").join("scripted.ndjson"))
            .unwrap()
            .into_iter()
            .map(|letter| letter.reason)
            .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("the sink has delivered nothing for")),
        "{reasons:?}"
    );
}

#[test]
fn a_merged_batch_not_taken_whole_goes_back_as_the_batches_it_was_made_of() {
    let parts = |records: &Vec<String>| -> Vec<Batch> {
        (0..3)
            .map(|i| Batch::from_records(&records[i * 4..i * 4 + 4], 10 + i as u64 * 4))
            .collect()
    };
    let records: Vec<String> = (0..12).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
    let partial = |accepted| WriteOutcome::Partial {
        accepted,
        reason: "half".into(),
    };
    let rows = vec![
        Row {
            name: "accepted whole: one call",
            script: vec![],
            expect: (12, 0, 0, 0),
            writes: vec![(10, 12)],
        },
        Row {
            name: "a trap in the merged call: each batch alone, the poisoned one dead-lettered",
            // merged, first alone, second alone x3, third alone
            script: vec![
                Some(fatal()),
                Some(WriteOutcome::Accepted),
                Some(fatal()),
                Some(fatal()),
                Some(fatal()),
            ],
            expect: (8, 4, 2, 4),
            writes: vec![(10, 12), (10, 4), (14, 4), (14, 4), (14, 4), (18, 4)],
        },
        Row {
            name: "rejected whole: each batch alone, only the one rejected again is dead-lettered",
            script: vec![
                Some(WriteOutcome::Rejected("one bad record".into())),
                Some(WriteOutcome::Accepted),
                Some(WriteOutcome::Rejected("one bad record".into())),
            ],
            expect: (8, 4, 0, 0),
            writes: vec![(10, 12), (10, 4), (14, 4), (18, 4)],
        },
        Row {
            name: "refused whole: only the refused record is dead-lettered, nothing is sent again",
            script: vec![Some(WriteOutcome::Records(
                RecordResults::new().rejected(5..6, "no"),
            ))],
            expect: (11, 1, 0, 0),
            writes: vec![(10, 12)],
        },
        Row {
            name: "partial: the accepted front counts, the rest goes back split at the batch edges",
            script: vec![Some(partial(6))],
            expect: (12, 0, 0, 0),
            writes: vec![(10, 12), (16, 2), (18, 4)],
        },
    ];
    for mut row in rows {
        let dir = tempfile::tempdir().unwrap();
        let script = std::mem::take(&mut row.script);
        let (mut worker, shared, seen) = scripted_worker(dir.path(), script);
        worker.deliver_merged(parts(&records));
        let stats = check(&row, &shared, &seen);
        // Every batch is either delivered or (the poisoned one)
        // dead-lettered whole; a refused record leaves its batch counted.
        let dead_batches = stats.dead_lettered / 4;
        assert_eq!(stats.batches + dead_batches, 3, "{}", row.name);
    }
}
