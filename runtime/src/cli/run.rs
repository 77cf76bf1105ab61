//! `sinkbox run`: NDJSON in, every configured sink out.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sinkbox::Pipeline;

use sinkbox::registry::SinkRegistry;

use super::ConfigArgs;
use super::input_lines::{InputCounters, Line, LineReader};
use super::run_end::{self, RunEnd};
use super::served_sources::ServedSources;

/// Malformed lines reported one by one; past this only the count is kept.
const MAX_REPORTED_MALFORMED: u64 = 20;

/// How `run` reads its input lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// One JSON value per line; a line that is not is skipped and counted.
    #[default]
    Json,
    /// Every line is text: it becomes `{"message": "<line>", "timestamp": "<now>"}`.
    Text,
    /// A JSON line is kept as it is; any other line is taken as text.
    Auto,
}

/// A line of text as a record: the line (invalid UTF-8 replaced) and the
/// time it was read.
pub fn text_record(line: &[u8]) -> serde_json::Value {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    serde_json::json!({
        "message": String::from_utf8_lossy(text),
        "timestamp": humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string(),
    })
}

/// How `run` reads and what it serves besides.
pub struct RunOptions<'a> {
    /// How input lines are read.
    pub format: InputFormat,
    /// Reload modules and the config file when they change.
    pub watch: bool,
    /// Serve Prometheus metrics here.
    pub metrics_addr: Option<&'a str>,
    /// Keep reading the input file as it grows.
    pub follow: bool,
    /// How long SIGINT or SIGTERM waits for the sinks to deliver what they
    /// hold; shortly before it the rest is dead-lettered (or left in disk
    /// buffers), and at it the process exits.
    pub shutdown_timeout: Duration,
    /// The longest input line taken; longer ones are skipped and counted.
    pub max_record_bytes: u64,
}

pub fn run(
    sources: &ConfigArgs,
    input: Option<&str>,
    options: RunOptions<'_>,
) -> anyhow::Result<ExitCode> {
    let RunOptions {
        format,
        watch,
        metrics_addr,
        follow,
        shutdown_timeout,
        max_record_bytes,
    } = options;
    let counted = std::sync::Arc::new(InputCounters::default());
    if follow && input.is_none_or(|input| input == "-") {
        eprintln!("error: --follow needs --input FILE (stdin already waits for more)");
        return Ok(ExitCode::from(2));
    }
    let config = match sources.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let pipeline = match sinkbox::config::build_pipeline(&config) {
        Ok(pipeline) => pipeline,
        Err(err) => {
            eprintln!("error: {err:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} events read ({per_sec})")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    // The configuration's sources serve until a signal ends the run.
    let served = Arc::new(ServedSources::start(&config, &pipeline)?);
    let serving_only = input.is_none() && served.len() > 0;
    spawn_signal_handler(
        pipeline.clone(),
        started,
        (sources.clone(), served.clone()),
        progress.clone(),
        shutdown_timeout,
        (counted.clone(), format),
        (source_summary(&served), serving_only),
    )?;
    let _metrics = match metrics_addr {
        Some(addr) => Some(super::metrics_server::MetricsServer::start(
            addr,
            pipeline.clone(),
            Some(counted.clone()),
            source_metrics(&served),
        )?),
        None => None,
    };
    let _watcher = if watch {
        let loader = sources.clone();
        let config_file = sources.config.clone().map(|path| {
            let load: sinkbox::reload::ConfigSource = Box::new(move || loader.load());
            (path, load)
        });
        Some(
            sinkbox::reload::ReloadWatcher::start(
                pipeline.clone(),
                config_file,
                SinkRegistry::builtin(),
                sinkbox::reload::WatchOptions {
                    on_config_reloaded: Some({
                        let served = served.clone();
                        Arc::new(move |config| served.apply(config))
                    }),
                    ..Default::default()
                },
            )
            .context("cannot watch the sink and config files")?,
        )
    } else {
        None
    };

    let input = match input {
        Some(input) => input,
        None if !config.sources.is_empty() => {
            eprintln!(
                "serving {} source(s); stop with Ctrl-C or SIGTERM (queues are drained first)",
                config.sources.len()
            );
            loop {
                std::thread::park();
            }
        }
        None => "-",
    };
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else if follow {
        Box::new(
            super::follow_reader::FollowReader::open(input.into())
                .with_context(|| format!("cannot open the input `{input}`"))?,
        )
    } else {
        Box::new(File::open(input).with_context(|| format!("cannot open the input `{input}`"))?)
    };
    let reader = BufReader::with_capacity(1 << 20, reader);

    let mut lines = LineReader::new(reader, max_record_bytes);
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        let found = match lines.next_line(&mut line) {
            Ok(found) => found,
            Err(err) => {
                // Deliver what was already accepted before giving up; the
                // status says the input failed (2) unless records were
                // also lost or left (3, 4).
                let mut end =
                    end_at_input_end(&pipeline, started, progress.as_ref(), shutdown_timeout);
                end.text.push_str(&input_summary(&counted, format));
                end.text.push_str(&format!(
                    "error: cannot read the input after line {line_no}: {err}\n"
                ));
                end.status = end.status.max(2);
                end.print();
                return Ok(end.exit_code());
            }
        };
        line_no += 1;
        match found {
            Line::End => break,
            Line::Oversized(bytes) => {
                InputCounters::add(&counted.lines, 1);
                InputCounters::add(&counted.bytes, bytes + 1);
                InputCounters::add(&counted.oversized, 1);
                if InputCounters::get(&counted.oversized) <= MAX_REPORTED_MALFORMED {
                    report(
                        &progress,
                        format!(
                            "line {line_no}: skipped a line of {bytes} bytes, longer than --max-record-bytes ({max_record_bytes})"
                        ),
                    );
                }
                continue;
            }
            Line::Complete => {
                InputCounters::add(&counted.lines, 1);
                InputCounters::add(&counted.bytes, line.len() as u64 + 1);
            }
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        let emitted = match format {
            InputFormat::Json => pipeline.emit_json(&line),
            InputFormat::Text => {
                InputCounters::add(&counted.as_text, 1);
                pipeline.emit(&text_record(&line))
            }
            InputFormat::Auto => match pipeline.emit_json(&line) {
                Err(sinkbox::EmitError::InvalidJson(_)) => {
                    InputCounters::add(&counted.as_text, 1);
                    pipeline.emit(&text_record(&line))
                }
                other => other,
            },
        };
        match emitted {
            Ok(()) => InputCounters::add(&counted.events, 1),
            Err(sinkbox::EmitError::Closed) => break,
            Err(err) => {
                InputCounters::add(&counted.malformed, 1);
                if InputCounters::get(&counted.malformed) <= MAX_REPORTED_MALFORMED {
                    report(
                        &progress,
                        format!("line {line_no}: skipped malformed event: {err}"),
                    );
                }
            }
        }
        if let Some(bar) = &progress {
            // Every line, so a slow pipe shows its count and rate too;
            // the bar redraws at most every tick.
            bar.set_position(InputCounters::get(&counted.events));
        }
    }
    let mut end = end_at_input_end(&pipeline, started, progress.as_ref(), shutdown_timeout);
    end.text.push_str(&input_summary(&counted, format));
    end.print();
    Ok(end.exit_code())
}

/// A line for the operator, above the progress line when there is one.
fn report(progress: &Option<indicatif::ProgressBar>, message: String) {
    match progress {
        Some(bar) => bar.println(message),
        None => eprintln!("{message}"),
    }
}

/// The summary's last line: what the input held.
fn input_summary(counted: &InputCounters, format: InputFormat) -> String {
    let text = if format == InputFormat::Json {
        String::new()
    } else {
        format!(" ({} taken as text)", InputCounters::get(&counted.as_text))
    };
    format!(
        "read {} event(s){text} from {} line(s); {} malformed line(s) skipped; {} line(s) over --max-record-bytes skipped\n",
        InputCounters::get(&counted.events),
        InputCounters::get(&counted.lines),
        InputCounters::get(&counted.malformed),
        InputCounters::get(&counted.oversized),
    )
}

/// The input ended (or failed): drain and stop every sink, unless a signal
/// already ends the run (this thread then waits for the process to exit).
/// No deadline of its own: a signal during the drain brings one, of
/// `signal_timeout`.
fn end_at_input_end(
    pipeline: &Pipeline,
    started: Instant,
    progress: Option<&indicatif::ProgressBar>,
    signal_timeout: Duration,
) -> RunEnd {
    if !run_end::claim() {
        run_end::wait_for_exit();
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let report = pipeline.shutdown_within(Duration::MAX);
    RunEnd::new(&report, started.elapsed(), signal_timeout)
}

/// On SIGINT or SIGTERM: drain every queue, flush and stop the sinks, print
/// the summary and exit. Works even while the main thread blocks on stdin.
/// A second signal exits at once. On SIGHUP: reload the configuration from
/// the same file, environment and flags.
fn spawn_signal_handler(
    pipeline: Pipeline,
    started: Instant,
    (sources, served): (ConfigArgs, Arc<ServedSources>),
    progress: Option<indicatif::ProgressBar>,
    timeout: Duration,
    input: (std::sync::Arc<InputCounters>, InputFormat),
    summary: (SourceSummary, bool),
) -> anyhow::Result<()> {
    let (source_summary, serving_only) = summary;
    let source_summary = std::sync::Arc::new(source_summary);
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("sinkbox-signals".into())
        .spawn(move || {
            let mut draining = false;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    if !draining {
                        reload_config(&pipeline, &sources, &served);
                    }
                    continue;
                }
                if draining {
                    // A second signal during a long drain exits without waiting.
                    eprintln!("received signal {signal} again; exiting without draining");
                    std::process::exit(128 + signal);
                }
                draining = true;
                eprintln!(
                    "received signal {signal}; draining queues and stopping sinks (send it again to exit at once)"
                );
                let pipeline = pipeline.clone();
                let progress = progress.clone();
                let input = input.clone();
                let source_summary = source_summary.clone();
                std::thread::spawn(move || {
                    // Also brings forward the deadline of a drain already
                    // under way at the input's end; whoever claims the end
                    // prints the one summary.
                    let report = pipeline.shutdown_within(timeout);
                    if !run_end::claim() {
                        run_end::wait_for_exit();
                    }
                    if let Some(bar) = progress {
                        bar.finish_and_clear();
                    }
                    let mut end = RunEnd::new(&report, started.elapsed(), timeout);
                    end.text.push_str(&source_summary());
                    if !serving_only {
                        end.text.push_str(&input_summary(&input.0, input.1));
                    }
                    end.print();
                    std::process::exit(i32::from(end.status));
                });
            }
        })?;
    Ok(())
}

/// The run summary's lines for the sources (none without sources).
type SourceSummary = Box<dyn Fn() -> String + Send + Sync>;

/// One line per source for the run summary, its counters read live.
fn source_summary(sources: &Arc<ServedSources>) -> SourceSummary {
    let sources = sources.clone();
    Box::new(move || sources.summary())
}

/// What `/metrics` adds for `sources`: each one's counters, read live.
fn source_metrics(sources: &Arc<ServedSources>) -> super::metrics_server::SourceMetrics {
    let sources = sources.clone();
    Box::new(move || sinkbox::sources::util::metrics::prometheus_text(&sources.stats()))
}

/// Reloads the configuration (SIGHUP), the served sources with it; a bad
/// one is refused and logged.
fn reload_config(pipeline: &Pipeline, sources: &ConfigArgs, served: &ServedSources) {
    let result = sources.load().and_then(|config| {
        let report = pipeline.reload_config(config.clone(), &SinkRegistry::builtin())?;
        served.apply(&config);
        Ok(report)
    });
    match result {
        Ok(report) => tracing::info!("SIGHUP: configuration reloaded: {report}"),
        Err(err) => {
            tracing::error!("SIGHUP: configuration reload refused, the running one stays: {err}")
        }
    }
}
