//! `fanout`: every target gets every batch through a queue of its own.

use std::time::{Duration, Instant};

use super::target::{CompositeTarget, combined_health};
use crate::batch::Batch;
use crate::pipeline::{LaneSettings, SinkLane};
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Delivers every batch to every target. Each target has its own queue and
/// worker, with its own retries, restarts and dead-letter file
/// (`<composite>.<target>.ndjson`), so one failing target does not hold
/// the others back; a write is accepted once every target has it queued.
pub struct FanoutSink {
    name: String,
    targets: Vec<CompositeTarget>,
    lanes: Vec<SinkLane>,
    flush_timeout: Duration,
}

impl FanoutSink {
    /// A fanout over `targets`; a flush waits up to `flush_timeout`.
    pub fn new(name: String, targets: Vec<CompositeTarget>, flush_timeout: Duration) -> Self {
        Self {
            name,
            targets,
            lanes: Vec::new(),
            flush_timeout,
        }
    }

    fn stop_lanes(&mut self) {
        for lane in &self.lanes {
            lane.request_stop();
        }
        for lane in self.lanes.drain(..) {
            if !lane.join() {
                tracing::error!(sink = %lane.name(), "a fanout worker panicked while stopping");
            }
        }
    }
}

impl Sink for FanoutSink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.stop_lanes();
        for target in &self.targets {
            let lane = SinkLane::spawn(
                &format!("{}.{}", self.name, target.name),
                Box::new(target.sink.clone()),
                &LaneSettings {
                    queue_capacity: target.queue_capacity,
                    overflow: target.overflow,
                    retry: target.retry.clone(),
                    dead_letter_max_bytes: target.dead_letter_max_bytes,
                    ..LaneSettings::default()
                },
                &target.data_dir,
            )
            .map_err(|e| {
                SinkError::new(format!(
                    "fanout target `{}` failed to start: {e}",
                    target.name
                ))
            });
            match lane {
                Ok(lane) => self.lanes.push(lane),
                Err(err) => {
                    self.stop_lanes();
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn abandon(&mut self) {
        for lane in &self.lanes {
            lane.open_queue();
            lane.abandon();
        }
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if self.lanes.is_empty() {
            return WriteOutcome::Fatal("the fanout is not started".into());
        }
        for lane in &self.lanes {
            lane.push(batch.clone(), false);
        }
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        let deadline = Instant::now() + self.flush_timeout;
        let tickets: Vec<_> = self
            .lanes
            .iter()
            .map(|lane| (lane.name().to_owned(), lane.request_flush(deadline)))
            .collect();
        let mut problems = Vec::new();
        for (name, ticket) in tickets {
            match ticket.wait_until(deadline) {
                Some(Ok(())) => {}
                Some(Err(why)) => problems.push(format!("{name}: {why}")),
                None => problems.push(format!(
                    "{name}: not flushed within {:?}",
                    self.flush_timeout
                )),
            }
        }
        if problems.is_empty() {
            FlushOutcome::Done
        } else {
            FlushOutcome::Retryable(problems.join("; "))
        }
    }

    fn stop(&mut self) {
        self.stop_lanes();
    }

    fn health(&mut self) -> Health {
        combined_health(
            self.lanes
                .iter()
                .map(|lane| (lane.name().to_owned(), lane.health()))
                .collect(),
        )
    }

    fn restart(&mut self) -> Result<(), SinkError> {
        // The lanes restart their own targets; only a fanout that is not
        // running needs starting.
        if self.lanes.is_empty() {
            self.start()
        } else {
            Ok(())
        }
    }
}

impl Drop for FanoutSink {
    fn drop(&mut self) {
        self.stop_lanes();
    }
}
