//! Routing end to end: the three destinations of the routing guide (a
//! network sink, a file, a wasm sink) fed from one pipeline; a reload that
//! swaps conditions under load loses and doubles nothing; the `route` dry
//! run and `validate` show the table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::recording_server::{Answer, RecordingServer};
use crate::support::{guest, numbers, read_lines, sinkbox, toml_pipeline};

#[test]
fn warnings_to_a_webhook_everything_to_a_file_audit_records_to_a_wasm_sink() {
    let dir = tempfile::tempdir().unwrap();
    let received = Arc::new(Mutex::new(Vec::<u64>::new()));
    let server = {
        let received = received.clone();
        RecordingServer::start("127.0.0.1:0", move |request| {
            let body: Vec<serde_json::Value> = serde_json::from_slice(&request.body).unwrap();
            received
                .lock()
                .unwrap()
                .extend(body.iter().map(|r| r["i"].as_u64().unwrap()));
            Answer::ok()
        })
    };
    let granted = dir.path().join("audit-out");
    std::fs::create_dir(&granted).unwrap();
    let pipeline = toml_pipeline(
        dir.path(),
        &format!(
            r#"
[runtime]
data_dir = "data"
[runtime.batch]
max_records = 32
timeout = "1h"
[sinks.alerts]
type = "http"
endpoint = "{}/alerts"
healthcheck = false
when = 'level >= "warn"'
[sinks.archive]
type = "file"
path = "all.ndjson"
[sinks.audit]
type = "wasm"
component = "{}"
grant = {{ path = "{}" }}
config = {{ min_level = "trace" }}
when = 'audit == true and exists(user)'
"#,
            server.base_url(),
            guest("filter-sink").display(),
            granted.display()
        ),
    );
    let levels = ["info", "WARNING", "debug", "error", "critical"];
    for i in 0..300usize {
        let mut record = serde_json::json!({"i": i, "level": levels[i % 5], "message": "m"});
        if i % 7 == 0 {
            record["audit"] = true.into();
            record["user"] = format!("u{i}").into();
        }
        pipeline.emit(&record).unwrap();
    }
    let stats = pipeline.shutdown();
    let warn_or_more: Vec<u64> = (0..300).filter(|i| i % 5 != 0 && i % 5 != 2).collect();
    assert_eq!(*received.lock().unwrap(), warn_or_more);
    assert_eq!(
        numbers(&read_lines(&dir.path().join("all.ndjson"))),
        (0..300).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&read_lines(&granted.join("filtered.ndjson"))),
        (0..300).filter(|i| i % 7 == 0).collect::<Vec<_>>()
    );
    let audit = stats.iter().find(|s| s.name == "audit").unwrap();
    assert_eq!((audit.matched, audit.skipped), (43, 257));
}

const SHARDS: &str = r#"
[runtime.batch]
max_records = 20
timeout = "10ms"
[sinks.a]
type = "file"
path = "a.ndjson"
when = 'shard == A'
[sinks.b]
type = "file"
path = "b.ndjson"
when = 'shard == B'
"#;

#[test]
fn a_reload_that_swaps_conditions_under_load_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = |flip: bool| {
        let (a, b) = if flip { ("1", "0") } else { ("0", "1") };
        sinkbox::config::ConfigLoader::new(&registry)
            .toml(
                &SHARDS.replace("A", a).replace("B", b),
                "t.toml",
                dir.path(),
            )
            .load()
            .unwrap()
    };
    let pipeline = sinkbox::config::build_pipeline(&config(false)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (pipeline, stop) = (pipeline.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) || i < 2000 {
                pipeline
                    .emit(&serde_json::json!({"i": i, "shard": i % 2}))
                    .unwrap();
                i += 1;
            }
            i
        })
    };
    for flip in [true, false, true, false, true] {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let report = pipeline.reload_config(config(flip), &registry).unwrap();
        // A condition lives in the pipeline, not the sink: nothing
        // restarts, and the report says the conditions changed.
        assert_eq!(report.rerouted, vec!["a".to_owned(), "b".to_owned()]);
        assert!(report.changed.is_empty() && report.unchanged.is_empty());
        assert_eq!(report.to_string(), "when changed a, b");
    }
    stop.store(true, Ordering::Relaxed);
    let emitted = producer.join().unwrap();
    pipeline.shutdown();
    let mut all: Vec<usize> = numbers(&read_lines(&dir.path().join("a.ndjson")));
    all.extend(numbers(&read_lines(&dir.path().join("b.ndjson"))));
    all.sort_unstable();
    assert_eq!(all, (0..emitted as usize).collect::<Vec<_>>());
}

#[test]
fn the_route_dry_run_and_validate_show_where_records_go() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        r#"
[sinks.alerts]
type = "stdout"
when = 'level >= "warn"'
[sinks.router]
type = "route"
rules = [{ when = 'audit == true', targets = ["audit"] }]
[sinks.audit]
type = "file"
path = "audit.ndjson"
"#,
    )
    .unwrap();
    let input = dir.path().join("sample.ndjson");
    std::fs::write(
        &input,
        "{\"level\":\"error\",\"audit\":true}\n{\"level\":\"info\"}\nnot json\n",
    )
    .unwrap();
    let output = sinkbox()
        .args(["route", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("1: {\"level\":\"error\",\"audit\":true}\n   -> alerts, router > audit\n"),
        "{stdout}"
    );
    assert!(stdout.contains("2: {\"level\":\"info\"}\n   -> no sink\n   unrouted at router (no rule took it, no default)\n"), "{stdout}");
    assert!(
        stdout.contains("3: not json\n   not JSON: `sinkbox run` skips this line\n"),
        "{stdout}"
    );
    assert!(
        !dir.path().join("audit.ndjson").exists(),
        "a dry run writes nothing"
    );
    let output = sinkbox()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("  alerts (stdout) when level >= \"warn\"\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    rule 1 (first_match): when audit == true -> audit\n"),
        "{stdout}"
    );
}
