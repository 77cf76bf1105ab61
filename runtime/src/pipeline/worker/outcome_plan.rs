//! What one answer means for a batch, decided without I/O: which of its
//! records count as delivered, which go to the dead letters and why,
//! which the destination dropped, and which are sent again and how. The
//! delivery loop carries a plan out (counters, dead letters, back-off,
//! restarts); the table in the tests below is the contract's outcome
//! semantics, row by row.

use std::ops::Range;
use std::time::Duration;

use crate::sink::{RecordResult, RecordResults, WriteOutcome};

/// What becomes of one range of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Delivered.
    Delivered,
    /// Delivered, but the destination says it dropped `dropped` of these,
    /// without saying which: counted and logged, not sent again.
    Dropped { dropped: u32, reason: String },
    /// Dead-lettered with this reason.
    DeadLetter(String),
    /// Sent again, as [`Plan::next`] says; `indeterminate` when whether
    /// they arrived is unknown.
    Again { indeterminate: bool },
}

/// What happens to the records whose fate is [`Fate::Again`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing is left: the batch is settled.
    Settled,
    /// A transient failure: send them again after the back-off of the
    /// next retry (and no sooner than `after`), within the retry limits.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Nothing was sent (an open circuit breaker): offer them again after
    /// the wait; not a retry.
    Wait(Duration, String),
    /// The sink is broken: restart it (or roll a reload back), then send
    /// them again.
    Restart(String),
}

/// The failure counter an answer adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    /// An answer that left nothing to send again.
    Nothing,
    /// Every record to be sent again (`retryable`, or per-record results
    /// that settled none).
    Retryable,
    /// `deferred`.
    Deferred,
    /// Some records settled, some to be sent again.
    Partial,
    /// `fatal`, a trap or a panic.
    Fatal,
}

/// What one answer to a batch settles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The batch range by range, in order, covering it whole (empty for an
    /// empty batch); neighbouring ranges may share a fate.
    pub fates: Vec<(Range<u32>, Fate)>,
    /// The failure counter the answer adds to.
    pub counted: Counted,
    /// What happens to the records to send again.
    pub next: Next,
    /// Something the destination said with a success, to log.
    pub notice: Option<String>,
    /// Contract violations in the answer, to warn about (the plan already
    /// reads them the forgiving way).
    pub warnings: Vec<String>,
}

impl Plan {
    /// The whole batch of `len` with one fate.
    fn whole(len: u32, fate: Fate, counted: Counted, next: Next) -> Self {
        let fates = if len == 0 {
            Vec::new()
        } else {
            vec![(0..len, fate)]
        };
        Self {
            fates,
            counted,
            next,
            notice: None,
            warnings: Vec::new(),
        }
    }

    /// Whether the answer delivers a record (or the batch is empty).
    pub fn delivers_any(&self) -> bool {
        self.fates.is_empty()
            || self
                .fates
                .iter()
                .any(|(_, fate)| matches!(fate, Fate::Delivered | Fate::Dropped { .. }))
    }

    /// Whether the answer shows the destination working (it settled at
    /// least one record), failing (it settled none and something is to be
    /// sent again), or neither (a fault of the sink's own, or nothing to
    /// say): `Some(true)`, `Some(false)`, `None`.
    pub fn destination_works(&self) -> Option<bool> {
        if self.counted == Counted::Fatal {
            return None;
        }
        let settled_some = self
            .fates
            .iter()
            .any(|(_, fate)| !matches!(fate, Fate::Again { .. }));
        match (settled_some, self.next == Next::Settled) {
            (true, _) | (false, true) => Some(true),
            (false, false) => Some(false),
        }
    }
}

/// The plan for `outcome`, the answer to a batch of `len` records.
pub(crate) fn plan(outcome: WriteOutcome, len: u32) -> Plan {
    let again = Fate::Again {
        indeterminate: false,
    };
    match outcome {
        WriteOutcome::Accepted => {
            Plan::whole(len, Fate::Delivered, Counted::Nothing, Next::Settled)
        }
        WriteOutcome::Partial { accepted, reason } if accepted < len => {
            let mut plan = plan_records(RecordResults::new().retryable(accepted..len, reason), len);
            plan.counted = Counted::Partial;
            plan
        }
        WriteOutcome::Partial { accepted, .. } => {
            let mut plan = Plan::whole(len, Fate::Delivered, Counted::Nothing, Next::Settled);
            if accepted > len {
                plan.warnings.push(format!(
                    "contract violation: `partial` accepted {accepted} of {len} records; treated as accepted"
                ));
            }
            plan
        }
        WriteOutcome::Retryable(reason) => Plan::whole(
            len,
            again,
            Counted::Retryable,
            Next::Retry {
                reason,
                after: None,
            },
        ),
        WriteOutcome::Deferred { wait, reason } => {
            Plan::whole(len, again, Counted::Deferred, Next::Wait(wait, reason))
        }
        WriteOutcome::Rejected(reason) => Plan::whole(
            len,
            Fate::DeadLetter(format!("rejected: {reason}")),
            Counted::Nothing,
            Next::Settled,
        ),
        WriteOutcome::Records(results) => plan_records(results, len),
        WriteOutcome::Fatal(reason) => {
            Plan::whole(len, again, Counted::Fatal, Next::Restart(reason))
        }
    }
}

/// The plan for per-record results: ranges read ascending, clipped to the
/// batch and to what earlier ranges left; the gaps delivered.
fn plan_records(results: RecordResults, len: u32) -> Plan {
    let RecordResults {
        mut ranges,
        retry_after,
        warning,
    } = results;
    ranges.sort_by_key(|(range, _)| range.start);
    let mut plan = Plan::whole(0, Fate::Delivered, Counted::Nothing, Next::Settled);
    plan.notice = warning;
    let mut retry_reason: Option<String> = None;
    let mut next_free = 0u32;
    // However many ranges break the rules, one warning says so.
    let mut misplaced: Option<(Range<u32>, usize)> = None;
    for (range, result) in ranges {
        let start = range.start.max(next_free);
        let end = range.end.min(len);
        if start >= end || start != range.start || end != range.end {
            misplaced.get_or_insert((range.clone(), 0)).1 += 1;
            if start >= end {
                continue;
            }
        }
        if start > next_free {
            plan.fates.push((next_free..start, Fate::Delivered));
        }
        let fate = match result {
            RecordResult::Retryable(reason) => {
                retry_reason.get_or_insert(reason);
                Fate::Again {
                    indeterminate: false,
                }
            }
            RecordResult::Indeterminate(reason) => {
                retry_reason.get_or_insert(reason);
                Fate::Again {
                    indeterminate: true,
                }
            }
            RecordResult::Rejected(reason) => Fate::DeadLetter(format!("rejected: {reason}")),
            RecordResult::Dropped { dropped, reason } => {
                if dropped > end - start {
                    misplaced.get_or_insert((range.clone(), 0)).1 += 1;
                }
                Fate::Dropped {
                    dropped: dropped.min(end - start),
                    reason,
                }
            }
        };
        plan.fates.push((start..end, fate));
        next_free = end;
    }
    if next_free < len {
        plan.fates.push((next_free..len, Fate::Delivered));
    }
    if let Some((first, count)) = misplaced {
        plan.warnings.push(format!(
            "contract violation: {count} per-record range(s) overlapped an earlier one, ran past the {len} records of the batch or dropped more records than it held (the first: {first:?}); clipped or ignored"
        ));
    }
    if let Some(reason) = retry_reason {
        let settled_some = plan
            .fates
            .iter()
            .any(|(_, fate)| !matches!(fate, Fate::Again { .. }));
        plan.counted = if settled_some {
            Counted::Partial
        } else {
            Counted::Retryable
        };
        plan.next = Next::Retry {
            reason,
            after: retry_after,
        };
    }
    plan
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

    fn records(results: RecordResults) -> WriteOutcome {
        WriteOutcome::Records(results)
    }

    fn retry(why: &str) -> Next {
        Next::Retry {
            reason: why.into(),
            after: None,
        }
    }

    /// `plan.fates` written short: `0-4 D` delivered, `X` dead-lettered,
    /// `A` sent again, `I` sent again and indeterminate, `P2` two dropped.
    fn short(plan: &Plan) -> String {
        plan.fates
            .iter()
            .map(|(range, fate)| {
                let fate = match fate {
                    Fate::Delivered => "D".to_owned(),
                    Fate::DeadLetter(_) => "X".to_owned(),
                    Fate::Again {
                        indeterminate: false,
                    } => "A".to_owned(),
                    Fate::Again {
                        indeterminate: true,
                    } => "I".to_owned(),
                    Fate::Dropped { dropped, .. } => format!("P{dropped}"),
                };
                format!("{}-{} {fate}", range.start, range.end)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn every_answer_to_a_batch_of_ten_is_planned_as_the_contract_says() {
        let rows: Vec<(&str, WriteOutcome, &str, Counted, Next, usize)> = vec![
            (
                "accepted",
                WriteOutcome::Accepted,
                "0-10 D",
                Counted::Nothing,
                Next::Settled,
                0,
            ),
            (
                "partial 4: the rest retried",
                partial(4),
                "0-4 D, 4-10 A",
                Counted::Partial,
                retry("half"),
                0,
            ),
            (
                "partial 0 is a retry of all",
                partial(0),
                "0-10 A",
                Counted::Partial,
                retry("half"),
                0,
            ),
            (
                "partial 10 is accepted",
                partial(10),
                "0-10 D",
                Counted::Nothing,
                Next::Settled,
                0,
            ),
            (
                "partial 99 is accepted, with a warning",
                partial(99),
                "0-10 D",
                Counted::Nothing,
                Next::Settled,
                1,
            ),
            (
                "retryable",
                WriteOutcome::Retryable("busy".into()),
                "0-10 A",
                Counted::Retryable,
                retry("busy"),
                0,
            ),
            (
                "deferred: wait, not a retry",
                WriteOutcome::Deferred {
                    wait: Duration::from_secs(3),
                    reason: "open".into(),
                },
                "0-10 A",
                Counted::Deferred,
                Next::Wait(Duration::from_secs(3), "open".into()),
                0,
            ),
            (
                "rejected: all dead-lettered",
                WriteOutcome::Rejected("no".into()),
                "0-10 X",
                Counted::Nothing,
                Next::Settled,
                0,
            ),
            (
                "per record, refusals only: only those dead-lettered",
                records(
                    RecordResults::new()
                        .rejected(2..3, "bad")
                        .rejected(7..9, "bad"),
                ),
                "0-2 D, 2-3 X, 3-7 D, 7-9 X, 9-10 D",
                Counted::Nothing,
                Next::Settled,
                0,
            ),
            (
                "per record, a throttled middle: only it retried, the rest settled",
                records(
                    RecordResults::new()
                        .retryable(4..6, "429")
                        .rejected(1..2, "mapping"),
                ),
                "0-1 D, 1-2 X, 2-4 D, 4-6 A, 6-10 D",
                Counted::Partial,
                retry("429"),
                0,
            ),
            (
                "per record, all retryable: a retry, after the server's wait",
                records(
                    RecordResults::new()
                        .retryable(0..10, "busy")
                        .retry_after(Duration::from_secs(7)),
                ),
                "0-10 A",
                Counted::Retryable,
                Next::Retry {
                    reason: "busy".into(),
                    after: Some(Duration::from_secs(7)),
                },
                0,
            ),
            (
                "dropped by the destination: settled, counted",
                records(RecordResults::new().dropped(0..10, 3, "total ignored: 3 out of 10")),
                "0-10 P3",
                Counted::Nothing,
                Next::Settled,
                0,
            ),
            (
                "indeterminate: sent again",
                records(RecordResults::new().indeterminate(5..10, "timed out after sending")),
                "0-5 D, 5-10 I",
                Counted::Partial,
                retry("timed out after sending"),
                0,
            ),
            (
                "overlapping and out-of-bounds ranges: clipped, one warning",
                records(
                    RecordResults::new()
                        .rejected(4..8, "a")
                        .rejected(2..3, "b")
                        .rejected(6..9, "c")
                        .rejected(12..14, "d")
                        .dropped(9..10, 5, "e"),
                ),
                "0-2 D, 2-3 X, 3-4 D, 4-8 X, 8-9 X, 9-10 P1",
                Counted::Nothing,
                Next::Settled,
                1,
            ),
            (
                "fatal: restart",
                WriteOutcome::Fatal("trap".into()),
                "0-10 A",
                Counted::Fatal,
                Next::Restart("trap".into()),
                0,
            ),
        ];
        for (name, answer, fates, counted, next, warnings) in rows {
            let plan = plan(answer, 10);
            assert_eq!(
                (
                    short(&plan).as_str(),
                    plan.counted,
                    plan.next,
                    plan.warnings.len()
                ),
                (fates, counted, next, warnings),
                "{name}"
            );
        }
    }

    #[test]
    fn every_record_has_exactly_one_fate_whatever_the_ranges() {
        // Ranges from a small deterministic generator: any mix of starts,
        // ends, overlaps and results covers the batch once, in order.
        let mut seed = 0x2545_f491_u64;
        let mut next = |bound: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % u64::from(bound)) as u32
        };
        for _ in 0..2_000 {
            let len = next(40);
            let mut results = RecordResults::new();
            for _ in 0..next(6) {
                let start = next(45);
                let end = start + next(12);
                results = match next(4) {
                    0 => results.retryable(start..end, "r"),
                    1 => results.rejected(start..end, "x"),
                    2 => results.dropped(start..end, next(15), "p"),
                    _ => results.indeterminate(start..end, "i"),
                };
            }
            let plan = plan(WriteOutcome::Records(results), len);
            let mut covered = 0;
            for (range, fate) in &plan.fates {
                assert_eq!(range.start, covered, "{plan:?}");
                assert!(range.end > range.start, "{plan:?}");
                if let Fate::Dropped { dropped, .. } = fate {
                    assert!(*dropped <= range.end - range.start);
                }
                covered = range.end;
            }
            assert_eq!(covered, len, "{plan:?}");
            let again = plan
                .fates
                .iter()
                .any(|(_, fate)| matches!(fate, Fate::Again { .. }));
            assert_eq!(again, plan.next != Next::Settled, "{plan:?}");
        }
    }
}
