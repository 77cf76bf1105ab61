//! The trait every sink implements, native or sandboxed, and its outcomes.

use crate::batch::Batch;
pub use crate::record_results::{RecordResult, RecordResults};

/// A sink: something that delivers batches of records somewhere.
///
/// The pipeline drives each sink from its own worker thread, one call at a
/// time: `start`, then any number of `write`, `flush` and `health`, then
/// `stop`. Native sinks and the wasm adapter implement the same trait with the
/// same outcomes, so the pipeline does not care which kind it drives.
///
/// `Any` lets the pipeline recognise a sandboxed sink (to reload its module
/// and count its dropped log lines) without the trait knowing about either.
pub trait Sink: Send + std::any::Any {
    /// Prepares the sink (opens files, checks options). Called once before the
    /// first write, and again by [`Sink::restart`] after a fatal outcome.
    fn start(&mut self) -> Result<(), SinkError>;

    /// Delivers one batch and says how it went.
    fn write(&mut self, batch: &Batch) -> WriteOutcome;

    /// Hands off everything accepted so far. Must be idempotent.
    fn flush(&mut self) -> FlushOutcome {
        FlushOutcome::Done
    }

    /// Releases resources. Idempotent; never fails.
    fn stop(&mut self) {}

    /// The pipeline is shutting down past its deadline and will not wait:
    /// stop retrying, and hand anything still queued inside the sink to its
    /// dead-letter files. Called before `stop`. Only sinks that queue
    /// batches of their own (a fanout's targets) need it.
    fn abandon(&mut self) {}

    /// The sink's own view of its health. Must be cheap.
    fn health(&mut self) -> Health {
        Health::Healthy
    }

    /// Whether the sink broke outside `write` (for example a wasm instance
    /// that trapped in `health`) and must be restarted before it is used
    /// again. The default never breaks that way.
    fn needs_restart(&self) -> bool {
        false
    }

    /// Replaces a broken sink with a fresh one after a fatal outcome. The
    /// default stops and starts the sink again; the wasm adapter drops its
    /// instance and instantiates a new one.
    fn restart(&mut self) -> Result<(), SinkError> {
        self.stop();
        self.start()
    }

    /// When several batches wait in this sink's queue, the pipeline may hand
    /// it one batch merged from them (consecutive sequence numbers) of up to
    /// this many bytes, instead of one call per batch. `None`, the default:
    /// every batch on its own. Sandboxed sinks use it, since each call
    /// crosses into the guest.
    fn merge_limit(&self) -> Option<usize> {
        None
    }

    /// For a sink that routes records to targets of its own (the `route`
    /// composite): its counts, which the pipeline adds to the sink's
    /// stats. `None`, the default, for every other sink.
    fn routed_counts(&self) -> Option<std::sync::Arc<dyn RoutedCounts>> {
        None
    }
}

/// What a routing sink counts: records per target and records no rule
/// took. Defined here, beside [`Sink`], so the pipeline reads them without
/// knowing the routing sink's type.
pub trait RoutedCounts: Send + Sync {
    /// Records handed to each target, in target order.
    fn routed(&self) -> Vec<(String, u64)>;
    /// Records no rule took and no default received.
    fn unrouted(&self) -> u64;
}

/// What happened to one batch handed to [`Sink::write`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every record was delivered.
    Accepted,
    /// A transient failure: retry the same batch after a back-off.
    Retryable(String),
    /// The batch can never be delivered: dead-letter it, do not retry.
    Rejected(String),
    /// The first `accepted` records were delivered; retry the rest.
    Partial {
        /// Records delivered, counted from the start of the batch.
        accepted: u32,
        /// Why the rest was not.
        reason: String,
    },
    /// Record by record: the destination answered per item (some stored,
    /// some refused, some throttled, some dropped). See [`RecordResults`].
    Records(RecordResults),
    /// Nothing was sent: the sink holds the batch back for now (its
    /// circuit breaker is open after repeated failures). The pipeline
    /// waits `wait` and offers the batch again. A deferral is not a retry:
    /// it never uses up the batch's `max_retries`.
    Deferred {
        /// How long until the sink will send again.
        wait: std::time::Duration,
        /// Why it holds back.
        reason: String,
    },
    /// The sink is broken: restart it and retry the batch.
    Fatal(String),
}

impl WriteOutcome {
    /// The outcome of a batch of `len` records of which the first
    /// `handled` were dealt with (each delivered unless in `refused`) and
    /// the rest not, for `retry_reason`: the plainest variant that says
    /// so (`accepted`, `retryable`, `partial` or per-record results).
    pub fn settled(
        len: u32,
        handled: u32,
        refused: Vec<(std::ops::Range<u32>, String)>,
        retry_reason: String,
    ) -> Self {
        let handled = handled.min(len);
        match (handled, refused.is_empty()) {
            (h, true) if h == len => WriteOutcome::Accepted,
            (0, true) => WriteOutcome::Retryable(retry_reason),
            (h, true) => WriteOutcome::Partial {
                accepted: h,
                reason: retry_reason,
            },
            (handled, false) => {
                let results = refused
                    .into_iter()
                    .fold(RecordResults::new(), |results, (range, why)| {
                        results.rejected(range, why)
                    });
                WriteOutcome::Records(results.retryable(handled..len, retry_reason))
            }
        }
    }
}

/// What happened to a [`Sink::flush`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Everything accepted so far is handed off.
    Done,
    /// Not yet: the caller may flush again later.
    Retryable(String),
    /// The sink is broken: restart it.
    Fatal(String),
}

/// A sink's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Working normally.
    Healthy,
    /// Working, but impaired.
    Degraded(String),
    /// Not able to deliver at the moment.
    Unhealthy(String),
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Degraded(why) => write!(f, "degraded: {why}"),
            Health::Unhealthy(why) => write!(f, "unhealthy: {why}"),
        }
    }
}

/// A sink could not start.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    message: String,
}

impl SinkError {
    /// An error with a message that says what is wrong and how to fix it.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl From<std::io::Error> for SinkError {
    fn from(err: std::io::Error) -> Self {
        SinkError::new(err.to_string())
    }
}
