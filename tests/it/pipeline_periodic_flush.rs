//! `flush_interval`: while records flow, every sink is flushed on its own,
//! without the application calling `flush`; an idle pipeline is not.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sinkbox::SinkSpec;

use crate::support::{Recorder, RecordingSink, read_lines, wait_until};

#[test]
fn records_are_flushed_every_interval_while_they_flow_and_not_while_idle() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let pipeline = sinkbox::Pipeline::builder()
        .data_dir(dir.path())
        .batch(sinkbox::pipeline::BatchOptions {
            max_records: 1000,
            max_bytes: 1 << 20,
            // The batch would sit open for an hour: the interval closes it.
            timeout: Duration::from_secs(3600),
        })
        .flush_interval(Duration::from_millis(100))
        .sink_spec(SinkSpec::new("r", RecordingSink::new(&recorder)))
        .build()
        .unwrap();
    for i in 0..5 {
        pipeline.emit(&serde_json::json!({ "i": i })).unwrap();
    }
    wait_until("the interval flushed the records", || {
        recorder.records.lock().unwrap().len() == 5 && recorder.flushes.load(Ordering::SeqCst) >= 1
    });
    // Idle: nothing new arrived, so no more flushes.
    std::thread::sleep(Duration::from_millis(300));
    let idle = recorder.flushes.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(recorder.flushes.load(Ordering::SeqCst), idle);
    pipeline.emit(&serde_json::json!({ "i": 5 })).unwrap();
    wait_until("a new record brought a new flush", || {
        recorder.flushes.load(Ordering::SeqCst) > idle
            && recorder.records.lock().unwrap().len() == 6
    });
    pipeline.shutdown();
}

#[test]
fn sinkbox_run_delivers_records_while_stdin_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        "[runtime]\nflush_interval = \"200ms\"\n[runtime.batch]\ntimeout = \"1h\"\n[sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n",
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
    for i in 0..100 {
        writeln!(stdin, "{{\"i\":{i}}}").unwrap();
    }
    stdin.flush().unwrap();
    let out = dir.path().join("out.ndjson");
    wait_until("the records reached the file with stdin still open", || {
        out.exists() && read_lines(&out).len() == 100
    });
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
