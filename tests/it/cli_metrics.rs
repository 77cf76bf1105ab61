//! `sinkbox run --metrics-addr`: a Prometheus scrape of a running pipeline.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

#[test]
fn a_scrape_shows_each_sinks_counters_health_and_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 10\ntimeout = \"20ms\"\n\
         [sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\nbuffer = { type = \"disk\" }\n\
         [sinks.errors]\ntype = \"file\"\npath = \"errors.ndjson\"\nwhen = 'level >= \"error\"'\n",
    )
    .unwrap();
    let mut child = crate::support::sinkbox()
        .args(["run", "--metrics-addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no metrics address printed"
        );
        if let Some(url) = line.trim().strip_prefix("metrics at ") {
            break url.to_owned();
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..100 {
        let level = if i % 10 == 0 { "error" } else { "info" };
        writeln!(stdin, "{{\"i\":{i},\"level\":\"{level}\"}}").unwrap();
    }
    // What the input held: a malformed line and one past --max-record-bytes
    // (1 MiB) are counted, never held.
    writeln!(stdin, "not json").unwrap();
    writeln!(stdin, "{{\"big\":\"{}\"}}", "x".repeat(2 << 20)).unwrap();
    stdin.flush().unwrap();
    let scrape = || reqwest::blocking::get(&url).unwrap();
    crate::support::wait_until("the scrape counts every record", || {
        scrape()
            .text()
            .unwrap()
            .contains("sinkbox_sink_records_total{sink=\"out\"} 100\n")
    });
    let response = scrape();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().unwrap();
    for expected in [
        "# TYPE sinkbox_sink_records_total counter",
        "sinkbox_sink_records_total{sink=\"errors\"} 10\n",
        "sinkbox_sink_skipped_total{sink=\"errors\"} 90\n",
        "sinkbox_sink_health{sink=\"out\",state=\"healthy\"} 1\n",
        "sinkbox_sink_buffer_batches{sink=\"out\"} 0\n",
        "sinkbox_sink_errors_total{sink=\"out\",outcome=\"retryable\"} 0\n",
        "# TYPE sinkbox_input_lines_total counter",
        "sinkbox_input_lines_total 102\n",
        "sinkbox_input_events_total 100\n",
        "sinkbox_input_malformed_total 1\n",
        "sinkbox_input_oversized_total 1\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // The errors sink has no disk buffer, so no buffer line of its own.
    assert!(!text.contains("sinkbox_sink_buffer_batches{sink=\"errors\"}"));
    let missing = reqwest::blocking::get(url.replace("/metrics", "/other")).unwrap();
    assert_eq!(missing.status(), 404);
    drop(stdin);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "sinkbox did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}
