//! One batch's way through the sink: its outcome, retries of what is
//! transient, restarts of a broken sink, and dead letters for what cannot
//! be delivered.

use super::{SinkWorker, guarded};
use crate::batch::Batch;
use crate::pipeline::counters::SinkCounters;
use crate::sink::{Health, WriteOutcome};

impl SinkWorker {
    /// Delivers one batch: retries `retryable` and the tail of `partial` with
    /// back-off, restarts the sink on `fatal`, dead-letters when the limits run
    /// out or on `rejected`. `false` when a shutdown's deadline left a
    /// `buffered` batch undelivered: it stays in the disk buffer.
    pub(super) fn deliver(&mut self, batch: Batch, buffered: bool) -> bool {
        self.deliver_batch(batch, buffered, Vec::new())
    }

    /// [`Self::deliver`]; `parts`, when not empty, are the batches `batch`
    /// was merged from: an answer other than `accepted` then settles what it
    /// can and hands the rest to [`Self::deliver_parts_of`] instead of
    /// retrying the merged batch.
    pub(super) fn deliver_batch(
        &mut self,
        mut batch: Batch,
        buffered: bool,
        parts: Vec<Batch>,
    ) -> bool {
        let merged = !parts.is_empty();
        let batches = parts.len().max(1) as u64;
        let shared = self.shared.clone();
        let counters = &shared.counters;
        let mut retries = 0u32;
        let mut restarts = 0u32;
        let mut sent_before = false;
        let mut last_failure = String::new();
        loop {
            if self.shared.abandoned() {
                if buffered {
                    return false;
                }
                self.dead_letter(
                    &batch,
                    "the pipeline shut down before this batch was delivered (its shutdown deadline passed)",
                );
                return true;
            }
            if !self.running {
                if restarts >= self.policy.max_restarts {
                    self.dead_letter(
                        &batch,
                        &format!(
                            "the sink failed again after {} restarts: {last_failure}",
                            self.policy.max_restarts
                        ),
                    );
                    return true;
                }
                restarts += 1;
                if !self.restart() {
                    last_failure = "the sink could not be restarted".into();
                    self.pause(self.policy.backoff(restarts));
                    continue;
                }
            }
            let outcome =
                guarded("write", || self.sink.write(&batch)).unwrap_or_else(WriteOutcome::Fatal);
            // A retry is a batch (or its tail) actually sent again; a
            // deferred batch was not sent.
            if !matches!(outcome, WriteOutcome::Deferred { .. })
                && std::mem::replace(&mut sent_before, true)
            {
                SinkCounters::add(&counters.retries, 1);
            }
            self.note_outcome(&outcome, batch.len());
            match outcome {
                WriteOutcome::Accepted => {
                    self.batch_done(&batch, batches);
                    return true;
                }
                WriteOutcome::Deferred { wait, reason } => {
                    SinkCounters::add(&counters.deferred, 1);
                    self.last_deferral = wait;
                    if let Some(why) = self.give_up(0) {
                        self.dead_letter(&batch, &format!("{why}: {reason}"));
                        return true;
                    }
                    self.set_health(Health::Unhealthy(reason));
                    self.pause(self.wait_within_window(wait));
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                }
                WriteOutcome::Partial { accepted, reason } if accepted < batch.len() => {
                    SinkCounters::add(&counters.partial, 1);
                    self.accepted(&batch.take(accepted));
                    batch = batch.skip(accepted);
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if !self.back_off(&mut retries, &batch, &reason) {
                        return true;
                    }
                }
                WriteOutcome::Partial { accepted, .. } => {
                    if accepted > batch.len() {
                        tracing::warn!(
                            sink = %self.shared.name,
                            "contract violation: `partial` accepted {accepted} of {} records; treated as accepted",
                            batch.len()
                        );
                    }
                    self.batch_done(&batch, batches);
                    return true;
                }
                WriteOutcome::Retryable(reason) => {
                    SinkCounters::add(&counters.retryable, 1);
                    if merged {
                        self.set_health(Health::Degraded(format!("retrying: {reason}")));
                        self.pause(self.wait_within_window(self.policy.backoff(1)));
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if !self.back_off(&mut retries, &batch, &reason) {
                        return true;
                    }
                }
                WriteOutcome::Rejected(reason) => {
                    SinkCounters::add(&counters.rejected, 1);
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                    self.dead_letter(&batch, &format!("rejected: {reason}"));
                    return true;
                }
                WriteOutcome::Refused {
                    handled,
                    refused,
                    retry_reason,
                } => {
                    let handled = handled.min(batch.len());
                    self.settle_refused(&batch.take(handled), refused);
                    if handled == batch.len() {
                        SinkCounters::add(&counters.batches, batches);
                        return true;
                    }
                    SinkCounters::add(&counters.partial, 1);
                    batch = batch.skip(handled);
                    if merged {
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if !self.back_off(&mut retries, &batch, &retry_reason) {
                        return true;
                    }
                }
                WriteOutcome::Fatal(reason) => {
                    SinkCounters::add(&counters.fatal, 1);
                    tracing::warn!(sink = %self.shared.name, "fatal: {reason}");
                    self.running = false;
                    let rolled_back = self.roll_back(&reason);
                    if merged {
                        // To the previous module, if rolled back.
                        return self.deliver_parts_of(&batch, parts);
                    }
                    if rolled_back {
                        // Redeliver to the previous module: what the new
                        // one accepted is already counted and skipped.
                        sent_before = false;
                        continue;
                    }
                    last_failure = reason;
                }
            }
        }
    }

    /// `batch` (made of `batches` of the pipeline's) was delivered.
    pub(super) fn batch_done(&self, batch: &Batch, batches: u64) {
        self.accepted(batch);
        SinkCounters::add(&self.shared.counters.batches, batches);
        let mut health = self.shared.health.lock().unwrap();
        if *health != Health::Healthy {
            *health = Health::Healthy;
        }
    }

    /// Spends one retry and sleeps the back-off; dead-letters and returns
    /// `false` once the retry limit or the retry window is spent.
    pub(super) fn back_off(&mut self, retries: &mut u32, batch: &Batch, reason: &str) -> bool {
        *retries += 1;
        if let Some(why) = self.give_up(*retries) {
            self.dead_letter(batch, &format!("{why}: {reason}"));
            return false;
        }
        self.set_health(Health::Degraded(format!("retrying: {reason}")));
        self.pause(self.wait_within_window(self.policy.backoff(*retries)));
        true
    }

    /// Dead-letters each refused range of `handled` (the records a
    /// `refused` answer dealt with) and counts the rest as delivered.
    /// Ranges out of order, overlapping or past the end are a contract
    /// violation: what they cover beyond the valid part counts as delivered,
    /// with a warning.
    pub(super) fn settle_refused(
        &mut self,
        handled: &Batch,
        refused: Vec<(std::ops::Range<u32>, String)>,
    ) {
        let mut next = 0u32;
        for (range, reason) in refused {
            let start = range.start.max(next);
            let end = range.end.min(handled.len());
            if start >= end {
                tracing::warn!(
                    sink = %self.shared.name,
                    "contract violation: `refused` listed records {range:?} out of order or past the {} handled; ignored",
                    handled.len()
                );
                continue;
            }
            self.accepted(&handled.skip(next).take(start - next));
            SinkCounters::add(&self.shared.counters.rejected, 1);
            let records = handled.skip(start).take(end - start);
            self.dead_letter(&records, &format!("refused: {reason}"));
            next = end;
        }
        self.accepted(&handled.skip(next));
    }

    pub(super) fn accepted(&self, batch: &Batch) {
        let counters = &self.shared.counters;
        SinkCounters::add(&counters.records, u64::from(batch.len()));
        SinkCounters::add(&counters.bytes, batch.bytes().len() as u64);
    }

    pub(super) fn dead_letter(&mut self, batch: &Batch, reason: &str) {
        match self.dead_letters.write(batch, reason) {
            Ok(written) => {
                let counters = &self.shared.counters;
                SinkCounters::add(&counters.dead_lettered_dropped, written.dropped);
                if written.stored {
                    SinkCounters::add(&counters.dead_lettered, u64::from(batch.len()));
                    tracing::warn!(
                        sink = %self.shared.name,
                        path = %self.dead_letters.path().display(),
                        "dead-lettered {} records: {reason}",
                        batch.len()
                    );
                } else {
                    SinkCounters::add(&counters.lost, u64::from(batch.len()));
                    tracing::error!(
                        sink = %self.shared.name,
                        "dropped {} undeliverable records: the batch alone is larger than dead_letter_max_bytes ({reason})",
                        batch.len()
                    );
                }
                if written.dropped > 0 && written.stored {
                    tracing::warn!(
                        sink = %self.shared.name,
                        "the dead-letter store reached dead_letter_max_bytes; deleted its oldest file ({} records)",
                        written.dropped
                    );
                }
            }
            Err(err) => {
                SinkCounters::add(&self.shared.counters.lost, u64::from(batch.len()));
                tracing::error!(
                    sink = %self.shared.name,
                    path = %self.dead_letters.path().display(),
                    "lost {} records: they could not be delivered ({reason}) nor written to the dead-letter file: {err}",
                    batch.len()
                )
            }
        }
    }
}
