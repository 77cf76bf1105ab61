//! Per-record results through a real pipeline: a sink answers each record
//! of each batch from a random script (stored, refused, throttled, dropped
//! by the destination, fate unknown), and the pipeline must do exactly
//! what the answers said: nothing stored is sent again, every throttled
//! record is, only refused records are dead-lettered (each with its own
//! reason), and the counters add up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use sinkbox::pipeline::RetryPolicy;
use sinkbox::{Batch, RecordResults, Sink, SinkError, SinkSpec, WriteOutcome};

/// What the destination says about one record on one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Stored,
    /// Stored, then dropped by the destination without saying which.
    Dropped,
    Refused,
    Throttled,
    /// A timeout after the request went out.
    Unknown,
}

impl Answer {
    fn is_final(self) -> bool {
        matches!(self, Answer::Stored | Answer::Dropped | Answer::Refused)
    }
}

/// Answers each record from its script, one answer per send; remembers
/// every send.
struct ScriptedSink {
    scripts: Arc<Mutex<HashMap<u64, Vec<Answer>>>>,
    sends: Arc<Mutex<Vec<Vec<u64>>>>,
    merge: bool,
}

impl Sink for ScriptedSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let first = batch.first_sequence();
        let sequences: Vec<u64> = (first..first + u64::from(batch.len())).collect();
        self.sends.lock().unwrap().push(sequences.clone());
        let mut scripts = self.scripts.lock().unwrap();
        let answers: Vec<Answer> = sequences
            .iter()
            .map(|s| {
                let script = scripts.get_mut(s).expect("a record of the test");
                if script.len() > 1 {
                    script.remove(0)
                } else {
                    script[0]
                }
            })
            .collect();
        let mut results = RecordResults::new();
        let mut index = 0usize;
        while index < answers.len() {
            let at = index as u32;
            match answers[index] {
                Answer::Refused => {
                    results = results.rejected(at..at + 1, format!("bad {}", sequences[index]));
                    index += 1;
                }
                Answer::Throttled => {
                    results = results.retryable(at..at + 1, "throttled");
                    index += 1;
                }
                Answer::Unknown => {
                    results = results.indeterminate(at..at + 1, "timed out after sending");
                    index += 1;
                }
                Answer::Stored | Answer::Dropped => {
                    // A run of stored records, some of them dropped.
                    let end = answers[index..]
                        .iter()
                        .position(|a| !matches!(a, Answer::Stored | Answer::Dropped))
                        .map_or(answers.len(), |n| index + n);
                    let dropped = answers[index..end]
                        .iter()
                        .filter(|a| **a == Answer::Dropped)
                        .count() as u32;
                    if dropped > 0 {
                        results = results.dropped(at..end as u32, dropped, "total ignored");
                    }
                    index = end;
                }
            }
        }
        WriteOutcome::Records(results)
    }

    fn merge_limit(&self) -> Option<usize> {
        self.merge.then_some(1 << 20)
    }
}

/// One record's answers: up to two passing failures, then a final one.
fn script() -> impl Strategy<Value = Vec<Answer>> {
    let passing = prop_oneof![Just(Answer::Throttled), Just(Answer::Unknown)];
    let last = prop_oneof![
        3 => Just(Answer::Stored),
        1 => Just(Answer::Dropped),
        1 => Just(Answer::Refused),
    ];
    (proptest::collection::vec(passing, 0..=2), last).prop_map(|(mut failures, last)| {
        failures.push(last);
        failures
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_record_meets_the_fate_its_answers_said(
        scripts in proptest::collection::vec(script(), 1..60),
        batch in 1u32..16,
        merge in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let by_sequence: HashMap<u64, Vec<Answer>> = scripts
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u64, s.clone()))
            .collect();
        let sends = Arc::new(Mutex::new(Vec::new()));
        let sink = ScriptedSink {
            scripts: Arc::new(Mutex::new(by_sequence)),
            sends: sends.clone(),
            merge,
        };
        let retry = RetryPolicy {
            max_retries: None,
            max_retry_duration: Some(Duration::from_secs(60)),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            max_restarts: 2,
        };
        let pipeline = crate::support::pipeline_of(
            dir.path(),
            batch,
            vec![SinkSpec::new("scripted", sink).retry(retry)],
        )
        .unwrap();
        crate::support::emit_numbered(&pipeline, 0..scripts.len());
        let stats = pipeline.shutdown().remove(0);

        // Each record was sent once per answer in its script: never again
        // after a final answer, always again after a passing one.
        let mut sent: HashMap<u64, usize> = HashMap::new();
        for write in sends.lock().unwrap().iter() {
            for s in write {
                *sent.entry(*s).or_default() += 1;
            }
        }
        for (s, script) in scripts.iter().enumerate() {
            prop_assert!(script.last().unwrap().is_final());
            prop_assert_eq!(sent.get(&(s as u64)).copied(), Some(script.len()), "record {}", s);
        }

        // Only the refused records are dead letters, each with its reason.
        let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/scripted.ndjson"));
        let mut dead: Vec<(u64, String)> = letters
            .iter()
            .map(|l| (l["record"]["i"].as_u64().unwrap(), l["reason"].as_str().unwrap().to_owned()))
            .collect();
        dead.sort();
        let refused: Vec<(u64, String)> = scripts
            .iter()
            .enumerate()
            .filter(|(_, s)| *s.last().unwrap() == Answer::Refused)
            .map(|(i, _)| (i as u64, format!("rejected: bad {i}")))
            .collect();
        prop_assert_eq!(dead, refused);

        let count = |answer: Answer| scripts.iter().flatten().filter(|a| **a == answer).count() as u64;
        prop_assert_eq!(stats.records, count(Answer::Stored), "{:?}", stats);
        prop_assert_eq!(stats.dropped_by_destination, count(Answer::Dropped));
        prop_assert_eq!(stats.dead_lettered, count(Answer::Refused));
        prop_assert_eq!(stats.indeterminate, count(Answer::Unknown));
        prop_assert_eq!(stats.lost, 0);
    }
}
