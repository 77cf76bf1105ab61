//! Shared helpers for the integration tests: guest components built from
//! source, a shared compile cache, polling with a generous deadline.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sinkbox::pipeline::RetryPolicy;
use sinkbox::wasm::{SinkComponent, WasmEngine};
use sinkbox::{Batch, FlushOutcome, Pipeline, Sink, SinkError, SinkSpec, WriteOutcome};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The compiled component of guest `name`: a Rust guest crate (e.g.
/// `"trap-sink"`), or a Python or JavaScript sink (`"redact-sink-py"`,
/// `"rollup-sink-js"`). Builds them once per test binary (quick when
/// `cargo xtask test` already built them).
pub fn guest(name: &str) -> PathBuf {
    static RUST: OnceLock<()> = OnceLock::new();
    static EVERY_LANGUAGE: OnceLock<()> = OnceLock::new();
    // `cargo xtask guests` knows the Rust guests and installs the target;
    // `build-sinks` also installs the Python and JavaScript toolchains.
    let (once, task) = if name.ends_with("-py") || name.ends_with("-js") {
        (&EVERY_LANGUAGE, "build-sinks")
    } else {
        (&RUST, "guests")
    };
    once.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(workspace_root())
            .args(["run", "--quiet", "--package", "xtask", "--", task])
            .status()
            .expect("run cargo to build the guests");
        assert!(
            status.success(),
            "building the sinks failed; see `cargo xtask {task}`"
        );
    });
    let path = target_dir()
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is missing after the guest build",
        path.display()
    );
    path
}

/// One engine per test binary, sharing a compile cache under `target/`.
pub fn engine() -> WasmEngine {
    static ENGINE: OnceLock<WasmEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| WasmEngine::new(Some(target_dir().join("sinkbox-test-cache"))).unwrap())
        .clone()
}

/// The loaded component of guest crate `name`.
pub fn component(name: &str) -> Arc<SinkComponent> {
    engine().load(&guest(name)).unwrap()
}

/// Retries and restarts that run out fast, so failure paths take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: Some(2),
        max_retry_duration: None,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_restarts: 2,
    }
}

/// Held by the tests that burn CPU on purpose (guests spinning to their
/// call timeout) and by those that run whole guides and language toolchains
/// against the default 2 s call timeout: on a 2-core machine the second kind
/// must not share the cores with the first. Everything else runs beside
/// them.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls `condition` until it holds; panics with `what` after a generous
/// deadline (a last guard, not a timing assertion).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines of a file, or none if it does not exist.
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `n` compact JSON records `{"i":<start+k>,"level":"info"}`, plus `extra`
/// fields spliced into the record at `marker_at`.
pub fn records(start: usize, n: usize, marker_at: Option<usize>, extra: &str) -> Vec<String> {
    (start..start + n)
        .map(|i| {
            if Some(i) == marker_at {
                format!(r#"{{"i":{i},"level":"info",{extra}}}"#)
            } else {
                format!(r#"{{"i":{i},"level":"info"}}"#)
            }
        })
        .collect()
}

/// How often the `counted` sink type was built and started, and how many
/// records it took: tells "one shared instance" and "not restarted" apart.
#[derive(Clone, Default)]
pub struct Counts {
    pub built: Arc<std::sync::atomic::AtomicUsize>,
    pub starts: Arc<std::sync::atomic::AtomicUsize>,
    pub records: Arc<std::sync::atomic::AtomicUsize>,
}

impl Counts {
    pub fn get(counter: &std::sync::atomic::AtomicUsize) -> usize {
        counter.load(std::sync::atomic::Ordering::SeqCst)
    }
}

struct CountedSink(Counts);

impl sinkbox::Sink for CountedSink {
    fn start(&mut self) -> Result<(), sinkbox::SinkError> {
        self.0
            .starts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn write(&mut self, batch: &sinkbox::Batch) -> sinkbox::WriteOutcome {
        self.0
            .records
            .fetch_add(batch.len() as usize, std::sync::atomic::Ordering::SeqCst);
        sinkbox::WriteOutcome::Accepted
    }
}

/// The built-in registry plus a native `counted` type, and its counts.
pub fn registry_with_counted_type() -> (sinkbox::registry::SinkRegistry, Counts) {
    let counts = Counts::default();
    let mut registry = sinkbox::registry::SinkRegistry::builtin();
    let shared = counts.clone();
    registry
        .register(sinkbox::registry::SinkType::new(
            "counted",
            "counts its starts and records",
            move |_options, _context| {
                shared
                    .built
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(Box::new(CountedSink(shared.clone())))
            },
        ))
        .unwrap();
    (registry, counts)
}

/// Collects a child's stderr, line by line, as it runs.
pub fn collect_stderr(
    child: &mut std::process::Child,
) -> (Arc<std::sync::Mutex<String>>, std::thread::JoinHandle<()>) {
    use std::io::BufRead;
    let text = Arc::new(std::sync::Mutex::new(String::new()));
    let pipe = child.stderr.take().expect("stderr is piped");
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    (text, reader)
}

/// The records of a dead-letter file, each as
/// `{"sink", "reason", "sequence", "at", "record"}` (its batch's header
/// joined in); none if the file does not exist.
pub fn dead_letters(path: &Path) -> Vec<serde_json::Value> {
    if !path.exists() {
        return Vec::new();
    }
    sinkbox::pipeline::read_dead_letters(path)
        .unwrap()
        .into_iter()
        .map(|letter| {
            serde_json::json!({
                "sink": letter.sink,
                "reason": letter.reason,
                "sequence": letter.sequence,
                "at": letter.at,
                "record": letter.record,
            })
        })
        .collect()
}

/// The `"i"` field of each JSON line: which numbered records arrived.
pub fn numbers(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["i"].as_u64().unwrap() as usize
        })
        .collect()
}

/// Emits the numbered records `{"i":n}` for every n in `range`.
pub fn emit_numbered(pipeline: &sinkbox::Pipeline, range: std::ops::Range<usize>) {
    for i in range {
        pipeline
            .emit_json(format!(r#"{{"i":{i}}}"#).as_bytes())
            .unwrap();
    }
}

/// Wasm sink options granting `dir` at `/data`, with `config`.
pub fn granted(dir: &Path, config: &[(&str, &str)]) -> sinkbox::wasm::WasmSinkOptions {
    sinkbox::wasm::WasmSinkOptions {
        grant: Some(sinkbox::wasm::DirGrant {
            host_path: dir.to_owned(),
            guest_path: "/data".into(),
            read_only: false,
        }),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..sinkbox::wasm::WasmSinkOptions::default()
    }
}

/// The `sinkbox` binary, sharing the tests' compile cache, without colour
/// or a `SINKBOX_LOG` from the environment: the one way tests run the CLI.
pub fn sinkbox() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sinkbox"));
    cmd.env(
        "SINKBOX_CACHE_DIR",
        workspace_root().join("target").join("sinkbox-test-cache"),
    )
    .env("NO_COLOR", "1")
    .env_remove("SINKBOX_LOG");
    cmd
}

/// `sinkbox run --config CONFIG` at log level `log`, fed `input` on stdin:
/// whether it exited 0, and everything it printed (stdout then stderr).
pub fn run_config_with_input(config: &Path, log: &str, input: &[u8]) -> (bool, String) {
    let output = sinkbox()
        .args(["run", "--config"])
        .arg(config)
        .env("SINKBOX_LOG", log)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input)?;
            child.wait_with_output()
        })
        .expect("run sinkbox");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// `sinkbox run` with `args`, stdin and stderr piped.
pub fn spawn_sinkbox_run(args: &[&std::ffi::OsStr]) -> std::process::Child {
    sinkbox()
        .arg("run")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start sinkbox")
}

// ---- pipelines ----

/// The one way tests build a pipeline: batches close every `max_records`
/// records or on flush (never on time), dead letters go under `dir/data`.
pub fn pipeline_of(
    dir: &Path,
    max_records: u32,
    sinks: Vec<SinkSpec>,
) -> Result<Pipeline, sinkbox::pipeline::PipelineError> {
    let mut builder =
        Pipeline::builder()
            .data_dir(dir.join("data"))
            .batch(sinkbox::pipeline::BatchOptions {
                max_records,
                max_bytes: 1 << 24,
                timeout: Duration::from_secs(3600),
            });
    for spec in sinks {
        builder = builder.sink_spec(spec);
    }
    builder.build()
}

/// A pipeline from configuration text, relative paths resolved against
/// `dir` (the way tests drive a sink through its real option parsing).
pub fn toml_pipeline(dir: &Path, toml: &str) -> Pipeline {
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(toml, "t.toml", dir)
        .load()
        .unwrap();
    sinkbox::config::build_pipeline(&config).unwrap()
}

/// A pipeline with one network sink of `sink_type` named `name`, sending to
/// `endpoint`, batches of `max_records` (never closed by time), quick
/// back-off, no healthcheck, and `extra` TOML lines for the sink.
pub fn network_pipeline(
    dir: &Path,
    sink_type: &str,
    name: &str,
    endpoint: &str,
    max_records: u32,
    extra: &str,
) -> Pipeline {
    toml_pipeline(
        dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = {max_records}\ntimeout = \"1h\"\n\
             [sinks.{name}]\ntype = \"{sink_type}\"\nendpoint = \"{endpoint}\"\nhealthcheck = false\n\
             initial_backoff = \"20ms\"\nmax_backoff = \"200ms\"\n{extra}\n"
        ),
    )
}

/// A pipeline with one recording sink (see [`Recorder`]).
pub fn recording_pipeline(dir: &Path, max_records: u32) -> (Pipeline, Recorder) {
    let recorder = Recorder::default();
    let pipeline = pipeline_of(
        dir,
        max_records,
        vec![SinkSpec::new("recorder", RecordingSink::new(&recorder))],
    )
    .unwrap();
    (pipeline, recorder)
}

/// A pipeline with one wasm sink named `name`, running guest `guest` with
/// `options` and fast retries.
pub fn wasm_pipeline(
    dir: &Path,
    max_records: u32,
    name: &str,
    guest: &str,
    options: sinkbox::wasm::WasmSinkOptions,
) -> Result<Pipeline, sinkbox::pipeline::PipelineError> {
    let sink = sinkbox::wasm::WasmSink::new(name, component(guest), options);
    pipeline_of(
        dir,
        max_records,
        vec![SinkSpec {
            retry: fast_retry(),
            ..SinkSpec::new(name, sink)
        }],
    )
}

/// A gate a test opens to let a blocked sink go on.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(bool, u32)>, // (open, writes entered)
    changed: Condvar,
}

impl Gate {
    pub fn closed() -> Arc<Gate> {
        Arc::new(Gate::default())
    }
    pub fn open(&self) {
        self.state.lock().unwrap().0 = true;
        self.changed.notify_all();
    }
    pub fn pass(&self) {
        let mut state = self.state.lock().unwrap();
        state.1 += 1;
        self.changed.notify_all();
        while !state.0 {
            state = self.changed.wait(state).unwrap();
        }
    }
    pub fn entered(&self) -> u32 {
        self.state.lock().unwrap().1
    }
}

/// Records what it receives; optionally blocks every write on a gate.
#[derive(Clone, Default)]
pub struct Recorder {
    pub records: Arc<Mutex<Vec<String>>>,
    pub batches: Arc<Mutex<Vec<(u64, u32)>>>,
    pub flushes: Arc<AtomicU32>,
    pub stops: Arc<AtomicU32>,
}

pub struct RecordingSink {
    pub recorder: Recorder,
    pub gate: Option<Arc<Gate>>,
    pub panic_once: bool,
}

impl RecordingSink {
    pub fn new(recorder: &Recorder) -> Self {
        Self {
            recorder: recorder.clone(),
            gate: None,
            panic_once: false,
        }
    }
    pub fn gated(recorder: &Recorder, gate: &Arc<Gate>) -> Self {
        Self {
            gate: Some(gate.clone()),
            ..Self::new(recorder)
        }
    }
}

impl Sink for RecordingSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if let Some(gate) = &self.gate {
            gate.pass();
        }
        if std::mem::take(&mut self.panic_once) {
            panic!("a bug in a native sink");
        }
        self.recorder
            .batches
            .lock()
            .unwrap()
            .push((batch.first_sequence(), batch.len()));
        let mut records = self.recorder.records.lock().unwrap();
        records.extend(
            batch
                .records()
                .map(|r| String::from_utf8(r.to_vec()).unwrap()),
        );
        WriteOutcome::Accepted
    }
    fn flush(&mut self) -> FlushOutcome {
        self.recorder.flushes.fetch_add(1, Ordering::SeqCst);
        FlushOutcome::Done
    }
    fn stop(&mut self) {
        self.recorder.stops.fetch_add(1, Ordering::SeqCst);
    }
}
