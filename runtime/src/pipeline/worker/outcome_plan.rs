//! What one answer means for a batch, decided without I/O: which records
//! of its front count as delivered, which of them go to the dead letters
//! and why, and what happens to the rest. The delivery loop carries a plan
//! out (counters, dead letters, back-off, restarts); the table in the
//! tests below is the contract's outcome semantics, row by row.

use std::ops::Range;
use std::time::Duration;

use crate::sink::WriteOutcome;

/// What happens to the records an answer did not deal with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing is left: the batch is settled.
    Settled,
    /// A transient failure: send the rest again after the back-off of the
    /// next retry, within the retry limits.
    Retry(String),
    /// Nothing was sent (an open circuit breaker): offer the rest again
    /// after `wait`; not a retry.
    Wait(Duration, String),
    /// Dead-letter the rest now, with this reason.
    DeadLetter(String),
    /// The sink is broken: restart it (or roll a reload back), then send
    /// the rest again.
    Restart(String),
}

/// The failure counter an answer adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    /// An answer that settled the batch without a failure.
    Nothing,
    /// `retryable`.
    Retryable,
    /// `deferred`.
    Deferred,
    /// `partial`, or a `refused` that left records undealt with.
    Partial,
    /// `rejected`.
    Rejected,
    /// `fatal`, a trap or a panic.
    Fatal,
}

/// What one answer to a batch settles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Records from the front of the batch the answer dealt with: each
    /// delivered unless it is in `refused`.
    pub handled: u32,
    /// Ranges of the handled front to dead-letter, each with why:
    /// ascending, disjoint, within `handled`.
    pub refused: Vec<(Range<u32>, String)>,
    /// The failure counter the answer adds to.
    pub counted: Counted,
    /// What happens to the records after `handled`.
    pub next: Next,
    /// Contract violations in the answer, to warn about (the plan already
    /// reads them the forgiving way).
    pub warnings: Vec<String>,
}

impl Plan {
    fn of(handled: u32, counted: Counted, next: Next) -> Self {
        Self {
            handled,
            refused: Vec::new(),
            counted,
            next,
            warnings: Vec::new(),
        }
    }
}

/// The plan for `outcome`, the answer to a batch of `len` records.
pub(crate) fn plan(outcome: WriteOutcome, len: u32) -> Plan {
    match outcome {
        WriteOutcome::Accepted => Plan::of(len, Counted::Nothing, Next::Settled),
        WriteOutcome::Partial { accepted, reason } if accepted < len => {
            Plan::of(accepted, Counted::Partial, Next::Retry(reason))
        }
        WriteOutcome::Partial { accepted, .. } => {
            let mut plan = Plan::of(len, Counted::Nothing, Next::Settled);
            if accepted > len {
                plan.warnings.push(format!(
                    "contract violation: `partial` accepted {accepted} of {len} records; treated as accepted"
                ));
            }
            plan
        }
        WriteOutcome::Retryable(reason) => Plan::of(0, Counted::Retryable, Next::Retry(reason)),
        WriteOutcome::Deferred { wait, reason } => {
            Plan::of(0, Counted::Deferred, Next::Wait(wait, reason))
        }
        WriteOutcome::Rejected(reason) => Plan::of(
            0,
            Counted::Rejected,
            Next::DeadLetter(format!("rejected: {reason}")),
        ),
        WriteOutcome::Refused {
            handled,
            refused,
            retry_reason,
        } => {
            let handled = handled.min(len);
            let (counted, next) = if handled == len {
                (Counted::Nothing, Next::Settled)
            } else {
                (Counted::Partial, Next::Retry(retry_reason))
            };
            let mut plan = Plan::of(handled, counted, next);
            let mut next_free = 0u32;
            for (range, reason) in refused {
                let start = range.start.max(next_free);
                let end = range.end.min(handled);
                if start >= end {
                    plan.warnings.push(format!(
                        "contract violation: `refused` listed records {range:?} out of order or past the {handled} handled; ignored"
                    ));
                    continue;
                }
                plan.refused
                    .push((start..end, format!("refused: {reason}")));
                next_free = end;
            }
            plan
        }
        WriteOutcome::Fatal(reason) => Plan::of(0, Counted::Fatal, Next::Restart(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(accepted: u32) -> WriteOutcome {
        WriteOutcome::Partial {
            accepted,
            reason: "half".into(),
        }
    }

    fn refused(handled: u32, ranges: &[(u32, u32)]) -> WriteOutcome {
        WriteOutcome::Refused {
            handled,
            refused: ranges
                .iter()
                .map(|(s, e)| (*s..*e, format!("bad {s}")))
                .collect(),
            retry_reason: "later".into(),
        }
    }

    /// One row: an answer to a batch of ten, and its plan.
    struct Row {
        name: &'static str,
        answer: WriteOutcome,
        handled: u32,
        refused: Vec<(u32, u32)>,
        counted: Counted,
        next: Next,
        warnings: usize,
    }

    fn row(
        name: &'static str,
        answer: WriteOutcome,
        handled: u32,
        counted: Counted,
        next: Next,
    ) -> Row {
        Row {
            name,
            answer,
            handled,
            refused: vec![],
            counted,
            next,
            warnings: 0,
        }
    }

    #[test]
    fn every_answer_to_a_batch_of_ten_is_planned_as_the_contract_says() {
        let retry = |why: &str| Next::Retry(why.into());
        let rows = vec![
            row(
                "accepted",
                WriteOutcome::Accepted,
                10,
                Counted::Nothing,
                Next::Settled,
            ),
            row(
                "partial 4: the rest retried",
                partial(4),
                4,
                Counted::Partial,
                retry("half"),
            ),
            row(
                "partial 0 is a retry of all",
                partial(0),
                0,
                Counted::Partial,
                retry("half"),
            ),
            row(
                "partial 10 is accepted",
                partial(10),
                10,
                Counted::Nothing,
                Next::Settled,
            ),
            Row {
                warnings: 1,
                ..row(
                    "partial 99 is accepted, with a warning",
                    partial(99),
                    10,
                    Counted::Nothing,
                    Next::Settled,
                )
            },
            row(
                "retryable",
                WriteOutcome::Retryable("busy".into()),
                0,
                Counted::Retryable,
                retry("busy"),
            ),
            row(
                "deferred: wait, not a retry",
                WriteOutcome::Deferred {
                    wait: Duration::from_secs(3),
                    reason: "open".into(),
                },
                0,
                Counted::Deferred,
                Next::Wait(Duration::from_secs(3), "open".into()),
            ),
            row(
                "rejected: all dead-lettered",
                WriteOutcome::Rejected("no".into()),
                0,
                Counted::Rejected,
                Next::DeadLetter("rejected: no".into()),
            ),
            Row {
                refused: vec![(2, 3), (7, 9)],
                ..row(
                    "refused whole: only the listed records dead-lettered",
                    refused(10, &[(2, 3), (7, 9)]),
                    10,
                    Counted::Nothing,
                    Next::Settled,
                )
            },
            Row {
                refused: vec![(1, 2)],
                ..row(
                    "refused in part: the rest retried",
                    refused(6, &[(1, 2)]),
                    6,
                    Counted::Partial,
                    retry("later"),
                )
            },
            Row {
                refused: vec![(4, 6)],
                warnings: 2,
                ..row(
                    "refused past the handled front or out of order: clipped, warned",
                    refused(6, &[(4, 8), (2, 3), (6, 9)]),
                    6,
                    Counted::Partial,
                    retry("later"),
                )
            },
            Row {
                refused: vec![(9, 10)],
                ..row(
                    "refused with handled past the batch: the batch",
                    refused(50, &[(9, 40)]),
                    10,
                    Counted::Nothing,
                    Next::Settled,
                )
            },
            row(
                "fatal: restart",
                WriteOutcome::Fatal("trap".into()),
                0,
                Counted::Fatal,
                Next::Restart("trap".into()),
            ),
        ];
        for row in rows {
            let plan = plan(row.answer, 10);
            let refused: Vec<(u32, u32)> =
                plan.refused.iter().map(|(r, _)| (r.start, r.end)).collect();
            assert_eq!(
                (
                    plan.handled,
                    refused,
                    plan.counted,
                    plan.next,
                    plan.warnings.len()
                ),
                (
                    row.handled,
                    row.refused,
                    row.counted,
                    row.next,
                    row.warnings
                ),
                "{}",
                row.name
            );
        }
    }
}
