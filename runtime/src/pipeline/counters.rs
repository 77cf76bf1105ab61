//! Per-sink counters, updated by the sink's worker and read at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of one sink. Cheap to update from the worker thread.
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub batches: AtomicU64,
    pub retryable: AtomicU64,
    pub rejected: AtomicU64,
    pub partial: AtomicU64,
    pub fatal: AtomicU64,
    pub retries: AtomicU64,
    pub deferred: AtomicU64,
    pub dropped_by_destination: AtomicU64,
    pub indeterminate: AtomicU64,
    pub dropped: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub lost: AtomicU64,
    pub restarts: AtomicU64,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    pub rollbacks: AtomicU64,
    pub dead_lettered_dropped: AtomicU64,
    pub matched: AtomicU64,
    pub skipped: AtomicU64,
}

impl SinkCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// The counters, with `queue_depth` and the module state as given (they
    /// are not counters).
    pub fn snapshot(
        &self,
        name: &str,
        queue_depth: u64,
        module: &ModuleState,
        guest_log_dropped: u64,
        http: Option<crate::wasm::HttpStats>,
    ) -> SinkStats {
        SinkStats {
            name: name.to_owned(),
            records: self.records.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            batches: self.batches.load(Relaxed),
            errors: OutcomeErrors {
                retryable: self.retryable.load(Relaxed),
                rejected: self.rejected.load(Relaxed),
                partial: self.partial.load(Relaxed),
                fatal: self.fatal.load(Relaxed),
            },
            retries: self.retries.load(Relaxed),
            deferred: self.deferred.load(Relaxed),
            dropped_by_destination: self.dropped_by_destination.load(Relaxed),
            indeterminate: self.indeterminate.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            lost: self.lost.load(Relaxed),
            restarts: self.restarts.load(Relaxed),
            queue_depth,
            reloads: self.reloads.load(Relaxed),
            reload_failures: self.reload_failures.load(Relaxed),
            rollbacks: self.rollbacks.load(Relaxed),
            dead_letters_dropped: self.dead_lettered_dropped.load(Relaxed),
            matched: self.matched.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            unrouted: 0,
            routed: Vec::new(),
            guest_log_dropped,
            http,
            module_hash: module.hash.clone(),
            last_reload_error: module.last_error.clone(),
            buffer: None,
        }
    }
}

/// A point-in-time copy of one sink's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SinkStats {
    /// The sink's name from the configuration.
    pub name: String,
    /// Records the sink accepted.
    pub records: u64,
    /// Bytes of the records the sink accepted (newlines included).
    pub bytes: u64,
    /// Batches fully accepted.
    pub batches: u64,
    /// Failed calls, by outcome.
    pub errors: OutcomeErrors,
    /// Times a batch (or its tail) was sent again.
    pub retries: u64,
    /// Times a batch was held back unsent (the sink's circuit breaker was
    /// open) and offered again later; not retries.
    pub deferred: u64,
    /// Records the destination took and then said it dropped, without
    /// saying which (OTLP partial success, Loki's partial ingest): counted
    /// in `records` no more, never sent again.
    pub dropped_by_destination: u64,
    /// Records sent in a call whose fate was unknown (a timeout after the
    /// request went out), and so sent again: a destination that does not
    /// deduplicate may hold them twice.
    pub indeterminate: u64,
    /// Records dropped by the overflow policy.
    pub dropped: u64,
    /// Records written to the dead-letter file.
    pub dead_lettered: u64,
    /// Records neither delivered nor written to the dead-letter file (it
    /// could not be written: a full disk, say); each loss is logged.
    pub lost: u64,
    /// Times the sink was restarted after a fatal outcome or a crash.
    pub restarts: u64,
    /// Batches waiting in the sink's queue.
    pub queue_depth: u64,
    /// Module or configuration reloads that took effect.
    pub reloads: u64,
    /// Reloads refused (the old instance kept running).
    pub reload_failures: u64,
    /// Reloads undone because the new module faulted on its first batches.
    pub rollbacks: u64,
    /// Dead-lettered records deleted to keep the dead-letter store under
    /// `dead_letter_max_bytes`.
    pub dead_letters_dropped: u64,
    /// Records handed to the sink: all it was sent, or those its `when`
    /// condition kept.
    pub matched: u64,
    /// Records its `when` condition left out.
    pub skipped: u64,
    /// For a `route` composite: records no rule took and no `default`
    /// received (dropped, and counted here; `default = "drop"` says so on
    /// purpose).
    pub unrouted: u64,
    /// For a `route` composite: records handed to each target, in target
    /// order.
    pub routed: Vec<(String, u64)>,
    /// Guest log lines (host.log, stdout, stderr) dropped over the sink's
    /// log budget; 0 for native sinks.
    pub guest_log_dropped: u64,
    /// What a wasm sink with an HTTP grant did over HTTP (requests,
    /// refusals, bytes, answers by class); `None` for every other sink.
    pub http: Option<crate::wasm::HttpStats>,
    /// The SHA-256 (hex) of the running module, for a wasm sink.
    pub module_hash: Option<String>,
    /// Why the last reload was refused or rolled back; cleared by a good one.
    pub last_reload_error: Option<String>,
    /// What the sink's disk buffer holds and has lost; `None` without one.
    pub buffer: Option<super::disk_buffer::BufferStats>,
}

/// Which module a sink runs and how its last reload went.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModuleState {
    pub hash: Option<String>,
    pub last_error: Option<String>,
}

/// Failed calls of one sink, by outcome. Traps, deadline hits and memory
/// limit hits of a wasm sink count as `fatal`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutcomeErrors {
    /// `retryable` answers.
    pub retryable: u64,
    /// `rejected` answers.
    pub rejected: u64,
    /// `partial` answers.
    pub partial: u64,
    /// `fatal` answers and guest crashes.
    pub fatal: u64,
}

impl OutcomeErrors {
    /// All failed calls.
    pub fn total(&self) -> u64 {
        self.retryable + self.rejected + self.partial + self.fatal
    }
}
