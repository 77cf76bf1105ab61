//! Hostile and broken guests: one that traps, one that loops forever, one
//! that allocates past its cap. In each case the host stays up, the faulty
//! sink is restarted and its poisoned batch dead-lettered, and a native sink
//! beside it receives every event.

use std::path::Path;
use std::time::Duration;

use crate::support::{component, fast_retry, read_lines, records, wait_until};
use sinkbox::pipeline::{BatchOptions, PipelineError, RetryPolicy};
use sinkbox::sinks::{FileSink, FileSinkOptions};
use sinkbox::wasm::{GuestLogBuffer, GuestStream, WasmSink, WasmSinkOptions};
use sinkbox::{Pipeline, SinkSpec, SinkStats};

struct FaultRun {
    faulty: SinkStats,
    applog: SinkStats,
    applog_lines: Vec<String>,
    dead_letters: Vec<serde_json::Value>,
}

/// Sends three batches of 4 (the middle one carrying `marker`) to the
/// faulty guest and to a native file sink, then shuts down.
fn run_with_fault(
    dir: &Path,
    guest: &str,
    marker: &str,
    options: WasmSinkOptions,
    retry: RetryPolicy,
) -> FaultRun {
    let faulty = WasmSink::new("faulty", component(guest), options);
    let pipeline = Pipeline::builder()
        .data_dir(dir.join("data"))
        .batch(BatchOptions {
            max_records: 4,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(3600),
        })
        .sink_spec(SinkSpec::new("faulty", faulty).retry(retry))
        .sink(
            "applog",
            FileSink::new(FileSinkOptions {
                path: dir.join("applog.ndjson"),
                sync_on_flush: true,
            }),
        )
        .build()
        .unwrap();
    let mut all = records(0, 4, None, "");
    all.extend(records(4, 4, Some(5), marker));
    all.extend(records(8, 4, None, ""));
    for record in &all {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    let mut stats = pipeline.shutdown();
    let applog = stats.pop().unwrap();
    let faulty = stats.pop().unwrap();
    let applog_lines = read_lines(&dir.join("applog.ndjson"));
    assert_eq!(
        applog_lines, all,
        "the native sink beside the faulty one must get every event, in order"
    );
    FaultRun {
        faulty,
        applog,
        applog_lines,
        dead_letters: crate::support::dead_letters(
            &dir.join("data").join("dead-letter").join("faulty.ndjson"),
        ),
    }
}

fn assert_contained(run: &FaultRun, reason_part: &str) {
    assert_eq!(run.applog.records, 12);
    assert_eq!(run.applog.errors.total(), 0);
    assert_eq!(
        run.faulty.records, 8,
        "the batches without the marker are delivered"
    );
    assert_eq!(
        run.faulty.dead_lettered, 4,
        "the poisoned batch is dead-lettered"
    );
    // Alone, the poisoned batch faults on its first try plus max_restarts = 2,
    // and the sink restarts twice for it and once for the next batch. The
    // worker may first try the three queued batches as one merged call
    // (whether they are queued together depends on timing): that call faults
    // too, then each batch goes alone with its own budget.
    let fatal = run.faulty.errors.fatal;
    assert!(
        fatal == 3 || fatal == 4,
        "first try plus max_restarts = 2, and maybe one merged call: {fatal}"
    );
    assert_eq!(
        run.faulty.restarts, fatal,
        "one restart after each fault: {:?}",
        run.faulty
    );
    assert_eq!(run.dead_letters.len(), 4);
    let sequences: Vec<u64> = run
        .dead_letters
        .iter()
        .map(|l| l["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, vec![4, 5, 6, 7]);
    let reason = run.dead_letters[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(reason_part),
        "dead-letter reason `{reason}` should mention `{reason_part}`"
    );
    assert_eq!(run.applog_lines.len(), 12);
}

#[test]
fn a_trapping_guest_is_restarted_and_its_batch_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let logs = GuestLogBuffer::new();
    let options = WasmSinkOptions {
        log_capture: Some(logs.clone()),
        ..WasmSinkOptions::default()
    };
    let run = run_with_fault(
        dir.path(),
        "trap-sink",
        r#""trap":true"#,
        options,
        fast_retry(),
    );
    assert_contained(
        &run,
        "`write` trapped: wasm trap: wasm `unreachable` instruction executed",
    );
    // The guest's panic message reached the host's diagnostics via stderr.
    assert!(
        logs.lines()
            .iter()
            .any(|l| l.stream == GuestStream::Stderr && l.message.contains("found the trap marker")),
        "{:?}",
        logs.lines()
    );
}

#[test]
fn a_looping_guest_is_stopped_by_its_call_timeout() {
    let _heavy = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let options = WasmSinkOptions {
        call_timeout: Duration::from_millis(200),
        ..WasmSinkOptions::default()
    };
    let run = run_with_fault(
        dir.path(),
        "loop-sink",
        r#""loop":true"#,
        options,
        fast_retry(),
    );
    assert_contained(
        &run,
        "`write` ran past its call_timeout of 200ms and was stopped",
    );
}

#[test]
fn a_guest_sleeping_in_a_host_call_is_stopped_by_its_call_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let options = WasmSinkOptions {
        call_timeout: Duration::from_millis(200),
        ..WasmSinkOptions::default()
    };
    let run = run_with_fault(
        dir.path(),
        "loop-sink",
        r#""sleep":true"#,
        options,
        fast_retry(),
    );
    assert_contained(
        &run,
        "`write` did not return within its call_timeout of 200ms (it was blocked in a host call, such as a sleep)",
    );
}

#[test]
fn a_guest_allocating_past_its_cap_runs_out_of_memory_alone() {
    let dir = tempfile::tempdir().unwrap();
    let options = WasmSinkOptions {
        memory_limit: 16 * 1024 * 1024,
        ..WasmSinkOptions::default()
    };
    let run = run_with_fault(
        dir.path(),
        "oom-sink",
        r#""oom":true"#,
        options,
        fast_retry(),
    );
    assert_contained(&run, "`write` ran out of memory");
    assert_contained(&run, "over its memory_limit of 16777216 bytes");
}

#[test]
fn a_stuck_guest_does_not_delay_the_sink_beside_it() {
    let _heavy = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    // The looping sink needs at least 3 x 1 s before it gives up on the batch.
    let looping = WasmSink::new(
        "looping",
        component("loop-sink"),
        WasmSinkOptions {
            call_timeout: Duration::from_secs(1),
            ..WasmSinkOptions::default()
        },
    );
    let pipeline = Pipeline::builder()
        .data_dir(dir.path().join("data"))
        .batch(BatchOptions {
            max_records: 2,
            ..BatchOptions::default()
        })
        .sink_spec(SinkSpec::new("looping", looping).retry(fast_retry()))
        .sink(
            "applog",
            FileSink::new(FileSinkOptions {
                path: dir.path().join("applog.ndjson"),
                sync_on_flush: false,
            }),
        )
        .build()
        .unwrap();
    let mut all = records(0, 2, Some(0), r#""loop":true"#);
    all.extend(records(2, 100, None, ""));
    for record in &all {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    wait_until("the file sink has every record", || {
        pipeline.stats()[1].records == 102
    });
    let looping = &pipeline.stats()[0];
    assert_eq!(
        looping.dead_lettered, 0,
        "the stuck sink is still working on its first batch"
    );
    assert_eq!(looping.records, 0);
    let stats = pipeline.shutdown();
    assert_eq!(stats[0].dead_lettered, 2);
    assert_eq!(stats[0].records, 100);
}

#[test]
fn a_guest_looping_in_start_fails_the_build_with_the_deadline() {
    let _heavy = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let sink = WasmSink::new(
        "looping",
        component("loop-sink"),
        WasmSinkOptions {
            call_timeout: Duration::from_millis(100),
            config: vec![("loop_in".into(), "start".into())],
            ..WasmSinkOptions::default()
        },
    );
    let result = Pipeline::builder()
        .data_dir(dir.path())
        .sink("looping", sink)
        .build();
    let Err(PipelineError::SinkStart { sink, message }) = result else {
        panic!("a sink whose start never returns must fail the build");
    };
    assert_eq!(sink, "looping");
    assert!(
        message.contains("`start` ran past its call_timeout of 100ms"),
        "{message}"
    );
}

#[test]
fn a_guest_failing_in_health_is_restarted_before_its_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WasmSink::new(
        "sick",
        component("loop-sink"),
        WasmSinkOptions {
            call_timeout: Duration::from_millis(100),
            config: vec![("loop_in".into(), "health".into())],
            ..WasmSinkOptions::default()
        },
    );
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .sink("sick", sink)
        .build()
        .unwrap();
    // The idle worker polls health; the guest hangs there and is cut off.
    wait_until(
        "the health poll reports the fault",
        || matches!(&pipeline.health()[0].1, sinkbox::Health::Unhealthy(why) if why.contains("`health` ran past its call_timeout")),
    );
    for record in records(0, 3, None, "") {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    assert!(pipeline.flush(Duration::from_secs(60)).is_complete());
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.records, 3);
    assert_eq!(
        stats.errors.fatal, 0,
        "the batch went to a fresh instance, not the broken one"
    );
    assert!(stats.restarts >= 1);
    assert_eq!(stats.dead_lettered, 0);
}

#[test]
fn a_spinning_guest_is_stopped_at_its_cpu_limit_before_its_wall_deadline() {
    let _heavy = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let options = WasmSinkOptions {
        call_timeout: Duration::from_secs(60),
        cpu_limit: Duration::from_millis(200),
        ..WasmSinkOptions::default()
    };
    let started = std::time::Instant::now();
    let run = run_with_fault(
        dir.path(),
        "loop-sink",
        r#""loop":true"#,
        options,
        fast_retry(),
    );
    assert_contained(
        &run,
        "`write` used more than its cpu_limit of 200ms of CPU time and was stopped",
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
