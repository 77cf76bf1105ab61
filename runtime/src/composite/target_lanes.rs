//! The queues and workers a `fanout` or `route` composite gives its
//! targets, so one failing target never holds the others back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::target::{CompositeTarget, combined_health};
use crate::batch::Batch;
use crate::pipeline::{SinkLane, SinkSettings};
use crate::routing::{RoutedBatch, RoutingTable};
use crate::sink::{FlushOutcome, Health, SinkError};

/// One lane per target, named `<composite>.<target>` (its dead letters go
/// to `<composite>.<target>.ndjson`), with the target's own queue, retry
/// policy and `when` condition.
pub(crate) struct TargetLanes {
    composite: String,
    lanes: Vec<SinkLane>,
    /// The targets' own `when` conditions, by lane name.
    routes: Option<Arc<RoutingTable>>,
}

impl TargetLanes {
    /// Not started yet: [`TargetLanes::start`] spawns the lanes. With
    /// `renumber_all` (a `route`, which hands each target a selection of its
    /// own) every target numbers what it gets, not only those with a `when`.
    pub fn new(composite: &str, targets: &[CompositeTarget], renumber_all: bool) -> Self {
        let names: Vec<String> = targets
            .iter()
            .map(|t| Self::lane_name(composite, &t.name))
            .collect();
        let everything = renumber_all
            .then(|| Arc::new(crate::routing::Condition::parse("true").expect("`true` parses")));
        let routes = RoutingTable::from_lanes(names.iter().zip(targets).map(|(name, target)| {
            (
                name.as_str(),
                target.settings.when.as_ref().or(everything.as_ref()),
            )
        }));
        Self {
            composite: composite.to_owned(),
            lanes: Vec::new(),
            routes,
        }
    }

    fn lane_name(composite: &str, target: &str) -> String {
        format!("{composite}.{target}")
    }

    /// Whether the lanes run.
    pub fn is_started(&self) -> bool {
        !self.lanes.is_empty()
    }

    /// Spawns a lane per target (stopping any running ones first); on a
    /// failure stops those already spawned.
    pub fn start(&mut self, targets: &[CompositeTarget]) -> Result<(), SinkError> {
        self.stop();
        for target in targets {
            let lane = SinkLane::spawn(
                &Self::lane_name(&self.composite, &target.name),
                Box::new(target.sink.clone()),
                // A target's lane: its queue, retries and dead letters; the
                // composite applies its `when`, and the composite's own
                // fault policy and buffer cover it.
                &SinkSettings {
                    when: None,
                    optional: false,
                    buffer: None,
                    ..target.settings.clone()
                },
                Some(target.sequence.clone()),
                &target.data_dir,
            );
            match lane {
                Ok(lane) => self.lanes.push(lane),
                Err(e) => {
                    self.stop();
                    return Err(SinkError::new(format!(
                        "target `{}` failed to start: {e}",
                        target.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Queues `batch` for the target at `index` (under its own `when`).
    pub fn push(&self, index: usize, batch: Batch) {
        self.lanes[index].push(RoutedBatch::new(batch, self.routes.clone()), false);
    }

    /// Queues `batch` for every target; their conditions are decided once.
    pub fn push_all(&self, batch: Batch) {
        let routed = RoutedBatch::new(batch, self.routes.clone());
        for lane in &self.lanes {
            lane.push(routed.clone(), false);
        }
    }

    /// Waits until every target delivered and flushed what it was given, or
    /// `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> FlushOutcome {
        let deadline = Instant::now() + timeout;
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
                None => problems.push(format!("{name}: not flushed within {timeout:?}")),
            }
        }
        if problems.is_empty() {
            FlushOutcome::Done
        } else {
            FlushOutcome::Retryable(problems.join("; "))
        }
    }

    /// A shutdown past its deadline: the targets dead-letter what they hold.
    pub fn abandon(&self) {
        for lane in &self.lanes {
            lane.open_queue();
            lane.abandon();
        }
    }

    /// The targets' combined health.
    pub fn health(&self) -> Health {
        combined_health(
            self.lanes
                .iter()
                .map(|lane| (lane.name().to_owned(), lane.health()))
                .collect(),
        )
    }

    /// Delivers what the lanes hold and stops them.
    pub fn stop(&mut self) {
        for lane in &self.lanes {
            lane.request_stop();
        }
        for lane in self.lanes.drain(..) {
            if !lane.join() {
                tracing::error!(sink = %lane.name(), "a composite's target worker panicked while stopping");
            }
        }
    }
}

impl Drop for TargetLanes {
    fn drop(&mut self) {
        self.stop();
    }
}
