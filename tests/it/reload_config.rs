//! Configuration reload: added, removed and changed sinks; unchanged sinks
//! lose nothing and are not restarted; an invalid configuration changes
//! nothing. And SIGHUP in the CLI.

use std::io::Write;
use std::time::Duration;

use crate::support::{Counts, emit_numbered, numbers, read_lines, wait_until};
use sinkbox::config::{Config, ConfigLoader, build_pipeline_with};
use sinkbox::registry::SinkRegistry;

struct Fixture {
    registry: SinkRegistry,
    counts: Counts,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let (registry, counts) = crate::support::registry_with_counted_type();
        Fixture {
            registry,
            counts,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self, text: &str) -> Config {
        ConfigLoader::new(&self.registry)
            .toml(
                &format!("[runtime.batch]\nmax_records = 10\ntimeout = \"1h\"\n{text}"),
                "test.toml",
                self.dir.path(),
            )
            .load()
            .unwrap()
    }

    fn lines(&self, file: &str) -> Vec<usize> {
        numbers(&read_lines(&self.dir.path().join(file)))
    }
}

const BEFORE: &str = r#"
[sinks.keep]
type = "file"
path = "keep.ndjson"
[sinks.steady]
type = "counted"
[sinks.gone]
type = "file"
path = "gone.ndjson"
[sinks.change]
type = "file"
path = "change-a.ndjson"
"#;

const AFTER: &str = r#"
[sinks.keep]
type = "file"
path = "keep.ndjson"
[sinks.steady]
type = "counted"
[sinks.change]
type = "file"
path = "change-b.ndjson"
queue_capacity = 8
[sinks.fresh]
type = "file"
path = "fresh.ndjson"
"#;

#[test]
fn a_reload_adds_removes_and_changes_sinks_and_leaves_the_rest_alone() {
    let fixture = Fixture::new();
    let pipeline = build_pipeline_with(&fixture.config(BEFORE), &fixture.registry).unwrap();
    emit_numbered(&pipeline, 0..95);
    assert!(pipeline.flush(Duration::from_secs(30)).is_complete());
    emit_numbered(&pipeline, 95..100);
    let report = pipeline
        .reload_config(fixture.config(AFTER), &fixture.registry)
        .unwrap();
    assert_eq!(report.added, ["fresh"]);
    assert_eq!(report.removed, ["gone"]);
    assert_eq!(report.changed, ["change"]);
    assert_eq!(report.unchanged, ["keep", "steady"]);
    assert_eq!(pipeline.sink_names(), ["keep", "steady", "change", "fresh"]);
    emit_numbered(&pipeline, 100..200);
    let stats = pipeline.shutdown();

    assert_eq!(fixture.lines("keep.ndjson"), (0..200).collect::<Vec<_>>());
    assert_eq!(Counts::get(&fixture.counts.starts), 1, "not restarted");
    assert_eq!(Counts::get(&fixture.counts.records), 200);
    assert_eq!(
        fixture.lines("gone.ndjson"),
        (0..100).collect::<Vec<_>>(),
        "drained, not dropped"
    );
    let (a, b) = (
        fixture.lines("change-a.ndjson"),
        fixture.lines("change-b.ndjson"),
    );
    assert_eq!(
        a.iter().chain(&b).copied().collect::<Vec<_>>(),
        (0..200).collect::<Vec<_>>(),
        "the changed sink kept its queue: every record once, in order"
    );
    assert!(a.len() >= 90 && b.len() >= 100, "{} / {}", a.len(), b.len());
    assert_eq!(
        fixture.lines("fresh.ndjson"),
        (100..200).collect::<Vec<_>>(),
        "an added sink gets what is emitted after the reload"
    );
    let change = stats.iter().find(|s| s.name == "change").unwrap();
    assert_eq!(change.reloads, 1);
    let keep = stats.iter().find(|s| s.name == "keep").unwrap();
    assert_eq!(keep.reloads, 0);
}

#[test]
fn a_reload_that_changes_only_a_buffer_changes_the_sink_and_only_its_when_reroutes_it() {
    let fixture = Fixture::new();
    let sink = "[sinks.a]\ntype = \"file\"\npath = \"a.ndjson\"\n";
    let pipeline = build_pipeline_with(&fixture.config(sink), &fixture.registry).unwrap();
    // The settings are compared whole: `buffer` too (the worker then
    // warns that a disk buffer changes at the next start).
    let buffered = format!("{sink}buffer = {{ type = \"disk\" }}\n");
    let report = pipeline
        .reload_config(fixture.config(&buffered), &fixture.registry)
        .unwrap();
    assert_eq!(report.changed, ["a"], "{report}");
    let filtered = format!("{buffered}when = 'level == \"error\"'\n");
    let report = pipeline
        .reload_config(fixture.config(&filtered), &fixture.registry)
        .unwrap();
    assert_eq!(report.to_string(), "when changed a");
    pipeline.shutdown();
}

#[test]
fn an_invalid_configuration_changes_nothing() {
    let fixture = Fixture::new();
    let pipeline = build_pipeline_with(&fixture.config(BEFORE), &fixture.registry).unwrap();
    emit_numbered(&pipeline, 0..50);
    // `fresh` would start fine, but `broken` cannot: the whole reload is refused.
    let bad = fixture.config(
        r#"
        [sinks.keep]
        type = "file"
        path = "keep.ndjson"
        [sinks.fresh]
        type = "file"
        path = "fresh.ndjson"
        [sinks.broken]
        type = "file"
        path = "/proc/no/such/dir/x.ndjson"
        "#,
    );
    let err = pipeline.reload_config(bad, &fixture.registry).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("test.toml:11: sinks.broken: failed to start: "),
        "{err}"
    );
    let missing = fixture.config("[sinks.keep]\ntype = \"wasm\"\ncomponent = \"missing.wasm\"\n");
    let err = pipeline
        .reload_config(missing, &fixture.registry)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("sinks.keep.component: cannot read"),
        "{err}"
    );
    assert_eq!(pipeline.sink_names(), ["keep", "steady", "gone", "change"]);
    emit_numbered(&pipeline, 50..100);
    pipeline.shutdown();
    for file in ["keep.ndjson", "gone.ndjson", "change-a.ndjson"] {
        assert_eq!(fixture.lines(file), (0..100).collect::<Vec<_>>(), "{file}");
    }
    assert!(
        read_lines(&fixture.dir.path().join("fresh.ndjson")).is_empty(),
        "the sink prepared for the refused reload was stopped before it got a record"
    );
    assert_eq!(Counts::get(&fixture.counts.starts), 1);
}

#[test]
fn sighup_reloads_the_configuration_of_a_running_cli() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(&config, "[sinks.a]\ntype = \"file\"\npath = \"a.ndjson\"\n").unwrap();
    let mut child = crate::support::spawn_sinkbox_run(&["--config".as_ref(), config.as_os_str()]);
    let (stderr, reader) = crate::support::collect_stderr(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..10 {
        writeln!(stdin, r#"{{"i":{i}}}"#).unwrap();
    }
    stdin.flush().unwrap();
    let a = dir.path().join("a.ndjson");
    wait_until("a has the first records", || read_lines(&a).len() == 10);
    std::fs::write(
        &config,
        "[sinks.a]\ntype = \"file\"\npath = \"a.ndjson\"\n[sinks.b]\ntype = \"file\"\npath = \"b.ndjson\"\n",
    )
    .unwrap();
    let pid = child.id() as libc::pid_t;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_until("the reload is reported", || {
        stderr
            .lock()
            .unwrap()
            .contains("SIGHUP: configuration reloaded")
    });
    for i in 10..20 {
        writeln!(stdin, r#"{{"i":{i}}}"#).unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("reloaded: added b; unchanged a"),
        "{stderr}"
    );
    assert_eq!(numbers(&read_lines(&a)), (0..20).collect::<Vec<_>>());
    assert_eq!(
        numbers(&read_lines(&dir.path().join("b.ndjson"))),
        (10..20).collect::<Vec<_>>()
    );
}
