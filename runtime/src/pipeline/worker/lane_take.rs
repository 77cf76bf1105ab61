//! What a lane takes of each dispatched batch: the records its `when`
//! keeps, numbered for it; and, once, a warning when the condition reads a
//! field its records never have.

use std::sync::atomic::Ordering;

use super::WorkerShared;
use crate::batch::Batch;
use crate::pipeline::counters::SinkCounters;
use crate::routing::{RoutedBatch, Selection};

/// What a lane takes of a dispatched batch under its `when`, numbered for
/// it from `next_sequence` (every batch when `renumber_all`: a disk buffer
/// numbers everything it keeps, so numbers carry across restarts);
/// `None` if its condition keeps nothing.
pub(crate) fn take_for_lane(
    shared: &WorkerShared,
    next_sequence: &std::sync::atomic::AtomicU64,
    routed: &RoutedBatch,
    renumber_all: bool,
) -> Option<Batch> {
    let counters = &shared.counters;
    let (batch, skipped) = match routed.for_lane(&shared.name) {
        Selection::Unfiltered(batch) if !renumber_all => {
            next_sequence.fetch_max(
                batch.first_sequence() + u64::from(batch.len()),
                Ordering::AcqRel,
            );
            SinkCounters::add(&counters.matched, u64::from(batch.len()));
            return Some(batch);
        }
        Selection::Unfiltered(batch) => (batch, 0),
        Selection::Nothing { skipped } => {
            SinkCounters::add(&counters.skipped, u64::from(skipped));
            warn_if_condition_fields_never_appear(shared, routed);
            // Nothing for this sink to settle: its hold lets go now.
            if let Some(ack) = routed.batch().ack() {
                ack.release(crate::acknowledgement::AckReport::default());
            }
            return None;
        }
        Selection::Kept { batch, skipped } => (batch, skipped),
    };
    SinkCounters::add(&counters.skipped, u64::from(skipped));
    SinkCounters::add(&counters.matched, u64::from(batch.len()));
    let first = next_sequence.fetch_add(u64::from(batch.len()), Ordering::AcqRel);
    Some(batch.renumbered(first))
}

/// Records a lane's `when` must have skipped, with none kept, before the
/// lane checks once whether the fields it reads appear at all.
const NEVER_MATCHED_CHECK_AFTER: u64 = 1_000;

/// A lane whose `when` has kept nothing of its first
/// [`NEVER_MATCHED_CHECK_AFTER`] records looks, once, at the batch that
/// crossed the mark: a field the condition reads that none of its records
/// has is most likely misspelt (`levle`), and a warning says so.
fn warn_if_condition_fields_never_appear(shared: &WorkerShared, routed: &RoutedBatch) {
    let counters = &shared.counters;
    if counters.matched.load(Ordering::Relaxed) > 0
        || counters.skipped.load(Ordering::Relaxed) < NEVER_MATCHED_CHECK_AFTER
        || shared.when_checked.swap(true, Ordering::AcqRel)
    {
        return;
    }
    let Some(when) = routed.condition_of(&shared.name) else {
        return;
    };
    let names = when.field_names();
    let mut seen = vec![false; names.len()];
    for record in routed.batch().records() {
        for (seen, present) in seen.iter_mut().zip(when.fields_present(record)) {
            *seen |= present;
        }
    }
    let missing: Vec<String> = names
        .iter()
        .zip(&seen)
        .filter(|(_, seen)| !**seen)
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    if !missing.is_empty() {
        tracing::warn!(
            sink = %shared.name,
            "its `when` ({}) has kept none of the {} records so far, and none of the last {} has the field(s) {}: check the spelling (`sinkbox route --input SAMPLE` checks a sample)",
            when.text(),
            counters.skipped.load(Ordering::Relaxed),
            routed.batch().len(),
            missing.join(", ")
        );
    }
}
