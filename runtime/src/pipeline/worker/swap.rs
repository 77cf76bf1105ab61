//! Hot swap at a batch boundary, the probation of a reloaded module, and
//! the rollback to the previous one when the new one faults early.

use std::sync::Arc;
use std::time::Instant;

use super::{FaultPolicy, SinkWorker, guarded};
use crate::pipeline::control::SwapRequest;
use crate::pipeline::counters::SinkCounters;
use crate::pipeline::sink_parts::sink_parts;
use crate::sink::{Health, Sink};
use crate::wasm::SinkReloader;

/// The module a reload replaced, kept (stopped) for its first batches so a
/// fault of the new one can swap it back.
pub(super) struct Probation {
    previous: Box<dyn Sink>,
    reloader: Option<Arc<dyn SinkReloader>>,
    hash: Option<String>,
    batches_left: u32,
}

impl SinkWorker {
    /// Replaces the sink at a batch boundary: the old one is flushed and
    /// stopped, the new one (already started) takes every later batch. After
    /// a module reload the old one is kept, stopped, for the first
    /// `rollback_batches` batches.
    pub(super) fn swap(&mut self, request: SwapRequest) {
        let started = Instant::now();
        let was_running = self.running;
        if self.running {
            if let Err(err) = self.flush(None) {
                tracing::warn!(sink = %self.shared.name, "the replaced instance did not flush: {err}");
            }
            let _ = guarded("stop", || self.sink.stop());
        }
        let parts = sink_parts(&*request.sink);
        let new_reloader = parts.reloader;
        let old = std::mem::replace(&mut self.sink, request.sink);
        let old_reloader =
            std::mem::replace(&mut *self.shared.reloader.lock().unwrap(), new_reloader);
        *self.shared.log_budget.lock().unwrap() = parts.log_budget;
        *self.shared.http.lock().unwrap() = parts.http;
        *self.shared.route.lock().unwrap() = parts.route;
        let old_hash = {
            let mut module = self.shared.module.lock().unwrap();
            module.last_error = None;
            std::mem::replace(&mut module.hash, request.hash)
        };
        self.probation = if request.rollback && was_running && self.faults.rollback_batches > 0 {
            Some(Probation {
                previous: old,
                reloader: old_reloader,
                hash: old_hash,
                batches_left: self.faults.rollback_batches,
            })
        } else {
            // Dropping a wasm instance frees its store.
            drop(old);
            None
        };
        if let Some(settings) = request.settings {
            let buffer_now = self
                .shared
                .buffer
                .as_ref()
                .map(|b| b.buffer.options().clone());
            if settings.buffer != buffer_now {
                tracing::warn!(
                    sink = %self.shared.name,
                    "the sink's `buffer` changed; a disk buffer is set up when the sink starts, so the change takes effect at the next start"
                );
            }
            self.policy = settings.retry;
            self.faults = FaultPolicy {
                optional: settings.optional,
                rollback_batches: settings.rollback_batches,
            };
            self.dead_letters
                .set_max_bytes(settings.dead_letter_max_bytes);
        }
        self.running = true;
        self.start_retry = None;
        self.set_health(Health::Healthy);
        SinkCounters::add(&self.shared.counters.reloads, 1);
        request.done.complete(started.elapsed());
    }

    /// `batches` more went through the reloaded module without a fault.
    pub(super) fn probation_tick(&mut self, batches: u32) {
        if let Some(probation) = &mut self.probation {
            probation.batches_left = probation.batches_left.saturating_sub(batches);
            if probation.batches_left == 0 {
                self.probation = None;
            }
        }
    }

    /// The module swapped in by a reload faulted on one of its first
    /// batches: starts the previous module again and swaps it back. Returns
    /// whether it did (the caller then redelivers to it).
    pub(super) fn roll_back(&mut self, why: &str) -> bool {
        let Some(probation) = self.probation.take() else {
            return false;
        };
        let mut previous = probation.previous;
        if let Err(err) =
            guarded("start", || previous.start()).and_then(|r| r.map_err(|e| e.to_string()))
        {
            tracing::error!(sink = %self.shared.name, "the new module faulted ({why}) and the previous one could not be started again: {err}");
            return false;
        }
        // The faulted instance is not called again: dropped without `stop`.
        drop(std::mem::replace(&mut self.sink, previous));
        *self.shared.reloader.lock().unwrap() = probation.reloader;
        let parts = sink_parts(&*self.sink);
        *self.shared.log_budget.lock().unwrap() = parts.log_budget;
        *self.shared.http.lock().unwrap() = parts.http;
        let message = format!(
            "rolled back: the new module faulted within its first {} batch(es) after the reload: {why}",
            self.faults.rollback_batches
        );
        {
            let mut module = self.shared.module.lock().unwrap();
            module.hash = probation.hash;
            module.last_error = Some(message.clone());
        }
        SinkCounters::add(&self.shared.counters.rollbacks, 1);
        tracing::warn!(sink = %self.shared.name, "{message}");
        self.running = true;
        true
    }
}
