//! Batches queued back to back, merged into one call for a sink that asks
//! (wasm sinks: each call crosses into the guest), and split back into
//! the batches they were when the call is not accepted whole.

use std::collections::VecDeque;

use super::{SinkWorker, take_for_lane};
use crate::batch::Batch;
use crate::pipeline::counters::SinkCounters;
use crate::pipeline::queue::SinkQueue;

impl SinkWorker {
    /// For a sink that takes merged batches: `batch` followed by the batches
    /// queued right behind it, as one batch within the sink's limit, and the
    /// batch taken that did not fit (to deliver next). A control item, a
    /// gap in the numbers or the limit ends the merge.
    pub(super) fn merge_queued(
        &self,
        queue: &SinkQueue,
        batch: Batch,
    ) -> (Vec<Batch>, Option<Batch>) {
        let Some(limit) = self.sink.merge_limit() else {
            return (vec![batch], None);
        };
        let mut size = batch.bytes().len();
        let mut parts = vec![batch];
        let mut left_over = None;
        while size < limit {
            let Some(routed) = queue.pop_front_batch() else {
                break;
            };
            let Some(next) = take_for_lane(&self.shared, &self.next_sequence, &routed, false)
            else {
                continue;
            };
            let last = parts.last().expect("parts start with one batch");
            let follows = last.first_sequence() + u64::from(last.len()) == next.first_sequence();
            if !follows || size + next.bytes().len() > limit {
                left_over = Some(next);
                break;
            }
            size += next.bytes().len();
            parts.push(next);
        }
        (parts, left_over)
    }

    /// Delivers `parts` (consecutive batches) in one call when there are
    /// several and the sink runs. Whatever that call does not accept goes
    /// back as the batches it was made of, each delivered alone with its own
    /// retries and restarts: merging saves calls, never widens what one
    /// poisoned batch takes down with it.
    pub(super) fn deliver_merged(&mut self, parts: Vec<Batch>) {
        if parts.len() == 1 || !self.running || self.shared.abandoned() {
            for part in parts {
                self.deliver(part, false);
            }
            return;
        }
        let merged = Batch::concat(&parts);
        let again = self.deliver_once_merged(&merged, parts.len() as u64);
        if !again.is_empty() {
            self.deliver_parts_of(&again, parts);
        }
    }

    /// After a merged call: the runs it did not settle (`again`) go back
    /// as the parts they belong to, each part's runs delivered on their
    /// own; parts the call settled whole count as delivered batches.
    pub(super) fn deliver_parts_of(&mut self, again: &[Batch], parts: Vec<Batch>) {
        tracing::debug!(
            sink = %self.shared.name,
            "a merged batch was not taken whole; delivering {} of its records again as the batches they came in",
            again.iter().map(Batch::len).sum::<u32>()
        );
        for part in parts {
            let start = part.first_sequence();
            let end = start + u64::from(part.len());
            let runs: VecDeque<Batch> = again
                .iter()
                .filter_map(|run| {
                    let from = run.first_sequence().max(start);
                    let to = (run.first_sequence() + u64::from(run.len())).min(end);
                    (from < to).then(|| part.skip((from - start) as u32).take((to - from) as u32))
                })
                .collect();
            if runs.is_empty() {
                SinkCounters::add(&self.shared.counters.batches, 1);
                continue;
            }
            // The merged call was an extra one: each batch's own retries
            // start from here.
            self.deliver_pieces(runs, false);
        }
    }
}
