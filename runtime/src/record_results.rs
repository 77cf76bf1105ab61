//! Per-record results of one batch: what a destination that answers item
//! by item (Elasticsearch `_bulk`, CloudWatch's rejected events, one
//! request of several that failed) said about each record.

use std::ops::Range;
use std::time::Duration;

/// What became of the records of one batch that were not simply
/// delivered, by index range; every record outside the listed ranges was
/// delivered. Build it with the methods below, in any order: the ranges
/// are read ascending, and a record named twice keeps its first result.
///
/// ```
/// use sinkbox::sink::{RecordResults, WriteOutcome};
/// // Of a batch of 20: item 7 refused for good, items 12 to 15 throttled.
/// let outcome = WriteOutcome::Records(
///     RecordResults::new()
///         .rejected(7..8, "mapper_parsing_exception")
///         .retryable(12..16, "429 es_rejected_execution_exception"),
/// );
/// # let _ = outcome;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordResults {
    /// The records not simply delivered: index ranges within the batch,
    /// each with its result.
    pub ranges: Vec<(Range<u32>, RecordResult)>,
    /// Send the retryable records again no sooner than this (a server's
    /// `Retry-After`), even when the back-off is shorter.
    pub retry_after: Option<Duration>,
    /// Something the destination said alongside a success that the
    /// operator should see (logged, bounded and escaped).
    pub warning: Option<String>,
}

/// The result of a range of records that were not simply delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordResult {
    /// Not delivered, for a passing reason: sent again, alone and in
    /// order, after a back-off.
    Retryable(String),
    /// Never deliverable: dead-lettered with this reason, not sent again.
    Rejected(String),
    /// The destination took these records and then dropped `dropped` of
    /// them without saying which (OTLP `partial_success`, Loki's "total
    /// ignored: N out of M"): nothing is sent again, the drop is counted
    /// and logged.
    Dropped {
        /// How many of the range were dropped.
        dropped: u32,
        /// What the destination said.
        reason: String,
    },
    /// Sent, but whether they arrived is unknown (the connection timed
    /// out after the request went out): sent again, and counted apart so
    /// a deduplicating destination can be told.
    Indeterminate(String),
}

impl RecordResults {
    /// No ranges yet: every record delivered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `range` failed for a passing reason.
    pub fn retryable(self, range: Range<u32>, reason: impl Into<String>) -> Self {
        self.with(range, RecordResult::Retryable(reason.into()))
    }

    /// Records `range` can never be delivered.
    pub fn rejected(self, range: Range<u32>, reason: impl Into<String>) -> Self {
        self.with(range, RecordResult::Rejected(reason.into()))
    }

    /// Of records `range`, the destination dropped `dropped`, unknown which.
    pub fn dropped(self, range: Range<u32>, dropped: u32, reason: impl Into<String>) -> Self {
        self.with(
            range,
            RecordResult::Dropped {
                dropped,
                reason: reason.into(),
            },
        )
    }

    /// Records `range` were sent; whether they arrived is unknown.
    pub fn indeterminate(self, range: Range<u32>, reason: impl Into<String>) -> Self {
        self.with(range, RecordResult::Indeterminate(reason.into()))
    }

    /// Retry no sooner than `wait`.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(self.retry_after.map_or(wait, |w| w.max(wait)));
        self
    }

    /// A warning to log alongside the success.
    pub fn warning(mut self, text: impl Into<String>) -> Self {
        self.warning = Some(text.into());
        self
    }

    /// Adds `result` for `range` (an empty range adds nothing).
    pub fn with(mut self, range: Range<u32>, result: RecordResult) -> Self {
        if !range.is_empty() {
            self.ranges.push((range, result));
        }
        self
    }

    /// Whether every record was delivered.
    pub fn all_delivered(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl RecordResults {
    /// The plainest outcome that says the same for a batch of `len`
    /// records: `accepted`, `retryable`, `rejected` or `partial` where one
    /// of them does, else these results. Neighbouring retryable ranges
    /// are joined (the first reason kept).
    pub fn into_outcome(mut self, len: u32) -> crate::sink::WriteOutcome {
        use crate::sink::WriteOutcome;
        self.ranges.sort_by_key(|(range, _)| range.start);
        let mut joined: Vec<(Range<u32>, RecordResult)> = Vec::with_capacity(self.ranges.len());
        for (range, result) in self.ranges {
            match (joined.last_mut(), &result) {
                (Some((last, RecordResult::Retryable(_))), RecordResult::Retryable(_))
                    if last.end == range.start =>
                {
                    last.end = range.end;
                }
                _ => joined.push((range, result)),
            }
        }
        self.ranges = joined;
        if self.warning.is_some() || self.retry_after.is_some() {
            return WriteOutcome::Records(self);
        }
        match self.ranges.as_slice() {
            [] => WriteOutcome::Accepted,
            [(range, RecordResult::Retryable(why))] if range.end == len => {
                if range.start == 0 {
                    WriteOutcome::Retryable(why.clone())
                } else {
                    WriteOutcome::Partial {
                        accepted: range.start,
                        reason: why.clone(),
                    }
                }
            }
            [(range, RecordResult::Rejected(why))] if *range == (0..len) => {
                WriteOutcome::Rejected(why.clone())
            }
            _ => WriteOutcome::Records(self),
        }
    }
}
