//! `when` on sinks built in code: complementary conditions split every
//! record exactly once, each filtered sink numbers what it takes, levels
//! known at emit time decide level conditions, dead letters keep working.

use std::sync::Arc;

use sinkbox::{Batch, Condition, Sink, SinkError, SinkSpec, WriteOutcome};

use crate::support::{Recorder, RecordingSink, pipeline_of};

/// Records of every shape a condition meets: each field present or not, of
/// the expected type or not, and a few that are not objects at all.
fn mixed_records(n: usize) -> Vec<String> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let levels = [
        "trace", "DEBUG", "info", "Warning", "warn", "error", "critical", "bogus",
    ];
    let services = ["api", "web", "db", "auth"];
    (0..n)
        .map(|i| {
            let r = next();
            let mut fields = vec![format!("\"i\":{i}")];
            if r % 7 != 0 {
                fields.push(format!(
                    "\"level\":\"{}\"",
                    levels[(r >> 3) as usize % levels.len()]
                ));
            } else if r % 14 == 0 {
                fields.push("\"level\":3".into());
            }
            if r % 5 != 0 {
                fields.push(format!(
                    "\"service\":\"{}\"",
                    services[(r >> 9) as usize % 4]
                ));
            }
            if r % 3 == 0 {
                fields.push(format!("\"http\":{{\"status\":{}}}", 200 + (r >> 12) % 400));
            }
            format!("{{{}}}", fields.join(","))
        })
        .collect()
}

fn index_of(record: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(record).unwrap()["i"]
        .as_u64()
        .unwrap()
}

#[test]
fn complementary_conditions_split_every_record_exactly_once_and_number_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let condition = r#"level >= "warn" and (service in ["api", "db"] or http.status >= 500)"#;
    let (kept, left, all) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    let pipeline = pipeline_of(
        dir.path(),
        64,
        vec![
            SinkSpec::new("kept", RecordingSink::new(&kept))
                .when(Condition::parse(condition).unwrap()),
            SinkSpec::new("left", RecordingSink::new(&left))
                .when(Condition::parse(&format!("not ({condition})")).unwrap()),
            SinkSpec::new("all", RecordingSink::new(&all)),
        ],
    )
    .unwrap();
    let records = mixed_records(5000);
    for record in &records {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    let stats = pipeline.shutdown();
    let kept_records = kept.records.lock().unwrap().clone();
    let left_records = left.records.lock().unwrap().clone();
    assert!(
        kept_records.len() > 200 && left_records.len() > 200,
        "{} / {}",
        kept_records.len(),
        left_records.len()
    );
    // Between them, every record once, and each in pipeline order.
    let mut merged: Vec<u64> = kept_records
        .iter()
        .chain(&left_records)
        .map(|r| index_of(r))
        .collect();
    assert!(
        kept_records
            .windows(2)
            .all(|w| index_of(&w[0]) < index_of(&w[1]))
    );
    merged.sort_unstable();
    assert_eq!(merged, (0..5000).collect::<Vec<u64>>());
    // The records arrive byte for byte as emitted.
    assert_eq!(*all.records.lock().unwrap(), records);
    // A filtered sink numbers what it takes from 0, without gaps; an
    // unfiltered one sees the pipeline's numbers.
    for recorder in [&kept, &left, &all] {
        let mut next = 0;
        for (first, len) in recorder.batches.lock().unwrap().iter() {
            assert_eq!(*first, next);
            next += u64::from(*len);
        }
    }
    let by_name = |name: &str| stats.iter().find(|s| s.name == name).unwrap().clone();
    assert_eq!(by_name("kept").matched, kept_records.len() as u64);
    assert_eq!(by_name("kept").skipped, left_records.len() as u64);
    assert_eq!(by_name("left").matched + by_name("left").skipped, 5000);
    assert_eq!((by_name("all").matched, by_name("all").skipped), (5000, 0));
}

#[test]
fn a_level_known_at_emit_time_decides_level_conditions_without_reading_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let (warn, named) = (Recorder::default(), Recorder::default());
    let pipeline = pipeline_of(
        dir.path(),
        8,
        vec![
            SinkSpec::new("warn", RecordingSink::new(&warn))
                .when(Condition::parse(r#"level >= "warn""#).unwrap()),
            // `==` compares the text as written, so it reads the record.
            SinkSpec::new("named", RecordingSink::new(&named))
                .when(Condition::parse(r#"level == "error""#).unwrap()),
        ],
    )
    .unwrap();
    // Through `emit_at`, the given level is what `>=` sees: this record
    // has no level field at all.
    pipeline
        .emit_at(tracing::Level::ERROR, &serde_json::json!({"i": 0}))
        .unwrap();
    pipeline
        .emit_at(
            tracing::Level::INFO,
            &serde_json::json!({"i": 1, "level": "info"}),
        )
        .unwrap();
    // Without a known level the record's own field decides.
    pipeline
        .emit(&serde_json::json!({"i": 2, "level": "error"}))
        .unwrap();
    // The tracing layer emits with the event's level.
    {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber =
            tracing_subscriber::registry().with(sinkbox::SinkboxLayer::new(pipeline.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(i = 3u64, "disk nearly full");
            tracing::info!(i = 4u64, "all good");
            tracing::error!(i = 5u64, "disk full");
        });
    }
    pipeline.shutdown();
    let got = |r: &Recorder| -> Vec<u64> {
        r.records
            .lock()
            .unwrap()
            .iter()
            .map(|r| index_of(r))
            .collect()
    };
    assert_eq!(got(&warn), vec![0, 2, 3, 5]);
    assert_eq!(got(&named), vec![2, 5]);
}

/// Rejects every batch it is given.
struct RejectingSink;

impl Sink for RejectingSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, _batch: &Batch) -> WriteOutcome {
        WriteOutcome::Rejected("no".into())
    }
}

#[test]
fn a_filtered_sink_dead_letters_only_what_it_took_under_its_own_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_of(
        dir.path(),
        10,
        vec![SinkSpec::new("picky", RejectingSink).when(Condition::parse("i >= 15").unwrap())],
    )
    .unwrap();
    for i in 0..30 {
        pipeline.emit(&serde_json::json!({ "i": i })).unwrap();
    }
    let stats = pipeline.shutdown();
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/picky.ndjson"));
    let got: Vec<(u64, u64)> = letters
        .iter()
        .map(|l| {
            (
                l["sequence"].as_u64().unwrap(),
                l["record"]["i"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, (0..15).map(|n| (n, n + 15)).collect::<Vec<_>>());
    assert_eq!((stats[0].dead_lettered, stats[0].skipped), (15, 15));
}

#[test]
fn a_batch_the_condition_keeps_whole_is_shared_not_copied() {
    // Every record kept: the sink gets the very batch the others get (one
    // buffer), which shows as the same bytes address.
    struct AddressSink(Arc<std::sync::Mutex<Vec<usize>>>);
    impl Sink for AddressSink {
        fn start(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn write(&mut self, batch: &Batch) -> WriteOutcome {
            self.0.lock().unwrap().push(batch.bytes().as_ptr() as usize);
            WriteOutcome::Accepted
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Arc::default(), Arc::default());
    let pipeline = pipeline_of(
        dir.path(),
        4,
        vec![
            SinkSpec::new("a", AddressSink(Arc::clone(&a)))
                .when(Condition::parse("exists(i)").unwrap()),
            SinkSpec::new("b", AddressSink(Arc::clone(&b))),
        ],
    )
    .unwrap();
    for i in 0..8 {
        pipeline.emit(&serde_json::json!({ "i": i })).unwrap();
    }
    pipeline.shutdown();
    assert_eq!(*a.lock().unwrap(), *b.lock().unwrap());
}
