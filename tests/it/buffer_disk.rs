//! The disk buffer (`buffer = { type = "disk" }`): a slow sink holds up
//! nothing until its buffer is full, batches left at shutdown come back
//! after a restart with their numbers, damage is skipped and counted, a
//! full buffer drops only when told, a 30-second outage loses nothing, and
//! `sinkbox run` killed with SIGKILL at random points loses nothing it
//! buffered.

use std::path::Path;
use std::time::Duration;

use sinkbox::pipeline::{DiskBufferOptions, SyncPolicy, WhenFull};
use sinkbox::{Batch, Pipeline, Sink, SinkError, SinkSpec, WriteOutcome};

use crate::support::{Gate, Recorder, RecordingSink, emit_numbered, pipeline_of, wait_until};

/// Answers `retryable` to everything: a destination that is down.
struct DownSink;

impl Sink for DownSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, _: &Batch) -> WriteOutcome {
        WriteOutcome::Retryable("the destination is down".into())
    }
}

fn disk(max_size: u64, when_full: WhenFull) -> DiskBufferOptions {
    DiskBufferOptions {
        max_size,
        when_full,
        sync: SyncPolicy::Interval,
        ..Default::default()
    }
}

fn spec(sink: impl Sink + 'static, options: DiskBufferOptions) -> SinkSpec {
    SinkSpec::new("out", sink)
        .queue_capacity(1)
        .retry(sinkbox::pipeline::RetryPolicy {
            max_retries: Some(1_000_000),
            max_retry_duration: None,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_restarts: 3,
        })
        .disk_buffer(options)
}

/// Emits `{"i":n,"pad":"…"}` records for every n in `range`.
fn emit_padded(pipeline: &Pipeline, range: std::ops::Range<usize>, pad: usize) {
    let pad = "p".repeat(pad);
    for i in range {
        pipeline
            .emit_json(format!(r#"{{"i":{i},"pad":"{pad}"}}"#).as_bytes())
            .unwrap();
    }
}

/// A pipeline with one recording sink behind a disk buffer of `max_size`.
fn recording(dir: &Path, max_size: u64) -> (Pipeline, Recorder) {
    let recorder = Recorder::default();
    let pipeline = pipeline_of(
        dir,
        10,
        vec![spec(
            RecordingSink::new(&recorder),
            disk(max_size, WhenFull::Block),
        )],
    )
    .unwrap();
    (pipeline, recorder)
}

fn numbers(recorder: &Recorder) -> Vec<usize> {
    crate::support::numbers(&recorder.records.lock().unwrap())
}

/// Leaves `n` records (batches of 10) in the buffer under `dir`: the sink
/// is down and the shutdown's deadline passes.
fn leave_in_buffer(dir: &Path, n: usize, pad: usize, max_size: u64) {
    let p = pipeline_of(
        dir,
        10,
        vec![spec(DownSink, disk(max_size, WhenFull::Block))],
    )
    .unwrap();
    emit_padded(&p, 0..n, pad);
    let report = p.shutdown_within(Duration::from_millis(500));
    let stats = &report.stats[0];
    assert_eq!(stats.records, 0);
    assert_eq!(
        stats.dead_lettered, 0,
        "nothing is dead-lettered: it stays buffered"
    );
    assert_eq!(
        stats.buffer.as_ref().unwrap().batches,
        (n / 10) as u64,
        "{stats:?}"
    );
}

#[test]
fn a_stuck_sink_does_not_hold_up_the_producer_until_its_buffer_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let gate = Gate::closed();
    let options = DiskBufferOptions {
        max_age: Some(Duration::from_millis(200)),
        ..disk(1 << 30, WhenFull::Block)
    };
    let p = pipeline_of(
        dir.path(),
        10,
        vec![spec(RecordingSink::gated(&recorder, &gate), options)],
    )
    .unwrap();
    // 300 batches behind a queue of 1 and a sink that never returns: every
    // emit still returns, because the batches go to disk.
    emit_numbered(&p, 0..3000);
    crate::support::wait_until("the batches are on disk", || {
        p.stats()[0].buffer.as_ref().unwrap().batches >= 299
    });
    // Past max_age the sink says it is behind.
    crate::support::wait_until(
        "health degrades past max_age",
        || matches!(&p.health()[0].1, sinkbox::Health::Degraded(why) if why.contains("max_age")),
    );
    gate.open();
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dropped), (3000, 0), "{stats:?}");
    assert_eq!(numbers(&recorder), (0..3000).collect::<Vec<_>>());
    // Contiguous numbers from 0, one batch after another.
    let batches = recorder.batches.lock().unwrap().clone();
    let mut next = 0;
    for (first, len) in batches {
        assert_eq!(first, next);
        next += u64::from(len);
    }
    assert_eq!(stats.buffer.unwrap().batches, 0);
}

#[test]
fn batches_left_at_shutdown_are_delivered_after_a_restart_with_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    leave_in_buffer(dir.path(), 300, 0, 1 << 30);
    let (p, recorder) = recording(dir.path(), 1 << 30);
    emit_numbered(&p, 300..400);
    let stats = p.shutdown().remove(0);
    assert_eq!(stats.records, 400, "{stats:?}");
    assert_eq!(numbers(&recorder), (0..400).collect::<Vec<_>>());
    let batches = recorder.batches.lock().unwrap().clone();
    // The buffered batches keep their numbers; new ones carry on after.
    assert_eq!(batches[0], (0, 10));
    assert_eq!(batches[29], (290, 10));
    assert_eq!(batches[30], (300, 10));
    // Space comes back: nothing left but the empty segment being written.
    let buffer = stats.buffer.unwrap();
    assert_eq!(buffer.batches, 0);
    let left: u64 = std::fs::read_dir(dir.path().join("data/buffer/out"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(left < 64 * 1024, "{left} bytes of segments left");
}

#[test]
fn damage_is_skipped_and_counted_and_everything_else_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    // ~2 KB records: 600 KB, over three 256 KiB segments (a 2 MiB buffer).
    leave_in_buffer(dir.path(), 300, 2000, 2 << 20);
    let buffer_dir = dir.path().join("data/buffer/out");
    let mut segments: Vec<_> = std::fs::read_dir(&buffer_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{segments:?}");
    // A flipped byte in the first, the second gone, the last cut short.
    let mut first = std::fs::read(&segments[0]).unwrap();
    let middle = first.len() / 2;
    first[middle] ^= 0x5a;
    std::fs::write(&segments[0], first).unwrap();
    std::fs::remove_file(&segments[1]).unwrap();
    let last = segments.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let (p, recorder) = recording(dir.path(), 2 << 20);
    let stats = p.shutdown().remove(0);
    let corrupt = stats.buffer.as_ref().unwrap().corrupt_records;
    let delivered = numbers(&recorder);
    assert!(corrupt >= 10 + 10 + 100, "{stats:?}");
    assert_eq!(
        delivered.len() as u64 + corrupt,
        300,
        "every record delivered or counted"
    );
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "in order, once");
    assert_eq!(delivered[0], 0);
    // A second start finds nothing left to deliver and nothing new broken.
    drop(p);
    let (p, _again) = recording(dir.path(), 1 << 30);
    let stats = p.shutdown().remove(0);
    assert_eq!(stats.records, 0);
    assert_eq!(stats.buffer.unwrap().corrupt_records, 0);
}

#[test]
fn a_full_buffer_drops_the_newest_only_when_told_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let gate = Gate::closed();
    let p = pipeline_of(
        dir.path(),
        10,
        vec![spec(
            RecordingSink::gated(&recorder, &gate),
            disk(1 << 20, WhenFull::DropNewest),
        )],
    )
    .unwrap();
    // 200 batches of ~20 KB into a 1 MiB buffer.
    emit_padded(&p, 0..2000, 2000);
    crate::support::wait_until("the buffer filled", || p.stats()[0].dropped > 0);
    gate.open();
    let stats = p.shutdown().remove(0);
    let buffer = stats.buffer.clone().unwrap();
    assert_eq!(buffer.dropped_full, stats.dropped);
    assert_eq!(stats.records + stats.dropped, 2000, "{stats:?}");
    assert!(stats.records >= 400, "about 1 MiB went through: {stats:?}");
    let delivered = numbers(&recorder);
    assert!(delivered.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_30_second_outage_under_steady_load_loses_nothing_and_keeps_order() {
    use crate::recording_server::{Answer, RecordingServer, free_port};
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let p = crate::support::toml_pipeline(
        dir.path(),
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 20\ntimeout = \"1h\"\n\
             [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/in\"\nbatch_format = \"ndjson\"\n\
             healthcheck = false\nmax_retries = 100000\ninitial_backoff = \"50ms\"\nmax_backoff = \"500ms\"\nbreaker_cool_down = \"200ms\"\n\
             queue_capacity = 2\nbuffer = {{ type = \"disk\", max_size = \"64MiB\" }}\n"
        ),
    );
    for second in 0..30 {
        emit_numbered(&p, second * 20..second * 20 + 20);
        std::thread::sleep(Duration::from_secs(1));
    }
    let held = p.stats()[0].buffer.clone().unwrap();
    assert!(
        held.batches >= 25,
        "the outage's batches wait on disk: {held:?}"
    );
    let web = RecordingServer::start(&format!("127.0.0.1:{port}"), |_| Answer::ok());
    emit_numbered(&p, 600..620);
    assert!(p.flush(Duration::from_secs(120)).is_complete());
    let stats = p.shutdown().remove(0);
    assert_eq!(
        (stats.records, stats.dead_lettered, stats.dropped),
        (620, 0, 0),
        "{stats:?}"
    );
    let received: Vec<usize> = web
        .requests()
        .iter()
        .flat_map(|r| {
            String::from_utf8(r.body.clone())
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                        .as_u64()
                        .unwrap() as usize
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        received,
        (0..620).collect::<Vec<_>>(),
        "every record, in order, once"
    );
}

#[test]
fn sinkbox_run_killed_at_random_points_loses_nothing_it_buffered() {
    use std::io::Write;
    let started = std::time::Instant::now();
    for iteration in 0..20u64 {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sinkbox.toml");
        std::fs::write(
            &config,
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 25\ntimeout = \"20ms\"\n\
             [sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\nqueue_capacity = 2\n\
             buffer = { type = \"disk\", sync = \"interval\" }\n",
        )
        .unwrap();
        let mut child = crate::support::sinkbox()
            .args(["run", "--config"])
            .arg(&config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0..2_000_000u64 {
                if writeln!(stdin, "{{\"i\":{i}}}").is_err() {
                    return;
                }
            }
        });
        // Kill points spread over the first 700 ms, different each time.
        std::thread::sleep(Duration::from_millis(100 + (iteration * 197) % 600));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        writer.join().unwrap();
        // Restarted with no input: it delivers what it buffered, then ends.
        let status = crate::support::sinkbox()
            .args(["run", "--config"])
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "iteration {iteration}: the restart failed"
        );
        let text = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap_or_default();
        let mut numbers = Vec::new();
        let mut unreadable = 0;
        for line in text.lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(value) => numbers.push(value["i"].as_u64().unwrap()),
                Err(_) => unreadable += 1,
            }
        }
        // At most the line the kill cut in the file itself.
        assert!(
            unreadable <= 1,
            "iteration {iteration}: {unreadable} unreadable lines"
        );
        let total = numbers.len();
        numbers.sort_unstable();
        numbers.dedup();
        let twice = total - numbers.len();
        // Nothing missing in the middle: what was buffered came back.
        assert_eq!(
            numbers,
            (0..numbers.len() as u64).collect::<Vec<_>>(),
            "iteration {iteration}: a gap in what was delivered"
        );
        // Duplicates only from the batches in flight at the kill.
        assert!(
            twice <= 2 * 25,
            "iteration {iteration}: {twice} records twice"
        );
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "bounded in time"
        );
    }
}

#[test]
fn past_max_age_a_failing_buffered_batch_is_dead_lettered_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::recording_server::free_port();
    let pipeline = crate::support::toml_pipeline(
        dir.path(),
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 5\ntimeout = \"1h\"\n\
             [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/in\"\nhealthcheck = false\n\
             initial_backoff = \"20ms\"\nmax_backoff = \"50ms\"\n\
             buffer = {{ type = \"disk\", max_age = \"1s\", max_age_action = \"dead_letter\" }}\n"
        ),
    );
    crate::support::emit_numbered(&pipeline, 0..10);
    let stats = || pipeline.stats().remove(0);
    wait_until(
        "both batches outlive max_age and go to dead letters",
        || stats().dead_lettered == 10,
    );
    // The buffer is empty again and the sink takes what comes next.
    assert_eq!(stats().buffer.unwrap().batches, 0);
    let stats = pipeline.shutdown_within(std::time::Duration::from_secs(2));
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/web.ndjson"));
    assert_eq!(letters.len(), 10, "{:?}", stats.stats);
    assert!(
        letters.iter().all(|l| l["reason"]
            .as_str()
            .unwrap()
            .starts_with("older than the disk buffer's max_age (1s) and still failing")),
        "{letters:?}"
    );
}
