//! `composite` sinks: one name in front of several other named sinks, with
//! a pattern that says how batches are spread over them.
//!
//! - `fanout`: every target gets every batch, each through its own queue
//!   and worker (with the target's own retry policy), so a failing target
//!   never holds the others back; a composite flush completes once every
//!   target has delivered and flushed.
//! - `round_robin`: batches go to the targets in turn; a target that fails
//!   is skipped for that batch.
//! - `failover`: batches go to the first target that works; one that fails
//!   is skipped until its health recovers.
//!
//! Targets are built once and shared: two composites naming the same sink
//! drive one instance (and one connection).

mod failover;
mod fanout;
mod round_robin;
mod shared_sink;

use std::path::PathBuf;
use std::time::Duration;

pub use failover::FailoverSink;
pub use fanout::FanoutSink;
pub use round_robin::RoundRobinSink;
pub use shared_sink::SharedSink;

use crate::pipeline::{OverflowPolicy, RetryPolicy};
use crate::registry::{OptionKind, OptionSpec, SinkType};
use crate::sink::Health;

/// A composite's target: the shared sink plus the queue and retry settings
/// configured for it (used by `fanout`, which gives each target a queue).
pub struct CompositeTarget {
    /// The target's configured name.
    pub name: String,
    /// The shared instance.
    pub sink: SharedSink,
    /// Batches its fanout queue holds.
    pub queue_capacity: usize,
    /// Its fanout queue's overflow policy.
    pub overflow: OverflowPolicy,
    /// Its retry policy inside a fanout.
    pub retry: RetryPolicy,
    /// Where its dead letters go.
    pub data_dir: PathBuf,
    /// Cap on its dead-letter store inside a fanout.
    pub dead_letter_max_bytes: u64,
}

/// The `composite` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "composite",
        "one name in front of other named sinks: fanout to all, round_robin, or failover",
        |options, context| {
            let names = options.list("targets")?;
            if names.is_empty() {
                return Err(options.invalid(
                    "targets",
                    "name at least one sink, such as [\"primary\", \"backup\"]",
                ));
            }
            let mut targets = Vec::new();
            for name in &names {
                targets.push(context.target(name)?);
            }
            let name = options.sink_name().to_owned();
            Ok(match options.require_string("pattern")?.as_str() {
                "fanout" => Box::new(FanoutSink::new(
                    name,
                    targets,
                    options
                        .duration("flush_timeout")?
                        .unwrap_or(Duration::from_secs(30)),
                )),
                "round_robin" => Box::new(RoundRobinSink::new(name, targets)),
                _ => Box::new(FailoverSink::new(
                    name,
                    targets,
                    options
                        .duration("probe_interval")?
                        .unwrap_or(Duration::from_secs(1)),
                )),
            })
        },
    )
    .option(
        OptionSpec::new(
            "pattern",
            OptionKind::Choice(&["fanout", "round_robin", "failover"]),
        )
        .required()
        .help("fanout to every target, round_robin between them, or failover in order"),
    )
    .option(
        OptionSpec::new("targets", OptionKind::List)
            .required()
            .help("names of other configured sinks; they get records only through this one"),
    )
    .option(
        OptionSpec::new("probe_interval", OptionKind::Duration)
            .default("1s")
            .help("failover: how often a failed target's health is checked to switch back"),
    )
    .option(
        OptionSpec::new("flush_timeout", OptionKind::Duration)
            .default("30s")
            .help("fanout: how long a flush waits for every target"),
    )
    .references("targets")
}

/// Starts every target (a shared one only by its first user).
fn start_targets(targets: &mut [CompositeTarget]) -> Result<(), crate::sink::SinkError> {
    use crate::sink::Sink;
    for target in targets {
        target.sink.start().map_err(|e| {
            crate::sink::SinkError::new(format!("target `{}` failed to start: {e}", target.name))
        })?;
    }
    Ok(())
}

/// Flushes every target `include` keeps; `done` only if all are.
fn flush_targets(
    targets: &mut [CompositeTarget],
    include: impl Fn(usize) -> bool,
) -> crate::sink::FlushOutcome {
    use crate::sink::{FlushOutcome, Sink};
    let mut problems = Vec::new();
    for (index, target) in targets.iter_mut().enumerate() {
        if !include(index) {
            continue;
        }
        match target.sink.flush() {
            FlushOutcome::Done => {}
            FlushOutcome::Retryable(why) | FlushOutcome::Fatal(why) => {
                problems.push(format!("{}: {why}", target.name))
            }
        }
    }
    if problems.is_empty() {
        FlushOutcome::Done
    } else {
        FlushOutcome::Retryable(problems.join("; "))
    }
}

/// The health of a set of targets: healthy if all are, unhealthy if none
/// is usable, degraded otherwise, naming the ones in trouble.
fn combined_health(parts: Vec<(String, Health)>) -> Health {
    let total = parts.len();
    let troubled: Vec<String> = parts
        .iter()
        .filter(|(_, health)| *health != Health::Healthy)
        .map(|(name, health)| format!("{name}: {health}"))
        .collect();
    let unusable = parts
        .iter()
        .filter(|(_, health)| matches!(health, Health::Unhealthy(_)))
        .count();
    if troubled.is_empty() {
        Health::Healthy
    } else if unusable == total {
        Health::Unhealthy(troubled.join("; "))
    } else {
        Health::Degraded(troubled.join("; "))
    }
}
