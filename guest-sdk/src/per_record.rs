//! Answering a batch record by record (contract 0.2's `per-record`).

use std::ops::Range;
use std::time::Duration;

use crate::WriteOutcome;
use crate::bindings::sinkbox::sink0_2_0::types::{
    DroppedRecords, RecordResult, RecordResults, ResultRange,
};

/// A `per-record` answer, built a range at a time. Records in no range
/// were delivered; list only the ones that were not.
///
/// ```ignore
/// use sinkbox_guest::PerRecord;
/// // Of a `_bulk` request: item 7 refused for good, items 12 to 15
/// // throttled; the rest stored.
/// return PerRecord::new()
///     .rejected(7..8, "mapper_parsing_exception")
///     .retryable(12..16, "429 es_rejected_execution_exception")
///     .into();
/// ```
#[derive(Debug, Default)]
pub struct PerRecord {
    ranges: Vec<ResultRange>,
    retry_after_ms: Option<u64>,
    warning: Option<String>,
}

impl PerRecord {
    /// No ranges yet: every record delivered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `range` failed for a passing reason: the host sends them
    /// again, alone and in order.
    pub fn retryable(self, range: Range<u32>, reason: impl Into<String>) -> Self {
        self.with(range, RecordResult::Retryable(reason.into()))
    }

    /// Records `range` can never be delivered: the host dead-letters them
    /// with `reason`.
    pub fn rejected(self, range: Range<u32>, reason: impl Into<String>) -> Self {
        self.with(range, RecordResult::Rejected(reason.into()))
    }

    /// The destination took records `range` and dropped `count` of them
    /// without saying which: nothing is sent again.
    pub fn dropped(self, range: Range<u32>, count: u32, reason: impl Into<String>) -> Self {
        self.with(
            range,
            RecordResult::Dropped(DroppedRecords {
                count,
                reason: reason.into(),
            }),
        )
    }

    /// Records `range` were sent and whether they arrived is unknown: the
    /// host sends them again and counts them apart.
    pub fn indeterminate(self, range: Range<u32>, reason: impl Into<String>) -> Self {
        self.with(range, RecordResult::Indeterminate(reason.into()))
    }

    /// Send the retryable records again no sooner than `wait` (a server's
    /// `Retry-After`).
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after_ms = Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Something the destination said that the host should log.
    pub fn warning(mut self, text: impl Into<String>) -> Self {
        self.warning = Some(text.into());
        self
    }

    /// Whether every record was delivered so far.
    pub fn all_delivered(&self) -> bool {
        self.ranges.is_empty()
    }

    fn with(mut self, range: Range<u32>, outcome: RecordResult) -> Self {
        if !range.is_empty() {
            self.ranges.push(ResultRange {
                start: range.start,
                end: range.end,
                outcome,
            });
        }
        self
    }
}

impl From<PerRecord> for WriteOutcome {
    /// `accepted` when no range was listed (and no warning), else the
    /// `per-record` answer.
    fn from(answer: PerRecord) -> Self {
        if answer.ranges.is_empty() && answer.warning.is_none() {
            return WriteOutcome::Accepted;
        }
        WriteOutcome::PerRecord(RecordResults {
            ranges: answer.ranges,
            retry_after_ms: answer.retry_after_ms,
            warning: answer.warning,
        })
    }
}
