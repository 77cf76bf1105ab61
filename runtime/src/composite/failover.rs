//! `failover`: the first target that works gets the batches.

use std::time::{Duration, Instant};

use super::target::{CompositeTarget, combined_health, flush_targets, start_targets};
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Sends each batch to the first target in list order that is up. A target
/// that answers `retryable` or `fatal` is marked down and the batch moves
/// on to the next one. Every `probe_interval` a down target's health is
/// asked; once it is not `unhealthy`, the next batch tries it again, and
/// if that is accepted it is back in front: batches return to the primary
/// as soon as it recovers.
pub struct FailoverSink {
    name: String,
    targets: Vec<CompositeTarget>,
    /// When each down target was last tried or probed.
    down: Vec<Option<Instant>>,
    probe_interval: Duration,
}

impl FailoverSink {
    /// A failover over `targets`, in order of preference.
    pub fn new(name: String, targets: Vec<CompositeTarget>, probe_interval: Duration) -> Self {
        let down = vec![None; targets.len()];
        Self {
            name,
            targets,
            down,
            probe_interval,
        }
    }

    /// Whether a down target should get a trial now.
    fn worth_a_try(&mut self, index: usize) -> bool {
        let Some(since) = self.down[index] else {
            return true;
        };
        if since.elapsed() < self.probe_interval {
            return false;
        }
        self.down[index] = Some(Instant::now());
        let target = &mut self.targets[index];
        if target.sink.needs_restart() && target.sink.restart().is_err() {
            return false;
        }
        !matches!(target.sink.health(), Health::Unhealthy(_))
    }

    /// The name of the target batches currently go to.
    pub fn active(&self) -> Option<&str> {
        self.down
            .iter()
            .position(Option::is_none)
            .map(|i| self.targets[i].name.as_str())
    }
}

impl Sink for FailoverSink {
    fn start(&mut self) -> Result<(), SinkError> {
        start_targets(&mut self.targets)
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let mut failures = Vec::new();
        for index in 0..self.targets.len() {
            if !self.worth_a_try(index) {
                continue;
            }
            let was_down = self.down[index].is_some();
            let target = &mut self.targets[index];
            match target.sink.write(batch) {
                WriteOutcome::Retryable(why)
                | WriteOutcome::Fatal(why)
                | WriteOutcome::Deferred { reason: why, .. } => {
                    if !was_down {
                        tracing::warn!(sink = %self.name, target = %target.name, "target failed, failing over: {why}");
                    }
                    failures.push(format!("{}: {why}", target.name));
                    self.down[index] = Some(Instant::now());
                }
                outcome => {
                    if was_down {
                        tracing::info!(sink = %self.name, target = %target.name, "target recovered; batches go to it again");
                        self.down[index] = None;
                    }
                    return outcome;
                }
            }
        }
        if failures.is_empty() {
            // Nothing was sent: waiting for a probe is not a retry.
            return WriteOutcome::Deferred {
                wait: self.probe_interval,
                reason: format!(
                    "every target is down; the next probe is within {:?}",
                    self.probe_interval
                ),
            };
        }
        WriteOutcome::Retryable(format!("every target failed: {}", failures.join("; ")))
    }

    fn flush(&mut self) -> FlushOutcome {
        // A target that is down has nothing to flush.
        let down = &self.down;
        flush_targets(&mut self.targets, |index| down[index].is_none())
    }

    fn stop(&mut self) {
        for target in &mut self.targets {
            target.sink.stop();
        }
    }

    fn health(&mut self) -> Health {
        let parts = self
            .targets
            .iter_mut()
            .zip(&self.down)
            .map(|(target, down)| {
                let health = match down {
                    Some(_) => {
                        Health::Unhealthy("failed; waiting for its health to recover".into())
                    }
                    None => target.sink.health(),
                };
                (target.name.clone(), health)
            })
            .collect();
        match combined_health(parts) {
            // Failover exists to ride out a failed target: still writable.
            Health::Degraded(why) if self.active().is_some() => Health::Degraded(why),
            other => other,
        }
    }
}
