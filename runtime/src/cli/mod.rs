//! Subcommands of the `sinkbox` binary.

mod inspect;
mod run;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// WebAssembly-sandboxed sinks for structured log and event pipelines.
#[derive(Parser, Debug)]
#[command(name = "sinkbox", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read NDJSON events and deliver them to the configured sinks.
    Run {
        /// The TOML config file.
        #[arg(long, short)]
        config: PathBuf,
        /// NDJSON input, one event per line; `-` (the default) is stdin.
        #[arg(long, short, default_value = "-")]
        input: String,
    },
    /// Check a config file without starting anything.
    Validate {
        /// The TOML config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Show a component's imports and exports and whether it is a sink.
    Inspect {
        /// The component file.
        component: PathBuf,
    },
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

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config, input } => run::run(&config, &input),
        Command::Validate { config } => validate::validate(&config),
        Command::Inspect { component } => inspect::inspect(&component),
    }
}
