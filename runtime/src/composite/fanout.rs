//! `fanout`: every target gets every batch through a queue of its own.

use std::time::Duration;

use super::target::CompositeTarget;
use super::target_lanes::TargetLanes;
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Delivers every batch to every target. Each target has its own queue and
/// worker, with its own retries, restarts and dead-letter file
/// (`<composite>.<target>.ndjson`), so one failing target does not hold
/// the others back; a write is accepted once every target has it queued.
/// A target with a `when` condition gets only the records it keeps.
pub struct FanoutSink {
    targets: Vec<CompositeTarget>,
    lanes: TargetLanes,
    flush_timeout: Duration,
}

impl FanoutSink {
    /// A fanout over `targets`; a flush waits up to `flush_timeout`.
    pub fn new(name: String, targets: Vec<CompositeTarget>, flush_timeout: Duration) -> Self {
        Self {
            lanes: TargetLanes::new(&name, &targets, false),
            targets,
            flush_timeout,
        }
    }
}

impl Sink for FanoutSink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.lanes
            .start(&self.targets)
            .map_err(|e| SinkError::new(format!("fanout {e}")))
    }

    fn abandon(&mut self) {
        self.lanes.abandon();
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if !self.lanes.is_started() {
            return WriteOutcome::Fatal("the fanout is not started".into());
        }
        self.lanes.push_all(batch.clone());
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        self.lanes.flush(self.flush_timeout)
    }

    fn stop(&mut self) {
        self.lanes.stop();
    }

    fn health(&mut self) -> Health {
        self.lanes.health()
    }

    fn restart(&mut self) -> Result<(), SinkError> {
        // The lanes restart their own targets; only a fanout that is not
        // running needs starting.
        if self.lanes.is_started() {
            Ok(())
        } else {
            self.start()
        }
    }
}
