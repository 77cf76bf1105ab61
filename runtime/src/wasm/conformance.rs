//! The conformance suite behind `sinkbox check`: drives one sink component
//! through its whole lifecycle in the sandbox and says, step by step, what
//! the contract expected and what the sink did.

use std::path::Path;
use std::time::{Duration, Instant};

use super::diagnostics::{GuestLogBuffer, GuestLogLine};
use super::engine::WasmEngine;
use super::wasm_sink::{WasmSink, WasmSinkOptions};
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, WriteOutcome};

/// One step of the suite.
#[derive(Clone, Debug)]
pub struct ConformanceStep {
    /// What was done, such as `write (empty batch)`.
    pub name: String,
    /// Whether the sink did what the contract asks.
    pub passed: bool,
    /// What the sink answered, and on failure what was expected.
    pub detail: String,
    /// How long the call took.
    pub elapsed: Duration,
    /// The guest's own log lines during the step.
    pub guest_log: Vec<GuestLogLine>,
}

/// Every step that ran, in order. A failed `load` or `start` ends the suite.
#[derive(Clone, Debug, Default)]
pub struct ConformanceReport {
    /// The steps.
    pub steps: Vec<ConformanceStep>,
}

impl ConformanceReport {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.passed)
    }
}

/// Records in the "normal" batch: what a logging pipeline sends.
fn normal_batch() -> Batch {
    let records = (0..16).map(|i| {
        format!(
            r#"{{"ts":"2026-11-22T10:00:{i:02}Z","level":"{}","message":"request {i} served","status":200,"latency_ms":{}.5}}"#,
            ["info", "warn", "error", "debug"][i % 4],
            i * 3
        )
    });
    Batch::from_records(records, 0)
}

/// Valid JSON that sinks tend to get wrong: non-object records, escapes,
/// deep nesting, huge numbers, empty strings, a long string.
fn odd_batch() -> Batch {
    let deep = format!("{}1{}", "[".repeat(64), "]".repeat(64));
    let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(64 * 1024));
    let records = vec![
        "{}".to_owned(),
        "[]".to_owned(),
        r#""just a string""#.to_owned(),
        "null".to_owned(),
        "true".to_owned(),
        "-0".to_owned(),
        "1e308".to_owned(),
        "123456789012345678901234567890".to_owned(),
        r#"{"message":"line\nbreak\ttab \"quoted\" \\ back","unicode":"\u00e9\u4e2d\ud83d\ude00 é中😀"}"#.to_owned(),
        r#"{"level":"","message":"","":"empty key"}"#.to_owned(),
        r#"{"level":"ERROR","level":"info","dup":1}"#.to_owned(),
        r#"{"nested":{"a":[1,{"b":null,"c":[true,false]}],"d":{"e":{"f":{}}}}}"#.to_owned(),
        format!(r#"{{"deep":{deep}}}"#),
        long,
    ];
    Batch::from_records(records, 16)
}

struct Suite {
    sink: WasmSink,
    log: GuestLogBuffer,
    report: ConformanceReport,
}

impl Suite {
    fn step(
        &mut self,
        name: impl Into<String>,
        call: impl FnOnce(&mut WasmSink) -> Result<String, String>,
    ) -> bool {
        let name = name.into();
        let started = Instant::now();
        let result = call(&mut self.sink);
        let elapsed = started.elapsed();
        let passed = result.is_ok();
        self.report.steps.push(ConformanceStep {
            name,
            passed,
            detail: result.unwrap_or_else(|e| e),
            elapsed,
            guest_log: self.log.take(),
        });
        passed
    }
}

/// A `partial` answer that counts every record of the batch, or more: the
/// contract says `accepted` is less than the batch holds, and a C sink
/// that computes it by hand is the one that gets it wrong.
fn partial_past_the_batch(outcome: &WriteOutcome, batch: &Batch) -> Option<String> {
    match outcome {
        WriteOutcome::Partial { accepted, .. } if *accepted >= batch.len() => Some(format!(
            "`partial` says {accepted} of the batch's {} records were delivered: it must count fewer than the batch holds (answer `accepted` when every record was delivered)",
            batch.len()
        )),
        _ => None,
    }
}

fn describe_write(outcome: &WriteOutcome) -> String {
    match outcome {
        WriteOutcome::Accepted => "accepted".into(),
        WriteOutcome::Retryable(why) => format!("retryable: {why}"),
        WriteOutcome::Deferred { wait, reason } => format!("deferred for {wait:?}: {reason}"),
        WriteOutcome::Rejected(why) => format!("rejected: {why}"),
        WriteOutcome::Partial { accepted, reason } => {
            format!("partial ({accepted} accepted): {reason}")
        }
        WriteOutcome::Records(results) => format!(
            "per record: {} ranges not simply delivered",
            results.ranges.len()
        ),
        WriteOutcome::Fatal(why) => format!("fatal: {why}"),
    }
}

/// Runs the suite against the component at `path` with `options` (its
/// config, grant and limits).
pub fn run_conformance(
    engine: &WasmEngine,
    path: &Path,
    options: WasmSinkOptions,
) -> ConformanceReport {
    let mut suite = match Suite::started(engine, path, options) {
        Ok(suite) => suite,
        Err(report) => return report,
    };
    let empty = Batch::from_records(std::iter::empty::<&str>(), 0);
    let batches: [(&'static str, Batch, bool); 3] = [
        ("write (empty batch)", empty, false),
        ("write (16 ordinary log records)", normal_batch(), false),
        ("write (odd but valid JSON)", odd_batch(), true),
    ];
    for (name, batch, may_reject) in batches {
        suite.step(name, |sink| {
            let outcome = sink.write(&batch);
            let text = describe_write(&outcome);
            if let Some(wrong) = partial_past_the_batch(&outcome, &batch) {
                return Err(format!("{text}; {wrong}"));
            }
            match outcome {
                WriteOutcome::Accepted => Ok(text),
                WriteOutcome::Records(ref results) if results.all_delivered() => Ok(text),
                WriteOutcome::Rejected(_) | WriteOutcome::Partial { .. } | WriteOutcome::Records(_)
                    if may_reject =>
                {
                    Ok(format!(
                    "{text} (allowed: a sink may refuse records it cannot use, but every record here is valid JSON)"
                ))
                }
                WriteOutcome::Fatal(_) => Err(format!(
                    "{text}; expected `accepted`: a trap, a deadline or memory-limit hit, or a `fatal` answer here means the sink cannot handle a batch every pipeline sends"
                )),
                _ => Err(format!("{text}; expected `accepted`")),
            }
        });
        if sink_is_dead(&suite.sink) {
            break;
        }
    }
    suite.finish()
}

/// What the sink answered to each of the caller's own batches.
#[derive(Clone, Debug, Default)]
pub struct BatchRun {
    /// The lifecycle steps (load, start, each write, flush, stop). A write
    /// step passes unless the instance broke (trap, deadline, memory,
    /// `fatal`); its detail is the sink's answer.
    pub report: ConformanceReport,
    /// Writes answered with anything but `accepted` (`retryable`,
    /// `rejected`, `partial`): the sink worked but did not take everything.
    pub refused: usize,
}

/// Starts the component at `path` and hands it `batches`, one `write` each,
/// then flushes and stops it: a sink author's own input, raw bytes allowed,
/// to exercise every outcome (`sinkbox check --input`).
pub fn run_batches(
    engine: &WasmEngine,
    path: &Path,
    options: WasmSinkOptions,
    batches: &[Batch],
) -> BatchRun {
    let mut suite = match Suite::started(engine, path, options) {
        Ok(suite) => suite,
        Err(report) => {
            return BatchRun { report, refused: 0 };
        }
    };
    let mut refused = 0;
    for batch in batches {
        let first = batch.first_sequence();
        let name = format!(
            "write (records {}..{})",
            first,
            first + u64::from(batch.len())
        );
        suite.step(name, |sink| {
            let outcome = sink.write(batch);
            let text = describe_write(&outcome);
            if let Some(wrong) = partial_past_the_batch(&outcome, batch) {
                return Err(format!("{text}; {wrong}"));
            }
            match outcome {
                WriteOutcome::Accepted => Ok(text),
                WriteOutcome::Fatal(_) => Err(text),
                _ => {
                    refused += 1;
                    Ok(text)
                }
            }
        });
        if sink_is_dead(&suite.sink) {
            break;
        }
    }
    BatchRun {
        report: suite.finish(),
        refused,
    }
}

impl Suite {
    /// Loads and starts the component; a report of the failed step if either
    /// fails.
    fn started(
        engine: &WasmEngine,
        path: &Path,
        mut options: WasmSinkOptions,
    ) -> Result<Suite, ConformanceReport> {
        let started = Instant::now();
        let component = match engine.load(path) {
            Ok(component) => component,
            Err(err) => {
                return Err(ConformanceReport {
                    steps: vec![ConformanceStep {
                        name: "load (compile, check the contract)".into(),
                        passed: false,
                        detail: err.to_string(),
                        elapsed: started.elapsed(),
                        guest_log: Vec::new(),
                    }],
                });
            }
        };
        let log = GuestLogBuffer::new();
        options.log_capture = Some(log.clone());
        let mut suite = Suite {
            sink: WasmSink::new("check", component.clone(), options),
            log,
            report: ConformanceReport::default(),
        };
        suite.report.steps.push(ConformanceStep {
            name: "load (compile, check the contract)".into(),
            passed: true,
            detail: if component.from_cache() {
                "from the compile cache".into()
            } else {
                "compiled".into()
            },
            elapsed: started.elapsed(),
            guest_log: Vec::new(),
        });
        let started = suite.step("start", |sink| {
        sink.start()
            .map(|()| "ok".into())
            .map_err(|e| format!("{e}; `start` must accept a valid configuration (pass the sink's options with --config key=value)"))
    });
        if !started {
            return Err(suite.report);
        }
        Ok(suite)
    }

    /// Flushes twice, asks health and stops twice: the end of every run.
    fn finish(mut self) -> ConformanceReport {
        let suite = &mut self;
        for name in ["flush", "flush again (must be idempotent)"] {
            if sink_is_dead(&suite.sink) {
                break;
            }
            suite.step(name, |sink| match sink.flush() {
                FlushOutcome::Done => Ok("done".into()),
                FlushOutcome::Retryable(why) => Err(format!(
                    "retryable: {why}; expected `done` with nothing left to deliver"
                )),
                FlushOutcome::Fatal(why) => Err(format!("fatal: {why}; expected `done`")),
            });
        }
        if !sink_is_dead(&suite.sink) {
            suite.step("health", |sink| match sink.health() {
                Health::Healthy => Ok("healthy".into()),
                Health::Degraded(why) => Ok(format!("degraded: {why}")),
                Health::Unhealthy(why) => Err(format!(
                    "unhealthy: {why}; expected healthy after a clean run"
                )),
            });
        }
        for name in ["stop", "stop again (must be idempotent)"] {
            if sink_is_dead(&suite.sink) {
                suite.report.steps.push(ConformanceStep {
                    name: name.into(),
                    passed: false,
                    detail: "skipped: the instance died in an earlier step".into(),
                    elapsed: Duration::ZERO,
                    guest_log: Vec::new(),
                });
                continue;
            }
            suite.step(name, |sink| sink.stop_guest().map(|()| "ok".into()));
        }
        self.report
    }
}

fn sink_is_dead(sink: &WasmSink) -> bool {
    sink.needs_restart()
}
