//! `round_robin`: batches go to the targets in turn.

use super::target::{CompositeTarget, combined_health, flush_targets, start_targets};
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Sends each batch to the next target in turn. A target that answers
/// `retryable` or `fatal` is skipped for that batch (a `fatal` one is
/// restarted before its next turn); only when every target failed is the
/// batch retried as a whole.
pub struct RoundRobinSink {
    name: String,
    targets: Vec<CompositeTarget>,
    broken: Vec<bool>,
    next: usize,
}

impl RoundRobinSink {
    /// A round robin over `targets`.
    pub fn new(name: String, targets: Vec<CompositeTarget>) -> Self {
        let broken = vec![false; targets.len()];
        Self {
            name,
            targets,
            broken,
            next: 0,
        }
    }
}

impl Sink for RoundRobinSink {
    fn start(&mut self) -> Result<(), SinkError> {
        start_targets(&mut self.targets)
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let count = self.targets.len();
        let first = self.next % count;
        self.next = self.next.wrapping_add(1);
        let mut failures = Vec::new();
        // The shortest wait when every target held the batch back unsent.
        let mut deferred: Option<std::time::Duration> = None;
        let mut sent = false;
        for offset in 0..count {
            let index = (first + offset) % count;
            let target = &mut self.targets[index];
            if self.broken[index] || target.sink.needs_restart() {
                if let Err(err) = target.sink.restart() {
                    failures.push(format!("{}: restart failed: {err}", target.name));
                    continue;
                }
                self.broken[index] = false;
            }
            match target.sink.write(batch) {
                WriteOutcome::Retryable(why) => {
                    sent = true;
                    failures.push(format!("{}: {why}", target.name))
                }
                WriteOutcome::Deferred { wait, reason } => {
                    deferred = Some(deferred.map_or(wait, |w| w.min(wait)));
                    failures.push(format!("{}: {reason}", target.name))
                }
                WriteOutcome::Fatal(why) => {
                    sent = true;
                    self.broken[index] = true;
                    failures.push(format!("{}: {why}", target.name));
                }
                done => return done,
            }
            tracing::debug!(sink = %self.name, target = %target.name, "skipped a failing target");
        }
        let reason = format!("every target failed: {}", failures.join("; "));
        match deferred {
            Some(wait) if !sent => WriteOutcome::Deferred { wait, reason },
            _ => WriteOutcome::Retryable(reason),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        flush_targets(&mut self.targets, |_| true)
    }

    fn stop(&mut self) {
        for target in &mut self.targets {
            target.sink.stop();
        }
    }

    fn health(&mut self) -> Health {
        combined_health(
            self.targets
                .iter_mut()
                .map(|t| (t.name.clone(), t.sink.health()))
                .collect(),
        )
    }
}
