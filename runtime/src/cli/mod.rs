//! Subcommands of the `sinkbox` binary.

mod cache;
mod catalog;
mod check;
mod dead_letters;
mod follow_reader;
mod input_lines;
mod inspect;
mod metrics_server;
mod new_project;
mod route;
mod run;
mod run_end;
mod run_summary;
mod served_sources;
mod top;
mod validate;
mod when_fields;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sinkbox::config::{Config, ConfigError, ConfigLoader};
use sinkbox::registry::SinkRegistry;

/// WebAssembly-sandboxed sinks for structured log and event pipelines.
#[derive(Parser, Debug)]
#[command(name = "sinkbox", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration comes from. The file is read first, then the
/// environment (`SINKBOX_SINKS`, `SINKBOX_<SINK>__<OPTION>`), then these
/// flags; later sources win.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// The TOML config file.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Adds a sink given as a URI, such as `file:///var/log/app.log?max_bytes=10MB`
    /// or `tcp://127.0.0.1:9000`; repeatable.
    #[arg(long = "sink", value_name = "URI", global = true)]
    sinks: Vec<String>,
    /// Adds a source given as a URI: `http://0.0.0.0:8080/ingest` (an
    /// `http_server`) or `otlp://0.0.0.0:4318`, options as query
    /// parameters (`?ack=received`), its name as the fragment (`#edge`);
    /// repeatable. `sinkbox sources` lists the types and options.
    #[arg(long = "source", value_name = "URI", global = true)]
    sources: Vec<String>,
    /// Overrides one option of a named sink: `<sink>.<option>=<value>`,
    /// such as `applog.max_bytes=10MB`; repeatable.
    #[arg(long = "set", value_name = "SINK.OPTION=VALUE", global = true)]
    sets: Vec<String>,
}

impl ConfigArgs {
    /// Loads the configuration from the file, the environment and the flags.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let registry = SinkRegistry::builtin();
        let mut loader = ConfigLoader::new(&registry).process_env();
        if let Some(path) = &self.config {
            loader = loader.file(path);
        }
        for uri in &self.sinks {
            loader = loader.cli_sink(uri);
        }
        for uri in &self.sources {
            loader = loader.cli_source(uri);
        }
        for set in &self.sets {
            loader = loader.cli_set(set);
        }
        loader.load()
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read NDJSON events and deliver them to the configured sinks.
    Run {
        #[command(flatten)]
        sources: ConfigArgs,
        /// NDJSON input, one event per line; `-` is stdin, the default
        /// unless the configuration has sources (then `run` serves them
        /// until a signal, and reads stdin only when given `--input -`).
        #[arg(long, short)]
        input: Option<String>,
        /// How input lines are read: `json` (skip lines that are not JSON),
        /// `text` (every line becomes {"message": ..., "timestamp": ...}), or
        /// `auto` (JSON lines as they are, other lines as text).
        #[arg(long, value_enum, default_value_t = run::InputFormat::Json)]
        input_format: run::InputFormat,
        /// Reload a wasm sink when its file changes, and the configuration
        /// when the config file changes (SIGHUP reloads the configuration
        /// with or without this).
        #[arg(long)]
        watch: bool,
        /// Serve every sink's counters, queue depth, disk buffer and health
        /// in the Prometheus text format at http://ADDR/metrics, such as
        /// 127.0.0.1:9598 (port 0 picks one; the address is printed).
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<String>,
        /// Keep reading `--input FILE` as it grows, like `tail -F`: across
        /// rotation (a new file at the path) and truncation. Runs until
        /// SIGINT or SIGTERM.
        #[arg(long)]
        follow: bool,
        /// How long SIGINT or SIGTERM waits for the sinks to deliver what
        /// they hold (`30s`, `2m`). Shortly before it, what is left is
        /// dead-lettered (or stays in a disk buffer); at it the process
        /// exits, whatever a sink is doing.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
        shutdown_timeout: std::time::Duration,
        /// The longest input line taken as a record (`1MiB`, `256KiB`); a
        /// longer one is skipped without being held, and counted. 1 MiB is
        /// CloudWatch's largest event (Loki takes 256 KiB lines by default,
        /// Vector's file source 100 KiB).
        #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
        max_record_bytes: u64,
    },
    /// Check a configuration without starting anything: every option, every
    /// composite reference, and that every wasm file fits the sink contract.
    Validate {
        #[command(flatten)]
        sources: ConfigArgs,
    },
    /// A dry run of the routing table: for each record of a sample, which
    /// sinks would take it (every `when` and `route` rule decided as `run`
    /// would); nothing is started or sent.
    Route {
        #[command(flatten)]
        sources: ConfigArgs,
        /// Sample NDJSON records, one per line; `-` is stdin.
        #[arg(long, short)]
        input: PathBuf,
        /// How input lines are read, as `sinkbox run --input-format`.
        #[arg(long, value_enum, default_value_t = run::InputFormat::Json)]
        input_format: run::InputFormat,
        /// The longest input line taken, as `sinkbox run --max-record-bytes`.
        #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
        max_record_bytes: u64,
    },
    /// Show a component's imports and exports and whether it is a sink.
    Inspect {
        /// The component file.
        component: PathBuf,
    },
    /// The compile cache: list its entries, prune it to a size, or clear it.
    Cache {
        #[command(subcommand)]
        action: cache::CacheAction,
        /// The cache directory (default: the config's `[runtime] cache_dir`,
        /// else SINKBOX_CACHE_DIR, else ~/.cache/sinkbox).
        #[arg(long, global = true)]
        dir: Option<PathBuf>,
        /// The config file whose `[runtime]` names the cache and its size.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
    },
    /// What the sinks could not deliver (`list`), and sending it again
    /// (`replay SINK [--to SINK] [--reason PATTERN] [--dry-run]`).
    DeadLetters {
        #[command(flatten)]
        sources: ConfigArgs,
        #[command(subcommand)]
        action: dead_letters::DeadLetterAction,
    },
    /// List every sink type with its options, defaults and help.
    Sinks {
        /// Print Markdown tables (as in docs/sinks.md).
        #[arg(long)]
        markdown: bool,
    },
    /// A live view of running sinkboxes' metrics (`run --metrics-addr`):
    /// per source and sink, rates in and out, failures by cause, queues,
    /// buffers and health, refreshed each second. ADDR is host:port
    /// (default 127.0.0.1:9598) or a metrics URL; several for a fleet.
    Top {
        /// The metrics endpoints to watch.
        #[arg(value_name = "ADDR")]
        addresses: Vec<String>,
        /// Time between refreshes.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        interval: std::time::Duration,
        /// Print one view (rates over one interval) and exit.
        #[arg(long)]
        once: bool,
    },
    /// List every source type with its `--source` scheme and its options,
    /// defaults and help.
    Sources {
        /// Print Markdown tables (as in docs/sources.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Create a sink project that builds with one command and passes
    /// `check` as generated: `sinkbox new my-sink --lang rust` (or
    /// python, javascript; `--http` for a sink that sends over HTTP).
    New(new_project::NewArgs),
    /// Run the conformance suite against a sink component: start, writes of
    /// empty, normal and unusual batches, flush twice, health, stop twice.
    Check(check::CheckArgs),
    /// The sink author's loop: `check` again each time the component (or
    /// the --input sample) changes, until Ctrl-C. Same options as `check`.
    Dev(check::CheckArgs),
}

/// Logs go to stderr; `SINKBOX_LOG` sets the filter (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SINKBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}

/// A size such as `1MiB`, `256KiB` or `4096`.
fn parse_size(text: &str) -> Result<u64, String> {
    text.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| {
            format!("`{text}` is not a size; write it as 1MiB, 256KiB or a number of bytes")
        })
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            sources,
            input,
            input_format,
            watch,
            metrics_addr,
            follow,
            shutdown_timeout,
            max_record_bytes,
        } => run::run(
            &sources,
            input.as_deref(),
            run::RunOptions {
                format: input_format,
                watch,
                metrics_addr: metrics_addr.as_deref(),
                follow,
                shutdown_timeout,
                max_record_bytes,
            },
        ),
        Command::Validate { sources } => validate::validate(&sources),
        Command::Route {
            sources,
            input,
            input_format,
            max_record_bytes,
        } => route::route(&sources, &input, input_format, max_record_bytes),
        Command::Inspect { component } => inspect::inspect(&component),
        Command::Sinks { markdown } => catalog::print(markdown),
        Command::Sources { markdown } => catalog::print_sources(markdown),
        Command::Top {
            addresses,
            interval,
            once,
        } => top::top(&addresses, interval, once),
        Command::Cache {
            action,
            dir,
            config,
        } => cache::cache(&action, dir.as_deref(), config.as_deref()),
        Command::DeadLetters { sources, action } => dead_letters::dead_letters(&sources, &action),
        Command::New(args) => new_project::new_project(&args),
        Command::Check(args) => check::check(&args, false),
        Command::Dev(args) => check::check(&args, true),
    }
}
