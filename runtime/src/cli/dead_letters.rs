//! `sinkbox dead-letters list | replay`: what the sinks could not deliver,
//! and sending it again.

use std::process::ExitCode;

use sinkbox::dead_letters::{ReplayOptions, list, replay_from_config};
use sinkbox::registry::SinkRegistry;

use super::ConfigArgs;

/// What to do with the dead letters.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum DeadLetterAction {
    /// Per sink: files, batches, records, the commonest reasons and the
    /// oldest batch.
    List,
    /// Send a sink's dead letters again through the sink as configured (or
    /// through `--to`), removing each batch once it is delivered. Safe to
    /// interrupt and run again: a delivered batch is not sent twice.
    Replay {
        /// The sink whose dead letters to send.
        sink: String,
        /// Send them through this sink instead.
        #[arg(long, value_name = "SINK")]
        to: Option<String>,
        /// Only batches whose reason matches this regular expression.
        #[arg(long, value_name = "PATTERN")]
        reason: Option<String>,
        /// Count what would be sent; send and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn dead_letters(sources: &ConfigArgs, action: &DeadLetterAction) -> anyhow::Result<ExitCode> {
    let config = match sources.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let data_dir = &config.runtime.data_dir;
    match action {
        DeadLetterAction::List => {
            let sinks = list(data_dir)?;
            if sinks.is_empty() {
                println!("no dead letters under {}", data_dir.display());
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<16} {:>5} {:>8} {:>10}  oldest",
                "sink", "files", "batches", "records"
            );
            for sink in &sinks {
                println!(
                    "{:<16} {:>5} {:>8} {:>10}  {}",
                    sink.sink,
                    sink.files,
                    sink.batches,
                    sink.records,
                    sink.oldest.as_deref().unwrap_or("-")
                );
                for (reason, records) in &sink.reasons {
                    println!("    {records:>8} × {reason}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DeadLetterAction::Replay {
            sink,
            to,
            reason,
            dry_run,
        } => {
            let reason = match reason.as_deref().map(regex::Regex::new).transpose() {
                Ok(reason) => reason,
                Err(err) => {
                    eprintln!("error: --reason is not a regular expression: {err}");
                    return Ok(ExitCode::from(2));
                }
            };
            let options = ReplayOptions {
                reason,
                dry_run: *dry_run,
                ..Default::default()
            };
            let report = match replay_from_config(
                &config,
                &SinkRegistry::builtin(),
                sink,
                to.as_deref(),
                options,
            ) {
                Ok(report) => report,
                Err(err) => {
                    eprintln!("error: {err}");
                    return Ok(ExitCode::from(1));
                }
            };
            let through = to.as_deref().unwrap_or(sink);
            if *dry_run {
                println!(
                    "dry run: {} batch(es), {} record(s) of `{sink}` would be sent through `{through}`; {} batch(es) do not match --reason",
                    report.would_send_batches, report.would_send_records, report.unmatched_batches
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "replayed `{sink}` through `{through}`: {} batch(es), {} record(s) delivered and removed; {} refused again (kept, {} record(s)); {} left; {} not matching --reason; {} already delivered by an earlier replay",
                report.delivered_batches,
                report.delivered_records,
                report.refused_batches,
                report.refused_records,
                report.left_batches,
                report.unmatched_batches,
                report.already_delivered_batches
            );
            if let Some(why) = &report.stopped {
                eprintln!("stopped early: {why}; run the replay again once the destination works");
                return Ok(ExitCode::from(3));
            }
            Ok(if report.refused_batches > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
