//! The hostile-guest suite: one attacker's sink (`hostile-sink`, one `mode`
//! per attack) run through the real pipeline beside a native file sink.
//! Each test asserts that the host stays up, that the native sink has every
//! record in order, that the dead-letter store and everything the host logs
//! about the sink stay under a stated bound, and that the sink's counters
//! say what happened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::support::{component, read_lines};
use sinkbox::pipeline::{BatchOptions, RetryPolicy};
use sinkbox::sinks::{FileSink, FileSinkOptions};
use sinkbox::wasm::{MAX_GUEST_TEXT_BYTES, WasmSink, WasmSinkOptions};
use sinkbox::{Health, Pipeline, SinkSpec, SinkStats};

/// Everything the host logged about one sink (events whose `sink` field
/// names it): bytes, lines, and the messages themselves.
#[derive(Default, Clone)]
struct SinkLog {
    bytes: u64,
    lines: u64,
    messages: Vec<String>,
}

static LOGS: OnceLock<Mutex<HashMap<String, SinkLog>>> = OnceLock::new();

struct CaptureLayer;

#[derive(Default)]
struct Fields {
    sink: Option<String>,
    text: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "sink" {
            self.sink = Some(value.to_owned());
        } else {
            self.text.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let value = format!("{value:?}");
        if field.name() == "sink" {
            self.sink = Some(value);
        } else if field.name() == "message" {
            // `Arguments` print as they were written, without quotes.
            self.text.push_str(&value);
        } else {
            self.text.push_str(&value);
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CaptureLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(sink) = fields.sink else { return };
        let mut logs = LOGS.get().unwrap().lock().unwrap();
        let log = logs.entry(sink).or_default();
        log.bytes += fields.text.len() as u64;
        log.lines += 1;
        if log.messages.len() < 10_000 {
            log.messages.push(fields.text);
        }
    }
}

fn install_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        LOGS.set(Mutex::new(HashMap::new())).ok();
        let subscriber = tracing_subscriber::registry().with(CaptureLayer);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

fn log_of(sink: &str) -> SinkLog {
    LOGS.get()
        .unwrap()
        .lock()
        .unwrap()
        .get(sink)
        .cloned()
        .unwrap_or_default()
}

/// One attack's run.
struct Run {
    hostile: SinkStats,
    archive: SinkStats,
    dead_letter_bytes: u64,
    dead_letters: Vec<serde_json::Value>,
    log: SinkLog,
    elapsed: Duration,
    dir: tempfile::TempDir,
    health: Health,
}

struct Attack<'a> {
    /// The hostile guest: the Rust one, or the C one (`hostile-sink-c`).
    guest: &'static str,
    mode: &'a str,
    records: usize,
    batch: usize,
    config: Vec<(&'a str, String)>,
    optional: bool,
    /// Idle this long before shutting down, so the worker asks for health.
    idle: Duration,
    /// No merged batches (see [`Attack::one_call_per_batch`]).
    one_call_per_batch: bool,
}

impl<'a> Attack<'a> {
    fn new(mode: &'a str) -> Self {
        Self {
            guest: "hostile-sink",
            mode,
            records: 40,
            batch: 20,
            config: Vec::new(),
            optional: false,
            idle: Duration::ZERO,
            one_call_per_batch: false,
        }
    }

    /// The same attack from the C guest.
    fn in_c(mut self) -> Self {
        self.guest = "hostile-sink-c";
        self
    }

    fn records(mut self, records: usize, batch: usize) -> Self {
        self.records = records;
        self.batch = batch;
        self
    }

    fn config(mut self, key: &'a str, value: impl Into<String>) -> Self {
        self.config.push((key, value.into()));
        self
    }

    fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// For attacks whose volume is counted per call (the guest floods its
    /// log on every `write`): each batch in a call of its own.
    fn one_call_per_batch(mut self) -> Self {
        self.one_call_per_batch = true;
        self
    }

    fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// A unique sink name per mode, so the captured log is this run's.
    fn sink_name(&self) -> String {
        let mode: String = self
            .mode
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let language = if self.guest.ends_with("-c") { "c_" } else { "" };
        format!("hostile_{language}{mode}")
    }

    fn run(self) -> Run {
        install_capture();
        let _heavy = crate::support::exclusive();
        let dir = tempfile::tempdir().unwrap();
        let name = self.sink_name();
        let mut options =
            crate::support::granted(&dir.path().join("granted"), &[("mode", self.mode)]);
        options
            .config
            .extend(self.config.iter().map(|(k, v)| (k.to_string(), v.clone())));
        options.memory_limit = 32 << 20;
        options.call_timeout = Duration::from_millis(500);
        if self.one_call_per_batch {
            options.merge_max_bytes = 0;
        }
        let hostile = WasmSink::new(&name, component(self.guest), options);
        let started = Instant::now();
        let pipeline = Pipeline::builder()
            .data_dir(dir.path().join("data"))
            .batch(BatchOptions {
                max_records: self.batch as u32,
                max_bytes: 1 << 20,
                timeout: Duration::from_secs(3600),
            })
            .sink_spec(
                SinkSpec::new(&name, hostile)
                    .retry(RetryPolicy {
                        max_retries: Some(2),
                        max_retry_duration: None,
                        initial_backoff: Duration::from_millis(1),
                        max_backoff: Duration::from_millis(5),
                        max_restarts: 2,
                    })
                    .optional(self.optional),
            )
            .sink(
                "archive",
                FileSink::new(FileSinkOptions {
                    path: dir.path().join("archive.ndjson"),
                    sync_on_flush: true,
                }),
            )
            .build()
            .expect("the pipeline builds beside the hostile sink");
        let records = crate::support::records(0, self.records, None, "");
        for record in &records {
            pipeline.emit_json(record.as_bytes()).unwrap();
        }
        let _ = pipeline.flush(Duration::from_secs(120));
        std::thread::sleep(self.idle);
        let health = pipeline.health()[0].1.clone();
        let mut stats = pipeline.shutdown();
        let elapsed = started.elapsed();
        let archive = stats.pop().unwrap();
        let hostile = stats.pop().unwrap();
        assert_eq!(
            read_lines(&dir.path().join("archive.ndjson")),
            records,
            "the native sink beside the hostile one has every record, in order"
        );
        assert_eq!(archive.records, self.records as u64);
        let dead_dir = dir.path().join("data/dead-letter");
        let dead_letter_bytes = dir_bytes(&dead_dir);
        let dead_letters = crate::support::dead_letters(&dead_dir.join(format!("{name}.ndjson")));
        Run {
            hostile,
            archive,
            dead_letter_bytes,
            dead_letters,
            log: log_of(&name),
            elapsed,
            dir,
            health,
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().metadata().unwrap().len()).sum())
        .unwrap_or(0)
}

/// What the host may log about one sink in a run: the guest's budget
/// (burst plus rate over the run) and the host's own lines, each at most
/// one bounded guest text plus its own words, a few per batch attempt.
fn log_bound(run: &Run, batches: u64) -> u64 {
    let budget = sinkbox::wasm::DEFAULT_LOG_BURST
        + sinkbox::wasm::DEFAULT_LOG_RATE * (run.elapsed.as_secs() + 1);
    let host_lines = (batches + 2) * 12 * (MAX_GUEST_TEXT_BYTES as u64 + 512);
    budget + host_lines
}

/// The common checks of a contained attack.
fn assert_bounded(run: &Run, batches: u64) {
    assert!(
        run.log.bytes <= log_bound(run, batches),
        "the host logged {} bytes about the sink, over the bound of {}",
        run.log.bytes,
        log_bound(run, batches)
    );
    // Every dead-letter batch is its records plus one bounded header.
    let bound = batches * (20 * 64 + MAX_GUEST_TEXT_BYTES as u64 + 1024);
    assert!(
        run.dead_letter_bytes <= bound,
        "dead letters take {} bytes, over the bound of {bound}",
        run.dead_letter_bytes
    );
    for message in &run.log.messages {
        assert!(
            !message.contains('\n') && !message.contains('\u{1b}') && !message.contains('\0'),
            "a logged line holds a raw control character: {message:?}"
        );
    }
    let _ = &run.archive;
}

/// Every record was either accepted or dead-lettered, none lost.
fn assert_accounted(run: &Run, records: u64) {
    assert_eq!(
        run.hostile.records + run.hostile.dead_lettered,
        records,
        "{:?}",
        run.hostile
    );
}

// ---- loops, traps, memory, stack, sleeps: in every export ----

#[test]
fn a_loop_in_write_is_cut_at_the_call_timeout() {
    let run = Attack::new("loop:write").run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.dead_lettered, 40);
    assert!(
        run.hostile.restarts >= 4,
        "two restarts per batch: {:?}",
        run.hostile
    );
    assert!(
        run.dead_letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("call_timeout")
    );
}

#[test]
fn a_loop_in_flush_and_stop_is_cut_and_the_records_stay_accepted() {
    for mode in ["loop:flush", "loop:stop"] {
        let run = Attack::new(mode).run();
        assert_bounded(&run, 2);
        assert_eq!(run.hostile.records, 40, "{mode}: writes were accepted");
    }
}

#[test]
fn a_loop_in_health_is_cut_and_the_sink_recovers_for_the_next_batch() {
    let run = Attack::new("loop:health")
        .idle(Duration::from_millis(2600))
        .run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.records, 40);
}

#[test]
fn a_loop_in_start_fails_the_build_or_runs_without_an_optional_sink() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = crate::support::granted(dir.path(), &[("mode", "loop:start")]);
    options.call_timeout = Duration::from_millis(300);
    let err = Pipeline::builder()
        .data_dir(dir.path().join("data"))
        .sink(
            "looping",
            WasmSink::new("looping", component("hostile-sink"), options),
        )
        .build()
        .err()
        .expect("a sink that cannot start is a build error by default");
    assert!(err.to_string().contains("call_timeout"), "{err}");

    let run = Attack::new("loop:start").records(20, 20).optional().run();
    assert_bounded(&run, 1);
    assert_eq!(run.hostile.records, 0);
    assert_eq!(run.hostile.dead_lettered, 20, "nothing lost: dead-lettered");
    assert!(
        matches!(run.health, Health::Unhealthy(_)),
        "{:?}",
        run.health
    );
}

#[test]
fn traps_in_every_export_are_contained() {
    for (mode, accepted) in [
        ("trap:write", 0),
        ("trap:flush", 40),
        ("trap:stop", 40),
        ("trap:health", 40),
    ] {
        let attack = Attack::new(mode);
        let attack = if mode == "trap:health" {
            attack.idle(Duration::from_millis(2600))
        } else {
            attack
        };
        let run = attack.run();
        assert_bounded(&run, 2);
        assert_accounted(&run, 40);
        assert_eq!(run.hostile.records, accepted, "{mode}: {:?}", run.hostile);
        if mode == "trap:write" {
            assert!(run.hostile.errors.fatal >= 2, "{mode}: {:?}", run.hostile);
        }
    }
    let run = Attack::new("trap:start").records(20, 20).optional().run();
    assert_eq!(run.hostile.dead_lettered, 20);
}

#[test]
fn a_memory_bomb_runs_out_of_its_own_memory() {
    let run = Attack::new("oom").run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.dead_lettered, 40);
    assert!(
        run.dead_letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("out of memory"),
        "{}",
        run.dead_letters[0]["reason"]
    );
}

#[test]
fn a_stack_overflow_traps_alone() {
    let run = Attack::new("stack_overflow").run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.dead_lettered, 40);
    assert!(
        run.dead_letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("trapped")
    );
}

#[test]
fn a_sleep_in_a_wasi_call_is_cut_at_the_call_timeout() {
    let run = Attack::new("sleep").records(20, 20).run();
    assert_bounded(&run, 1);
    assert_eq!(run.hostile.dead_lettered, 20);
    assert!(
        run.dead_letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("call_timeout")
    );
}

// ---- huge, NUL-filled, escape-laden reasons in every outcome ----

#[test]
fn huge_reasons_in_every_outcome_are_cut_and_escaped_once_per_batch() {
    for mode in [
        "huge:rejected",
        "huge:retryable",
        "huge:partial",
        "huge:fatal",
    ] {
        let run = Attack::new(mode).records(200, 20).run();
        assert_bounded(&run, 10);
        assert_eq!(run.hostile.dead_lettered, 200, "{mode}: {:?}", run.hostile);
        let reason = run.dead_letters[0]["reason"].as_str().unwrap();
        assert!(
            reason.len() <= MAX_GUEST_TEXT_BYTES + 200,
            "{mode}: {}",
            reason.len()
        );
        assert!(reason.contains("more bytes cut"), "{mode}");
        assert!(!reason.contains('\0') && !reason.contains('\n') && !reason.contains('\u{1b}'));
        assert!(
            run.dead_letter_bytes < 200 * 1024,
            "{mode}: {} bytes of dead letters for 200 small records",
            run.dead_letter_bytes
        );
    }
}

#[test]
fn huge_start_errors_and_health_texts_are_cut_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let err = Pipeline::builder()
        .data_dir(dir.path().join("data"))
        .sink(
            "refuser",
            WasmSink::new(
                "refuser",
                component("hostile-sink"),
                WasmSinkOptions {
                    config: vec![("mode".into(), "huge:start".into())],
                    ..WasmSinkOptions::default()
                },
            ),
        )
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.len() < MAX_GUEST_TEXT_BYTES + 300, "{}", err.len());
    assert!(!err.contains('\0') && !err.contains('\n'));

    let run = Attack::new("huge:health")
        .idle(Duration::from_millis(2600))
        .run();
    assert_bounded(&run, 2);
    let Health::Degraded(why) = &run.health else {
        panic!("{:?}", run.health)
    };
    assert!(why.len() <= MAX_GUEST_TEXT_BYTES + 100 && !why.contains('\0'));

    let run = Attack::new("huge:flush").run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.records, 40);
}

// ---- diagnostics floods: one budget per sink ----

#[test]
fn log_spam_with_empty_lines_is_not_free() {
    let run = Attack::new("log_empty").one_call_per_batch().run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.records, 40);
    assert!(run.hostile.guest_log_dropped > 300_000, "{:?}", run.hostile);
    // Dropped lines are summarised once in a while, not one warning each.
    let notes = run
        .log
        .messages
        .iter()
        .filter(|m| m.contains("dropped over"))
        .count();
    assert!((1..=5).contains(&notes), "{notes} drop notes");
}

#[test]
fn floods_of_huge_lines_on_log_stdout_and_stderr_share_one_budget() {
    for mode in ["log_huge", "stdout_flood", "stderr_flood"] {
        let run = Attack::new(mode)
            .records(100, 10)
            .one_call_per_batch()
            .run();
        assert_bounded(&run, 10);
        assert_eq!(run.hostile.records, 100, "{mode}");
        assert!(
            run.hostile.guest_log_dropped > 0,
            "{mode}: {:?}",
            run.hostile
        );
        // 80 MiB were attempted.
        assert!(run.log.bytes < 4 << 20, "{mode}: {}", run.log.bytes);
    }
}

#[test]
fn the_log_budget_survives_restarts() {
    // Logs 8 MiB and traps on every write: each restart is a new instance,
    // yet the budget is the sink's.
    let run = Attack::new("log_then_trap").records(100, 10).run();
    assert_bounded(&run, 10);
    assert_eq!(run.hostile.dead_lettered, 100);
    assert!(run.hostile.restarts >= 20, "{:?}", run.hostile);
    assert!(run.log.bytes < 4 << 20, "{}", run.log.bytes);
}

#[test]
fn guest_text_cannot_forge_host_log_lines_or_terminal_escapes() {
    let run = Attack::new("log_forge").run();
    assert_bounded(&run, 2);
    let forged: Vec<&String> = run
        .log
        .messages
        .iter()
        .filter(|m| m.contains("forged"))
        .collect();
    assert!(!forged.is_empty());
    for message in forged {
        assert!(
            message.contains("\\n2026-01-01") && message.contains("\\u{1b}[2J"),
            "{message}"
        );
    }
}

// ---- filesystem escapes and sockets ----

#[test]
fn filesystem_escapes_stay_inside_the_grant() {
    for mode in ["escape_dotdot", "escape_absolute", "escape_symlink"] {
        let outside = tempfile::tempdir().unwrap();
        let victim: PathBuf = outside.path().join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let run = Attack::new(mode)
            .config("victim", victim.display().to_string())
            .run();
        assert_bounded(&run, 2);
        assert_eq!(run.hostile.records, 40, "{mode}: {:?}", run.hostile);
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "keep\n",
            "{mode}: the guest wrote outside its grant"
        );
        assert!(
            !run.dir.path().join("escaped").exists(),
            "{mode}: the guest wrote beside its grant"
        );
        let refused = run
            .log
            .messages
            .iter()
            .filter(|m| m.contains("refused"))
            .count();
        assert!(refused > 0, "{mode}: {:?}", run.log.messages);
    }
}

// ---- the same attacks written in C (`example-sinks/hostile-sink-c`) ----

#[test]
fn a_c_sink_that_loops_is_cut_at_the_call_timeout() {
    let run = Attack::new("loop").in_c().run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.dead_lettered, 40);
    assert!(
        run.dead_letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("call_timeout"),
        "{}",
        run.dead_letters[0]["reason"]
    );
}

#[test]
fn a_c_sink_that_allocates_without_bound_stops_at_its_memory_cap() {
    let run = Attack::new("alloc").in_c().run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.dead_lettered, 40);
    assert!(run.hostile.restarts >= 2, "{:?}", run.hostile);
    let reason = run.dead_letters[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("trap") || reason.contains("memory"),
        "{reason}"
    );
}

#[test]
fn a_c_sink_cannot_read_or_write_outside_its_grant() {
    let run = Attack::new("escape").in_c().run();
    assert_bounded(&run, 2);
    assert_eq!(
        run.hostile.dead_lettered, 40,
        "every write was refused: {:?}",
        run.hostile
    );
    let reason = run.dead_letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("refused: reading /etc/passwd"), "{reason}");
    assert!(!run.dir.path().join("escaped.txt").exists());
}

#[test]
fn sockets_are_not_reachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let tcp_port = listener.local_addr().unwrap().port();
    let run = Attack::new("sockets")
        .config("port", tcp_port.to_string())
        .run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.records, 40);
    assert!(listener.accept().is_err(), "the guest connected over TCP");
    let mut buf = [0u8; 8];
    assert!(udp.recv_from(&mut buf).is_err(), "the guest sent UDP");
    assert!(run.log.messages.iter().any(|m| m.contains("tcp refused")));
}

// ---- the partial contract ----

#[test]
fn partial_out_of_range_is_treated_as_accepted_and_partial_zero_runs_out() {
    let run = Attack::new("partial_out_of_range").run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.records, 40);
    let run = Attack::new("partial_zero").run();
    assert_bounded(&run, 2);
    assert_eq!(run.hostile.dead_lettered, 40);
    assert_eq!(
        run.hostile.retries, 4,
        "two retries per batch, then dead letters"
    );
}

// ---- a module that faults right after a reload ----

#[test]
fn a_module_that_faults_after_a_reload_is_rolled_back_without_loss() {
    install_capture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("granted");
    let mut options = crate::support::granted(
        &out,
        &[("path", "/data/accepted.ndjson"), ("mode", "trap:write")],
    );
    options.call_timeout = Duration::from_millis(500);
    let pipeline =
        crate::support::wasm_pipeline(dir.path(), 10, "reloaded", "outcome-sink", options).unwrap();
    crate::support::emit_numbered(&pipeline, 0..50);
    assert!(pipeline.flush(Duration::from_secs(60)).is_complete());
    let good_hash = pipeline.stats()[0].module_hash.clone().unwrap();
    let report = pipeline
        .reload_sink(
            "reloaded",
            sinkbox::reload::ModuleSource::Path(crate::support::guest("hostile-sink")),
        )
        .expect("the new module starts, so the reload is accepted");
    assert!(!report.unchanged);
    crate::support::emit_numbered(&pipeline, 50..100);
    assert!(pipeline.flush(Duration::from_secs(60)).is_complete());
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.rollbacks, 1, "{stats:?}");
    assert_eq!(stats.module_hash.as_deref(), Some(good_hash.as_str()));
    assert!(
        stats
            .last_reload_error
            .as_deref()
            .unwrap()
            .contains("rolled back"),
        "{stats:?}"
    );
    assert_eq!(stats.dead_lettered, 0);
    assert_eq!(stats.records, 100);
    let accepted = crate::support::numbers(&read_lines(&out.join("accepted.ndjson")));
    assert_eq!(
        accepted,
        (0..100).collect::<Vec<_>>(),
        "nothing lost or doubled"
    );
}

// ---- the headline case, through the CLI ----

#[test]
fn sinkbox_run_with_a_huge_rejected_reason_keeps_disk_and_stderr_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            [runtime]
            data_dir = "data"
            [runtime.batch]
            max_records = 100
            [sinks.archive]
            type = "file"
            path = "archive.ndjson"
            [sinks.hostile]
            type = "wasm"
            component = "{}"
            memory_limit = "32MiB"
            call_timeout = "500ms"
            max_retries = 2
            max_restarts = 2
            initial_backoff = "1ms"
            grant = {{ path = "granted" }}
            config = {{ mode = "huge:rejected" }}
            "#,
            crate::support::guest("hostile-sink").display()
        ),
    )
    .unwrap();
    let input: String = (0..1000).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    std::fs::write(dir.path().join("in.ndjson"), input).unwrap();
    let output = crate::support::sinkbox()
        .current_dir(dir.path())
        .args(["run", "--config"])
        .arg(&config)
        .args(["--input", "in.ndjson"])
        .output()
        .unwrap();
    // Every record was rejected and dead-lettered: status 3 says so.
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(read_lines(&dir.path().join("archive.ndjson")).len(), 1000);
    let dead = dir_bytes(&dir.path().join("data/dead-letter"));
    assert!(
        dead < 100 * 1024,
        "{dead} bytes of dead letters (71 GB before the fix)"
    );
    assert!(
        output.stderr.len() < 200 * 1024,
        "{} bytes on stderr",
        output.stderr.len()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\0') && !stderr.contains('\u{1b}'));
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/hostile.ndjson"));
    assert_eq!(letters.len(), 1000);
}

// ---- host paths a guest could reach ----

#[test]
fn a_grant_that_overlaps_a_host_path_is_refused_with_a_pointed_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sinks")).unwrap();
    std::fs::create_dir_all(root.join("conf")).unwrap();
    std::fs::copy(
        crate::support::guest("hostile-sink"),
        root.join("sinks/hostile.wasm"),
    )
    .unwrap();
    let config_for = |grant: &str| {
        format!(
            r#"
            [runtime]
            data_dir = "{root}/data"
            cache_dir = "{root}/cache"
            [sinks.archive]
            type = "file"
            path = "{root}/logs/archive.ndjson"
            [sinks.hostile]
            type = "wasm"
            component = "{root}/sinks/hostile.wasm"
            grant = {{ path = "{root}/{grant}" }}
            "#,
            root = root.display()
        )
    };
    for (grant, overlaps) in [
        ("data", "the data dir"),
        ("data/dead-letter", "the data dir"),
        ("cache", "the compile cache"),
        ("conf", "the config file"),
        ("logs", "`sinks.archive.path`"),
        ("sinks", "`sinks.hostile.component`"),
        ("", "the data dir"),
        ("conf/../data", "the data dir"),
    ] {
        let file = root.join("conf/sinkbox.toml");
        std::fs::write(&file, config_for(grant)).unwrap();
        let config = sinkbox::Config::from_file(&file).unwrap();
        let err = config
            .check(&sinkbox::registry::SinkRegistry::builtin())
            .expect_err(grant)
            .to_string();
        assert!(
            err.contains("sinks.hostile.grant") && err.contains(&format!("overlaps {overlaps}")),
            "grant `{grant}`: {err}"
        );
    }
    let file = root.join("conf/sinkbox.toml");
    std::fs::write(&file, config_for("out")).unwrap();
    let config = sinkbox::Config::from_file(&file).unwrap();
    config
        .check(&sinkbox::registry::SinkRegistry::builtin())
        .expect("a grant of its own is fine");
}

#[test]
fn native_file_sinks_do_not_write_through_a_planted_symlink() {
    use sinkbox::Sink;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep\n").unwrap();
    let link = dir.path().join("app.ndjson");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let mut sink = FileSink::new(FileSinkOptions {
        path: link.clone(),
        sync_on_flush: true,
    });
    let err = sink.start().unwrap_err().to_string();
    assert!(err.contains("symlink"), "{err}");
    let mut rotating =
        sinkbox::sinks::RotatingFileSink::new(sinkbox::sinks::RotatingFileSinkOptions {
            path: link.clone(),
            max_bytes: Some(1 << 20),
            interval: None,
            max_files: 10,
            compress: false,
            mode: sinkbox::sinks::FileMode::Json,
            sync_on_flush: true,
        });
    assert!(
        rotating.start().is_err() || {
            rotating.write(&sinkbox::Batch::from_records([r#"{"a":1}"#], 0))
                != sinkbox::WriteOutcome::Accepted
        }
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
}

// ---- module files ----

#[test]
fn module_files_that_are_not_regular_or_too_large_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("sink.wasm");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let engine = crate::support::engine();
    let err = engine.load(&fifo).err().unwrap().to_string();
    assert!(
        err.contains("not a regular file") && err.contains("FIFO"),
        "{err}"
    );
    let err = engine.load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("a directory"), "{err}");
    let small = sinkbox::wasm::WasmEngine::new(None)
        .unwrap()
        .with_max_component_size(1024);
    let err = small
        .load(&crate::support::guest("hostile-sink"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("max_component_size"), "{err}");
}
