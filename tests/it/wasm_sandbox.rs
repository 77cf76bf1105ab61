//! The sandbox around real example sinks: directory grants and nothing else,
//! guest logs through the host, the compile cache.

use std::path::Path;
use std::time::Duration;

use crate::support::{component, guest, read_lines};
use sinkbox::pipeline::BatchOptions;
use sinkbox::wasm::{
    DirGrant, GuestLevel, GuestLogBuffer, GuestStream, WasmEngine, WasmSink, WasmSinkOptions,
};
use sinkbox::{Pipeline, SinkSpec};

const EVENTS: &[&str] = &[
    r#"{"level":"info","message":"ok","route":"/a"}"#,
    r#"{"level":"error","message":"boom","route":"/a"}"#,
    r#"{"level":"warn","message":"slow","route":"/b"}"#,
    r#"{"level":"debug","message":"detail","route":"/a"}"#,
    r#"{"level":"ERROR","message":"boom again","route":"/b"}"#,
    r#"{"message":"no level"}"#,
];

fn grant(dir: &Path) -> Option<DirGrant> {
    Some(DirGrant {
        host_path: dir.join("granted"),
        guest_path: "/data".into(),
        read_only: false,
    })
}

fn filter(config: &[(&str, &str)], grant: Option<DirGrant>) -> WasmSink {
    WasmSink::new(
        "filter",
        component("filter-sink"),
        WasmSinkOptions {
            grant,
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..WasmSinkOptions::default()
        },
    )
}

fn run(
    dir: &Path,
    sinks: Vec<SinkSpec>,
) -> Result<Vec<sinkbox::SinkStats>, sinkbox::pipeline::PipelineError> {
    let mut builder = Pipeline::builder()
        .data_dir(dir.join("data"))
        .batch(BatchOptions {
            max_records: 4,
            ..BatchOptions::default()
        });
    for sink in sinks {
        builder = builder.sink_spec(sink);
    }
    let pipeline = builder.build()?;
    for event in EVENTS {
        pipeline.emit_json(event.as_bytes()).unwrap();
    }
    assert!(pipeline.flush(Duration::from_secs(60)).is_complete());
    Ok(pipeline.shutdown())
}

#[test]
fn the_filter_sink_writes_matching_records_into_its_granted_directory() {
    let dir = tempfile::tempdir().unwrap();
    let warn_up = filter(
        &[("min_level", "warn"), ("path", "/data/warn.ndjson")],
        grant(dir.path()),
    );
    let route_b = WasmSink::new(
        "route_b",
        component("filter-sink"),
        WasmSinkOptions {
            grant: grant(dir.path()),
            config: vec![
                ("min_level".into(), "trace".into()),
                ("field".into(), "route".into()),
                ("equals".into(), "/b".into()),
                ("path".into(), "/data/route_b.ndjson".into()),
            ],
            ..WasmSinkOptions::default()
        },
    );
    let stats = run(
        dir.path(),
        vec![
            SinkSpec::new("warn_up", warn_up),
            SinkSpec::new("route_b", route_b),
        ],
    )
    .unwrap();
    assert!(
        stats
            .iter()
            .all(|s| s.records == 6 && s.errors.total() == 0),
        "{stats:?}"
    );
    assert_eq!(
        read_lines(&dir.path().join("granted/warn.ndjson")),
        vec![EVENTS[1], EVENTS[2], EVENTS[4]]
    );
    assert_eq!(
        read_lines(&dir.path().join("granted/route_b.ndjson")),
        vec![EVENTS[2], EVENTS[4]]
    );
}

#[test]
fn without_a_grant_a_sink_has_no_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(dir.path(), vec![SinkSpec::new("filter", filter(&[], None))]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cannot open `/data/filtered.ndjson`"),
        "{message}"
    );
    assert!(message.contains("grant the sink a directory"), "{message}");
}

#[test]
fn a_grant_reaches_only_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.ndjson");
    let escape = format!(
        "/data/../{}",
        outside.file_name().unwrap().to_str().unwrap()
    );
    for path in [
        escape.as_str(),
        "/etc/sinkbox-probe.ndjson",
        outside.to_str().unwrap(),
    ] {
        let sink = filter(&[("path", path)], grant(dir.path()));
        let err = run(dir.path(), vec![SinkSpec::new("filter", sink)]).unwrap_err();
        assert!(err.to_string().contains("cannot open"), "{path}: {err}");
    }
    assert!(!outside.exists());
    assert!(!Path::new("/etc/sinkbox-probe.ndjson").exists());
}

#[test]
fn a_read_only_grant_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("granted")).unwrap();
    let read_only = Some(DirGrant {
        read_only: true,
        ..grant(dir.path()).unwrap()
    });
    let err = run(
        dir.path(),
        vec![SinkSpec::new("filter", filter(&[], read_only))],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot open `/data/filtered.ndjson`"),
        "{err}"
    );
    assert!(!dir.path().join("granted/filtered.ndjson").exists());
}

#[test]
fn a_bad_option_is_refused_with_the_guest_message() {
    let dir = tempfile::tempdir().unwrap();
    let sink = filter(&[("min_level", "loud")], grant(dir.path()));
    let err = run(dir.path(), vec![SinkSpec::new("filter", sink)]).unwrap_err();
    assert!(
        err.to_string()
            .contains("min_level = `loud` is not a level"),
        "{err}"
    );
}

#[test]
fn the_stats_sink_reports_through_the_host_log_on_flush_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let logs = GuestLogBuffer::new();
    let stats_sink = WasmSink::new(
        "stats",
        component("stats-sink"),
        WasmSinkOptions {
            log_capture: Some(logs.clone()),
            ..WasmSinkOptions::default()
        },
    );
    run(dir.path(), vec![SinkSpec::new("stats", stats_sink)]).unwrap();
    let lines: Vec<String> = logs
        .lines()
        .into_iter()
        .filter(|l| {
            l.stream == GuestStream::Log && l.level == GuestLevel::Info && l.sink == "stats"
        })
        .map(|l| l.message)
        .collect();
    let summary = "stats: total=6 debug=1 error=2 info=1 none=1 warn=1 malformed=0";
    // One report for the explicit flush; the flush before stop has nothing new.
    assert_eq!(lines, vec![summary.to_owned(), format!("final {summary}")]);
}

#[test]
fn the_compile_cache_serves_a_second_engine() {
    let cache = tempfile::tempdir().unwrap();
    let path = guest("count-sink");
    let first = WasmEngine::new(Some(cache.path().to_owned())).unwrap();
    assert!(!first.load(&path).unwrap().from_cache());
    let second = WasmEngine::new(Some(cache.path().to_owned())).unwrap();
    assert!(second.load(&path).unwrap().from_cache());
    // A corrupt entry is ignored and replaced, never fatal: whole
    // components and Cranelift's function entries alike.
    for entry in sinkbox::wasm::cache_entries(cache.path()).unwrap() {
        std::fs::write(&entry.path, b"garbage").unwrap();
    }
    let third = WasmEngine::new(Some(cache.path().to_owned())).unwrap();
    assert!(!third.load(&path).unwrap().from_cache());
    let fourth = WasmEngine::new(Some(cache.path().to_owned())).unwrap();
    assert!(fourth.load(&path).unwrap().from_cache());
}
