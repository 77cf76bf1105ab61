//! `rotating_file` with real files and an injected clock: rotation by size
//! and by time, retention, gzip, text mode, records never split.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sinkbox::sinks::{Clock, FileMode, RotatingFileSink, RotatingFileSinkOptions};
use sinkbox::{Batch, Health, Sink, WriteOutcome};

/// A clock the test moves by hand.
#[derive(Clone)]
struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    fn at(secs: u64) -> Self {
        Self(Arc::new(Mutex::new(UNIX_EPOCH + Duration::from_secs(secs))))
    }
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

/// 2026-11-22T10:00:00Z
const T0: u64 = 1_795_341_600;

fn options(path: &Path) -> RotatingFileSinkOptions {
    RotatingFileSinkOptions {
        path: path.to_owned(),
        max_bytes: None,
        interval: None,
        max_files: 100,
        compress: false,
        mode: FileMode::Json,
        sync_on_flush: true,
    }
}

fn record(i: usize) -> String {
    format!(r#"{{"i":{i},"level":"info","message":"event {i:04}"}}"#)
}

fn batch(range: std::ops::Range<usize>) -> Batch {
    Batch::from_records(range.clone().map(record), range.start as u64)
}

fn rotated(active: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.", active.file_name().unwrap().to_str().unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(active.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&prefix)
        })
        .collect();
    // Time stamp, then the `-N` of rotations within one second.
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".gz")
            .to_owned();
        match name.rsplit_once('-') {
            Some((stamp, n)) => (stamp.to_owned(), n.parse::<u64>().unwrap()),
            None => (name, 0),
        }
    });
    files
}

fn contents(path: &Path) -> String {
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = std::fs::read_to_string(path).unwrap();
    }
    text
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

#[test]
fn size_rotation_keeps_every_record_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("logs/app.log");
    let mut sink = RotatingFileSink::with_clock(
        RotatingFileSinkOptions {
            max_bytes: Some(200),
            ..options(&active)
        },
        Arc::new(ManualClock::at(T0)),
    );
    sink.start().unwrap();
    for start in (0..40).step_by(8) {
        assert_eq!(sink.write(&batch(start..start + 8)), WriteOutcome::Accepted);
    }
    sink.stop();
    let mut all = Vec::new();
    for file in rotated(&active).iter().chain([&active]) {
        let text = contents(file);
        assert!(
            text.len() <= 200,
            "{} has {} bytes",
            file.display(),
            text.len()
        );
        assert!(text.ends_with('\n'));
        all.extend(lines(&text));
    }
    assert_eq!(all, (0..40).map(record).collect::<Vec<_>>());
    assert!(
        rotated(&active).len() >= 9,
        "about 4 records of ~50 bytes per 200-byte file"
    );
    let name = rotated(&active)[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(name.starts_with("app.log.20261122T100000Z"), "{name}");
}

#[test]
fn a_record_larger_than_max_bytes_gets_a_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("app.log");
    let mut sink = RotatingFileSink::with_clock(
        RotatingFileSinkOptions {
            max_bytes: Some(100),
            ..options(&active)
        },
        Arc::new(ManualClock::at(T0)),
    );
    sink.start().unwrap();
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(300));
    let records = [record(0), big.clone(), record(1)];
    assert_eq!(
        sink.write(&Batch::from_records(&records, 0)),
        WriteOutcome::Accepted
    );
    sink.stop();
    let files = rotated(&active);
    assert_eq!(files.len(), 2);
    assert_eq!(lines(&contents(&files[0])), vec![record(0)]);
    assert_eq!(lines(&contents(&files[1])), vec![big]);
    assert_eq!(lines(&contents(&active)), vec![record(1)]);
}

#[test]
fn time_rotation_follows_the_clock_not_sleeps() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("app.log");
    let clock = ManualClock::at(T0 + 10);
    let mut sink = RotatingFileSink::with_clock(
        RotatingFileSinkOptions {
            interval: Some(Duration::from_secs(3600)),
            ..options(&active)
        },
        Arc::new(clock.clone()),
    );
    sink.start().unwrap();
    assert_eq!(sink.write(&batch(0..3)), WriteOutcome::Accepted);
    clock.advance(Duration::from_secs(1800)); // 10:30: same hour
    assert_eq!(sink.write(&batch(3..5)), WriteOutcome::Accepted);
    assert!(rotated(&active).is_empty());
    clock.advance(Duration::from_secs(1800)); // 11:00:10: next hour
    assert_eq!(sink.write(&batch(5..6)), WriteOutcome::Accepted);
    clock.advance(Duration::from_secs(3 * 3600)); // a quiet spell: one rotation, not three
    assert_eq!(sink.write(&batch(6..7)), WriteOutcome::Accepted);
    sink.stop();
    let files = rotated(&active);
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with("app.log.20261122T110010Z"), "{files:?}");
    assert!(files[1].ends_with("app.log.20261122T140010Z"), "{files:?}");
    assert_eq!(
        lines(&contents(&files[0])),
        (0..5).map(record).collect::<Vec<_>>()
    );
    assert_eq!(lines(&contents(&files[1])), vec![record(5)]);
    assert_eq!(lines(&contents(&active)), vec![record(6)]);
}

#[test]
fn retention_keeps_only_the_newest_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("app.log");
    let clock = ManualClock::at(T0);
    let mut sink = RotatingFileSink::with_clock(
        RotatingFileSinkOptions {
            interval: Some(Duration::from_secs(60)),
            max_files: 2,
            ..options(&active)
        },
        Arc::new(clock.clone()),
    );
    sink.start().unwrap();
    for i in 0..6 {
        assert_eq!(sink.write(&batch(i..i + 1)), WriteOutcome::Accepted);
        clock.advance(Duration::from_secs(60));
    }
    sink.stop();
    let files = rotated(&active);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(lines(&contents(&files[0])), vec![record(3)]);
    assert_eq!(lines(&contents(&files[1])), vec![record(4)]);
    assert_eq!(lines(&contents(&active)), vec![record(5)]);
}

#[test]
fn retention_leaves_other_files_with_the_same_prefix_alone() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("app.log");
    for other in [
        "app.log.bak",
        "app.log.err",
        "app.log.20261122T100000Z.note",
    ] {
        std::fs::write(dir.path().join(other), "keep me").unwrap();
    }
    let clock = ManualClock::at(T0);
    let mut sink = RotatingFileSink::with_clock(
        RotatingFileSinkOptions {
            interval: Some(Duration::from_secs(60)),
            max_files: 1,
            ..options(&active)
        },
        Arc::new(clock.clone()),
    );
    sink.start().unwrap();
    for i in 0..4 {
        assert_eq!(sink.write(&batch(i..i + 1)), WriteOutcome::Accepted);
        clock.advance(Duration::from_secs(60));
    }
    sink.stop();
    for other in [
        "app.log.bak",
        "app.log.err",
        "app.log.20261122T100000Z.note",
    ] {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(other)).unwrap(),
            "keep me",
            "{other}"
        );
    }
    assert!(dir.path().join("app.log.20261122T100300Z").exists());
    assert!(!dir.path().join("app.log.20261122T100200Z").exists());
}

#[test]
fn gzip_files_decompress_to_exactly_the_rotated_content() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("app.log");
    let mut sink = RotatingFileSink::with_clock(
        RotatingFileSinkOptions {
            max_bytes: Some(1000),
            compress: true,
            max_files: 3,
            ..options(&active)
        },
        Arc::new(ManualClock::at(T0)),
    );
    sink.start().unwrap();
    for start in (0..200).step_by(10) {
        assert_eq!(
            sink.write(&batch(start..start + 10)),
            WriteOutcome::Accepted
        );
    }
    sink.stop(); // waits for the compression thread
    let files = rotated(&active);
    assert_eq!(
        files.len(),
        3,
        "retention applies to compressed files: {files:?}"
    );
    assert!(
        files.iter().all(|f| f.extension().unwrap() == "gz"),
        "{files:?}"
    );
    let mut all: Vec<String> = files.iter().flat_map(|f| lines(&contents(f))).collect();
    all.extend(lines(&contents(&active)));
    let first = serde_json::from_str::<serde_json::Value>(&all[0]).unwrap()["i"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(
        all,
        (first..200).map(record).collect::<Vec<_>>(),
        "contiguous, nothing lost after the pruned files"
    );
}

#[test]
fn text_mode_writes_human_readable_lines() {
    let dir = tempfile::tempdir().unwrap();
    let active = dir.path().join("app.txt");
    let mut sink = RotatingFileSink::with_clock(
        RotatingFileSinkOptions {
            max_bytes: Some(1 << 20),
            mode: FileMode::Text,
            ..options(&active)
        },
        Arc::new(ManualClock::at(T0)),
    );
    sink.start().unwrap();
    let records = [
        r#"{"timestamp":"2026-11-22T10:00:00Z","level":"warn","message":"slow","ms":900}"#,
        "[1,2,3]",
    ];
    assert_eq!(
        sink.write(&Batch::from_records(records, 0)),
        WriteOutcome::Accepted
    );
    assert_eq!(sink.health(), Health::Healthy);
    sink.stop();
    assert_eq!(
        lines(&contents(&active)),
        vec![
            "2026-11-22T10:00:00Z WARN  slow ms=900".to_owned(),
            "[1,2,3]".to_owned()
        ]
    );
}

#[test]
fn options_without_a_rotation_trigger_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = RotatingFileSink::new(options(&dir.path().join("a.log")));
    let err = sink.start().unwrap_err().to_string();
    assert!(
        err.starts_with("set `max_bytes`, `interval`, or both"),
        "{err}"
    );
}
