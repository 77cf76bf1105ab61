//! A composite's targets, and what every pattern does with them alike:
//! start them, flush them, combine their health.

use std::path::PathBuf;

use super::shared_sink::SharedSink;
use crate::pipeline::SinkSettings;
use crate::sink::Health;

/// A composite's target: the shared sink plus the queue and retry settings
/// configured for it (used by `fanout`, which gives each target a queue).
pub struct CompositeTarget {
    /// The target's configured name.
    pub name: String,
    /// The shared instance.
    pub sink: SharedSink,
    /// Its settings: the queue, retries and dead-letter cap of its lane
    /// inside a `fanout` or `route`, and its own `when` (it takes only what
    /// that keeps).
    pub settings: SinkSettings,
    /// Where its dead letters go.
    pub data_dir: PathBuf,
    /// The counter the target's records are renumbered from inside a
    /// `fanout` or `route`: one per sink, kept across reloads.
    pub sequence: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Starts every target (a shared one only by its first user).
pub(crate) fn start_targets(targets: &mut [CompositeTarget]) -> Result<(), crate::sink::SinkError> {
    use crate::sink::Sink;
    for target in targets {
        target.sink.start().map_err(|e| {
            crate::sink::SinkError::new(format!("target `{}` failed to start: {e}", target.name))
        })?;
    }
    Ok(())
}

/// Flushes every target `include` keeps; `done` only if all are.
pub(crate) fn flush_targets(
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
pub(crate) fn combined_health(parts: Vec<(String, Health)>) -> Health {
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
