//! One batch's way through the sink: each answer planned
//! ([`super::outcome_plan`]) and carried out: counters, dead letters,
//! retries of what is transient (only the records the answer left, each
//! run of them alone and in order), restarts of a broken sink.

use std::collections::VecDeque;
use std::time::Duration;

use super::outcome_plan::{Counted, Fate, Next, Plan, plan};
use super::{SinkWorker, guarded};
use crate::batch::Batch;
use crate::pipeline::counters::SinkCounters;
use crate::sink::{Health, WriteOutcome};

impl SinkWorker {
    /// Delivers one batch: retries what is transient with back-off,
    /// restarts the sink when it breaks, dead-letters what is refused or
    /// outlives the retry limits. `false` when a shutdown's deadline left a
    /// `buffered` batch undelivered: it stays in the disk buffer.
    pub(super) fn deliver(&mut self, batch: Batch, buffered: bool) -> bool {
        self.deliver_pieces(VecDeque::from([batch]), buffered)
    }

    /// Delivers `pending`, consecutive runs of one batch's records in
    /// order, as [`Self::deliver`] does a whole batch; counts the batch
    /// once all are settled.
    pub(super) fn deliver_pieces(&mut self, mut pending: VecDeque<Batch>, buffered: bool) -> bool {
        let mut retries = 0u32;
        let mut restarts = 0u32;
        let mut sent_before = false;
        let mut last_failure = String::new();
        let mut delivered_any = false;
        while let Some(piece) = pending.pop_front() {
            pending.push_front(piece);
            if self.shared.abandoned() {
                if buffered {
                    return false;
                }
                self.dead_letter_all(
                    pending,
                    "the pipeline shut down before this batch was delivered (its shutdown deadline passed)",
                );
                return true;
            }
            if !self.running {
                if restarts >= self.policy.max_restarts {
                    let why = format!(
                        "the sink failed again after {} restarts: {last_failure}",
                        self.policy.max_restarts
                    );
                    self.dead_letter_all(pending, &why);
                    return true;
                }
                restarts += 1;
                if !self.restart() {
                    last_failure = "the sink could not be restarted".into();
                    self.pause(self.policy.backoff(restarts));
                    continue;
                }
            }
            let piece = pending.pop_front().expect("pushed back above");
            let answer = self.plan_write(&piece, &mut sent_before);
            delivered_any |= answer.delivers_any();
            for again in self.settle(&piece, &answer).into_iter().rev() {
                pending.push_front(again);
            }
            match answer.next {
                Next::Settled => {}
                Next::Retry { reason, after } => {
                    if let Some(why) = self.back_off(&mut retries, after, &reason) {
                        self.dead_letter_all(pending, &format!("{why}: {reason}"));
                        return true;
                    }
                }
                Next::Wait(wait, reason) => {
                    if let Some(why) = self.give_up(0) {
                        self.dead_letter_all(pending, &format!("{why}: {reason}"));
                        return true;
                    }
                    self.set_health(Health::Unhealthy(reason));
                    self.pause(self.wait_within_window(wait));
                }
                Next::Restart(reason) => {
                    if self.broke(&reason) {
                        // Redeliver to the previous module: what the new
                        // one settled is already counted and skipped.
                        sent_before = false;
                        continue;
                    }
                    last_failure = reason;
                }
            }
        }
        // A batch every record of which was dead-lettered is not counted
        // as delivered.
        if delivered_any {
            self.batch_settled(1);
        }
        true
    }

    /// One call of a merged batch (made of `batches` of the pipeline's):
    /// the runs of records it did not settle (none when it settled all),
    /// which go back as the batches they belong to. A transient failure
    /// waits its first back-off (or the deferral) here, once.
    pub(super) fn deliver_once_merged(&mut self, batch: &Batch, batches: u64) -> Vec<Batch> {
        let answer = self.plan_write(batch, &mut false);
        if let [(_, Fate::DeadLetter(_))] = answer.fates.as_slice() {
            // Refused whole: which of the merged batches is poisoned is
            // unknown, so each goes back alone and only the one refused
            // again is dead-lettered.
            SinkCounters::add(&self.shared.counters.rejected, 1);
            return vec![batch.clone()];
        }
        let again = self.settle(batch, &answer);
        match answer.next {
            Next::Settled => {
                if answer.delivers_any() {
                    self.batch_settled(batches);
                }
                return Vec::new();
            }
            // A `retryable` waits its first back-off; what a partial
            // answer left goes back at once.
            Next::Retry { reason, after } if answer.counted == Counted::Retryable => {
                self.set_health(Health::Degraded(format!("retrying: {reason}")));
                let wait = self.policy.backoff(1).max(after.unwrap_or_default());
                self.pause(self.wait_within_window(wait));
            }
            Next::Retry { .. } => {}
            Next::Wait(wait, reason) => {
                if let Some(why) = self.give_up(0) {
                    self.dead_letter_all(again.into(), &format!("{why}: {reason}"));
                    return Vec::new();
                }
                self.set_health(Health::Unhealthy(reason));
                self.pause(self.wait_within_window(wait));
            }
            // To the previous module, if rolled back.
            Next::Restart(reason) => {
                self.broke(&reason);
            }
        }
        again
    }

    /// Hands `batch` to the sink (a panic is a fatal answer) and plans
    /// its answer; keeps the outage clock and counts a send after the
    /// first as a retry (a deferral sent nothing).
    fn plan_write(&mut self, batch: &Batch, sent_before: &mut bool) -> Plan {
        let outcome =
            guarded("write", || self.sink.write(batch)).unwrap_or_else(WriteOutcome::Fatal);
        if !matches!(outcome, WriteOutcome::Deferred { .. }) && std::mem::replace(sent_before, true)
        {
            SinkCounters::add(&self.shared.counters.retries, 1);
        }
        if let WriteOutcome::Deferred { wait, .. } = &outcome {
            self.last_deferral = *wait;
        }
        let answer = plan(outcome, batch.len());
        self.note_outcome(&answer);
        answer
    }

    /// Carries out what `answer` settles of `batch`: the failure counter,
    /// warnings, each range delivered, dropped or dead-lettered. Returns
    /// the runs of records to send again, in order.
    fn settle(&mut self, batch: &Batch, answer: &Plan) -> Vec<Batch> {
        let counters = &self.shared.counters;
        match answer.counted {
            Counted::Nothing => {}
            Counted::Retryable => SinkCounters::add(&counters.retryable, 1),
            Counted::Deferred => SinkCounters::add(&counters.deferred, 1),
            Counted::Partial => SinkCounters::add(&counters.partial, 1),
            Counted::Fatal => SinkCounters::add(&counters.fatal, 1),
        }
        for warning in &answer.warnings {
            tracing::warn!(sink = %self.shared.name, "{warning}");
        }
        if let Some(notice) = &answer.notice {
            tracing::warn!(sink = %self.shared.name, "the destination took the batch and said: {notice}");
        }
        let mut again = Vec::new();
        for (range, fate) in &answer.fates {
            let part = batch.skip(range.start).take(range.end - range.start);
            match fate {
                Fate::Delivered => self.accepted(&part),
                Fate::Dropped { dropped, reason } => {
                    let counters = &self.shared.counters;
                    SinkCounters::add(&counters.records, u64::from(part.len() - dropped));
                    SinkCounters::add(&counters.bytes, part.bytes().len() as u64);
                    SinkCounters::add(&counters.dropped_by_destination, u64::from(*dropped));
                    tracing::warn!(
                        sink = %self.shared.name,
                        "the destination took {} records and dropped {dropped} of them, without saying which (not sent again): {reason}",
                        part.len()
                    );
                }
                Fate::DeadLetter(reason) => {
                    SinkCounters::add(&self.shared.counters.rejected, 1);
                    self.dead_letter(&part, reason);
                }
                Fate::Again { indeterminate } => {
                    if *indeterminate {
                        SinkCounters::add(
                            &self.shared.counters.indeterminate,
                            u64::from(part.len()),
                        );
                    }
                    again.push(part);
                }
            }
        }
        again
    }

    /// `batches` of the pipeline's are settled: counted, and the sink is
    /// healthy again if it was not.
    fn batch_settled(&self, batches: u64) {
        SinkCounters::add(&self.shared.counters.batches, batches);
        let mut health = self.shared.health.lock().unwrap();
        if *health != Health::Healthy {
            *health = Health::Healthy;
        }
    }

    /// Dead-letters every run of records in `pending`.
    fn dead_letter_all(&mut self, pending: VecDeque<Batch>, reason: &str) {
        for piece in pending {
            self.dead_letter(&piece, reason);
        }
    }

    /// The sink broke (`reason`): it is restarted before its next call,
    /// or the previous module is swapped back if a reload is on probation.
    /// Whether it was rolled back.
    fn broke(&mut self, reason: &str) -> bool {
        tracing::warn!(sink = %self.shared.name, "fatal: {reason}");
        self.running = false;
        self.roll_back(reason)
    }

    /// Spends one retry and sleeps its back-off (no less than `after`, a
    /// server's wait); why to give up instead once the retry limit or the
    /// retry window is spent.
    pub(super) fn back_off(
        &mut self,
        retries: &mut u32,
        after: Option<Duration>,
        reason: &str,
    ) -> Option<String> {
        *retries += 1;
        if let Some(why) = self.give_up(*retries) {
            return Some(why);
        }
        self.set_health(Health::Degraded(format!("retrying: {reason}")));
        let wait = self.policy.backoff(*retries).max(after.unwrap_or_default());
        self.pause(self.wait_within_window(wait));
        None
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
