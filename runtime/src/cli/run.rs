//! `sinkbox run`: NDJSON in, every configured sink out.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use sinkbox::{Pipeline, SinkStats};

use sinkbox::registry::SinkRegistry;

use super::ConfigArgs;

/// How long a SIGINT or SIGTERM waits for the sinks to deliver what they
/// hold; past it the rest is dead-lettered and the process exits.
const SIGNAL_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

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
fn text_record(line: &[u8]) -> serde_json::Value {
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
}

pub fn run(sources: &ConfigArgs, input: &str, options: RunOptions<'_>) -> anyhow::Result<ExitCode> {
    let RunOptions {
        format,
        watch,
        metrics_addr,
        follow,
    } = options;
    if follow && input == "-" {
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
    spawn_signal_handler(pipeline.clone(), started, sources.clone())?;
    let _metrics = match metrics_addr {
        Some(addr) => Some(super::metrics_server::MetricsServer::start(
            addr,
            pipeline.clone(),
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
                Default::default(),
            )
            .context("cannot watch the sink and config files")?,
        )
    } else {
        None
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
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} events read ({per_sec})")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });

    let mut line = Vec::new();
    let (mut line_no, mut events, mut malformed, mut as_text) = (0u64, 0u64, 0u64, 0u64);
    loop {
        line.clear();
        let read = match reader.read_until(b'\n', &mut line) {
            Ok(read) => read,
            Err(err) => {
                // Deliver what was already accepted before giving up.
                let stats = pipeline.shutdown();
                print_summary(&stats, started.elapsed());
                return Err(err)
                    .with_context(|| format!("cannot read the input after line {line_no}"));
            }
        };
        if read == 0 {
            break;
        }
        line_no += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        let emitted = match format {
            InputFormat::Json => pipeline.emit_json(&line),
            InputFormat::Text => {
                as_text += 1;
                pipeline.emit(&text_record(&line))
            }
            InputFormat::Auto => match pipeline.emit_json(&line) {
                Err(sinkbox::EmitError::InvalidJson(_)) => {
                    as_text += 1;
                    pipeline.emit(&text_record(&line))
                }
                other => other,
            },
        };
        match emitted {
            Ok(()) => events += 1,
            Err(sinkbox::EmitError::Closed) => break,
            Err(err) => {
                malformed += 1;
                if malformed <= MAX_REPORTED_MALFORMED {
                    let message = format!("line {line_no}: skipped malformed event: {err}");
                    match &progress {
                        Some(bar) => bar.println(message),
                        None => eprintln!("{message}"),
                    }
                }
            }
        }
        if let Some(bar) = &progress
            && events % 4096 == 0
        {
            bar.set_position(events);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let stats = pipeline.shutdown();
    print_summary(&stats, started.elapsed());
    let text = if format == InputFormat::Json {
        String::new()
    } else {
        format!(" ({as_text} taken as text)")
    };
    eprintln!(
        "read {events} event(s){text} from {line_no} line(s); {malformed} malformed line(s) skipped"
    );
    Ok(ExitCode::SUCCESS)
}

/// On SIGINT or SIGTERM: drain every queue, flush and stop the sinks, print
/// the summary and exit. Works even while the main thread blocks on stdin.
/// A second signal exits at once. On SIGHUP: reload the configuration from
/// the same file, environment and flags.
fn spawn_signal_handler(
    pipeline: Pipeline,
    started: Instant,
    sources: ConfigArgs,
) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("sinkbox-signals".into())
        .spawn(move || {
            let mut draining = false;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    if !draining {
                        reload_config(&pipeline, &sources);
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
                std::thread::spawn(move || {
                    let report = pipeline.shutdown_within(SIGNAL_SHUTDOWN_TIMEOUT);
                    print_summary(&report.stats, started.elapsed());
                    if !report.unfinished.is_empty() {
                        eprintln!(
                            "not finished within {SIGNAL_SHUTDOWN_TIMEOUT:?}: {}; the batches they had not started were dead-lettered (a batch inside a call that did not return may be lost)",
                            report.unfinished.join(", ")
                        );
                    }
                    std::process::exit(128 + signal);
                });
            }
        })?;
    Ok(())
}

/// Reloads the configuration (SIGHUP); a bad one is refused and logged.
fn reload_config(pipeline: &Pipeline, sources: &ConfigArgs) {
    let result = sources
        .load()
        .and_then(|config| pipeline.reload_config(config, &SinkRegistry::builtin()));
    match result {
        Ok(report) => eprintln!(
            "SIGHUP: configuration reloaded: added {:?}, removed {:?}, changed {:?}, unchanged {:?}",
            report.added, report.removed, report.changed, report.unchanged
        ),
        Err(err) => eprintln!("SIGHUP: configuration reload refused, the running one stays: {err}"),
    }
}

fn print_summary(stats: &[SinkStats], elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "{:<16} {:>10} {:>12} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>12}",
        "sink",
        "records",
        "bytes",
        "batches",
        "errors",
        "retries",
        "dropped",
        "dead",
        "restarts",
        "records/s"
    );
    for s in stats {
        eprintln!(
            "{:<16} {:>10} {:>12} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>12.0}",
            s.name,
            s.records,
            s.bytes,
            s.batches,
            s.errors.total(),
            s.retries,
            s.dropped,
            s.dead_lettered,
            s.restarts,
            s.records as f64 / secs
        );
    }
    for s in stats {
        if let Some(http) = &s.http {
            eprintln!(
                "{}: http: {} request(s) sent, {} refused by the grant, {} failed; {} bytes out, {} in; answers 2xx {} 3xx {} 4xx {} 5xx {}",
                s.name,
                http.requests,
                http.refused,
                http.failed,
                http.bytes_out,
                http.bytes_in,
                http.status_2xx,
                http.status_3xx,
                http.status_4xx,
                http.status_5xx
            );
        }
        if s.skipped > 0 {
            eprintln!(
                "{}: when: {} record(s) matched, {} skipped",
                s.name, s.matched, s.skipped
            );
        }
        if !s.routed.is_empty() {
            let routed: Vec<String> = s
                .routed
                .iter()
                .map(|(target, n)| format!("{target} {n}"))
                .collect();
            eprintln!(
                "{}: routed {}; {} unrouted",
                s.name,
                routed.join(", "),
                s.unrouted
            );
        }
        if let Some(buffer) = &s.buffer {
            eprintln!(
                "{}: disk buffer: {} batch(es) undelivered ({} bytes on disk, oldest {:.1}s), {} record(s) skipped as damaged, {} dropped when full",
                s.name,
                buffer.batches,
                buffer.bytes,
                buffer.oldest_undelivered_ms as f64 / 1000.0,
                buffer.corrupt_records,
                buffer.dropped_full
            );
        }
        if s.guest_log_dropped > 0 {
            eprintln!(
                "{}: {} guest log line(s) dropped over the sink's log budget",
                s.name, s.guest_log_dropped
            );
        }
        if s.dead_letters_dropped > 0 {
            eprintln!(
                "{}: {} dead-lettered record(s) deleted to stay under dead_letter_max_bytes",
                s.name, s.dead_letters_dropped
            );
        }
    }
    for s in stats
        .iter()
        .filter(|s| s.reloads + s.reload_failures + s.rollbacks > 0)
    {
        let module = s
            .module_hash
            .as_deref()
            .map(|hash| format!(", running module {}", &hash[..hash.len().min(12)]))
            .unwrap_or_default();
        let last = s
            .last_reload_error
            .as_deref()
            .map(|why| format!("; last refusal: {why}"))
            .unwrap_or_default();
        eprintln!(
            "{}: {} reload(s), {} refused, {} rolled back{module}{last}",
            s.name, s.reloads, s.reload_failures, s.rollbacks
        );
    }
}
