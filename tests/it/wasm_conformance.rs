//! The conformance suite behind `sinkbox check`: passes on the example sinks,
//! fails with a useful message on each fault guest.

use std::time::Duration;

use crate::support::{engine, guest};
use sinkbox::wasm::{ConformanceReport, DirGrant, WasmSinkOptions, run_conformance};

fn check(
    name: &str,
    config: &[(&str, &str)],
    tweak: impl FnOnce(&mut WasmSinkOptions),
) -> ConformanceReport {
    let mut options = WasmSinkOptions {
        call_timeout: Duration::from_millis(300),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..WasmSinkOptions::default()
    };
    tweak(&mut options);
    run_conformance(&engine(), &guest(name), options)
}

/// `name: detail` of the first failed step.
fn first_failure(report: &ConformanceReport) -> String {
    let step = report
        .steps
        .iter()
        .find(|s| !s.passed)
        .unwrap_or_else(|| panic!("expected a failure: {report:#?}"));
    format!("{}: {}", step.name, step.detail)
}

const ALL_STEPS: [&str; 10] = [
    "load (compile, check the contract)",
    "start",
    "write (empty batch)",
    "write (16 ordinary log records)",
    "write (odd but valid JSON)",
    "flush",
    "flush again (must be idempotent)",
    "health",
    "stop",
    "stop again (must be idempotent)",
];

#[test]
fn the_example_sinks_pass_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let grant = |options: &mut WasmSinkOptions| {
        options.grant = Some(DirGrant {
            host_path: dir.path().to_owned(),
            guest_path: "/data".into(),
            read_only: false,
        })
    };
    for (name, config) in [
        ("filter-sink", &[("min_level", "debug")][..]),
        ("stats-sink", &[][..]),
        ("count-sink", &[][..]),
    ] {
        let report = check(name, config, grant);
        assert!(report.passed(), "{name}: {report:#?}");
        let steps: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(steps, ALL_STEPS, "{name}");
    }
    // The filter kept the debug-and-above ordinary records and wrote them.
    let written = std::fs::read_to_string(dir.path().join("filtered.ndjson")).unwrap();
    assert!(written.contains("request 0 served"), "{written}");
}

#[test]
fn the_guests_own_log_lines_are_shown_with_their_step() {
    let dir = tempfile::tempdir().unwrap();
    let report = check("stats-sink", &[], |options| {
        options.grant = Some(DirGrant {
            host_path: dir.path().to_owned(),
            guest_path: "/data".into(),
            read_only: false,
        })
    });
    let flush = report.steps.iter().find(|s| s.name == "flush").unwrap();
    assert!(
        !flush.guest_log.is_empty(),
        "stats-sink reports its counts on flush: {report:#?}"
    );
}

#[test]
fn each_fault_guest_fails_with_a_message_that_says_what_happened() {
    let failure = |name: &str, config: &[(&str, &str)]| first_failure(&check(name, config, |_| {}));
    let trap = failure("trap-sink", &[("trap_in", "write")]);
    assert!(
        trap.starts_with("write (empty batch): fatal: `write` trapped: "),
        "{trap}"
    );
    assert!(trap.contains("expected `accepted`"), "{trap}");
    let report = check("trap-sink", &[("trap_in", "flush")], |_| {});
    assert_eq!(
        first_failure(&report),
        "flush: fatal: `flush` trapped: wasm trap: wasm `unreachable` instruction executed; expected `done`"
    );
    let flush = report.steps.iter().find(|s| s.name == "flush").unwrap();
    assert!(
        flush
            .guest_log
            .iter()
            .any(|line| line.message.contains("told to trap in flush")),
        "the guest's panic message is shown with the step: {flush:#?}"
    );
    assert!(
        failure("trap-sink", &[("trap_in", "stop")]).starts_with("stop: `stop` trapped"),
        "{}",
        failure("trap-sink", &[("trap_in", "stop")])
    );
    assert_eq!(
        failure("loop-sink", &[("loop_in", "write")]),
        "write (empty batch): fatal: `write` ran past its call_timeout of 300ms and was stopped; expected `accepted`: a trap, a deadline or memory-limit hit, or a `fatal` answer here means the sink cannot handle a batch every pipeline sends"
    );
    let start = failure("loop-sink", &[("loop_in", "start")]);
    assert!(
        start.starts_with("start: `start` ran past its call_timeout of 300ms"),
        "{start}"
    );
    assert!(
        start.contains("pass the sink's options with --config"),
        "{start}"
    );
    assert_eq!(
        failure("loop-sink", &[("loop_in", "health")]),
        "health: unhealthy: `health` ran past its call_timeout of 300ms and was stopped; expected healthy after a clean run"
    );
    let oom = first_failure(&check("oom-sink", &[("oom_in", "write")], |options| {
        options.memory_limit = 16 << 20;
    }));
    assert!(
        oom.starts_with("write (empty batch): fatal: `write` ran out of memory"),
        "{oom}"
    );
    assert!(
        failure("outcome-sink", &[("refuse", "true")]).starts_with(
            "start: the sink refused its configuration: refusing to start because the option `refuse` is true"
        )
    );
}

#[test]
fn a_file_that_is_not_a_sink_fails_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, wat::parse_str("(module)").unwrap()).unwrap();
    let report = run_conformance(&engine(), &core, WasmSinkOptions::default());
    assert_eq!(report.steps.len(), 1);
    assert!(!report.passed());
    assert!(
        first_failure(&report).contains("is a core WebAssembly module, not a component"),
        "{}",
        first_failure(&report)
    );
}
