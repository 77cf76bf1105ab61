//! One batch's way through the sink: its answer planned
//! ([`super::outcome_plan`]) and carried out: counters, dead letters,
//! retries of what is transient, restarts of a broken sink.

use super::outcome_plan::{Counted, Next, Plan, plan};
use super::{SinkWorker, guarded};
use crate::batch::Batch;
use crate::pipeline::counters::SinkCounters;
use crate::sink::{Health, WriteOutcome};

impl SinkWorker {
    /// Delivers one batch: retries what is transient with back-off,
    /// restarts the sink when it breaks, dead-letters what is refused or
    /// outlives the retry limits. `false` when a shutdown's deadline left a
    /// `buffered` batch undelivered: it stays in the disk buffer.
    pub(super) fn deliver(&mut self, mut batch: Batch, buffered: bool) -> bool {
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
            let answer = self.plan_write(&batch, &mut sent_before);
            let rest = self.settle(&batch, &answer, 1);
            match answer.next {
                Next::Settled => return true,
                Next::Retry(reason) => {
                    batch = rest;
                    if !self.back_off(&mut retries, &batch, &reason) {
                        return true;
                    }
                }
                Next::Wait(wait, reason) => {
                    batch = rest;
                    if let Some(why) = self.give_up(0) {
                        self.dead_letter(&batch, &format!("{why}: {reason}"));
                        return true;
                    }
                    self.set_health(Health::Unhealthy(reason));
                    self.pause(self.wait_within_window(wait));
                }
                Next::DeadLetter(reason) => {
                    self.dead_letter(&rest, &reason);
                    return true;
                }
                Next::Restart(reason) => {
                    batch = rest;
                    if self.broke(&reason) {
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

    /// One call of a merged batch (made of `batches` of the pipeline's):
    /// `None` when it settled everything; else what it did not settle,
    /// which goes back as the batches it was made of. A transient failure
    /// waits its first back-off (or the deferral) here, once.
    pub(super) fn deliver_once_merged(&mut self, batch: &Batch, batches: u64) -> Option<Batch> {
        let answer = self.plan_write(batch, &mut false);
        let rest = self.settle(batch, &answer, batches);
        match answer.next {
            Next::Settled => return None,
            // A `retryable` waits its first back-off; a `partial` or
            // `refused` tail goes back at once.
            Next::Retry(reason) if answer.counted == Counted::Retryable => {
                self.set_health(Health::Degraded(format!("retrying: {reason}")));
                self.pause(self.wait_within_window(self.policy.backoff(1)));
            }
            Next::Retry(_) => {}
            Next::Wait(wait, reason) => {
                if let Some(why) = self.give_up(0) {
                    self.dead_letter(&rest, &format!("{why}: {reason}"));
                    return None;
                }
                self.set_health(Health::Unhealthy(reason));
                self.pause(self.wait_within_window(wait));
            }
            // Each batch alone: only the one refused again is
            // dead-lettered.
            Next::DeadLetter(_) => {}
            // To the previous module, if rolled back.
            Next::Restart(reason) => {
                self.broke(&reason);
            }
        }
        Some(rest)
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
        self.note_outcome(&outcome, batch.len());
        if let WriteOutcome::Deferred { wait, .. } = &outcome {
            self.last_deferral = *wait;
        }
        plan(outcome, batch.len())
    }

    /// Carries out what `answer` settles of `batch` (made of `batches` of
    /// the pipeline's): the failure counter, warnings, the handled front
    /// delivered or dead-lettered, the batch counted when it is settled.
    /// Returns the records after the handled front.
    fn settle(&mut self, batch: &Batch, answer: &Plan, batches: u64) -> Batch {
        let counters = &self.shared.counters;
        match answer.counted {
            Counted::Nothing => {}
            Counted::Retryable => SinkCounters::add(&counters.retryable, 1),
            Counted::Deferred => SinkCounters::add(&counters.deferred, 1),
            Counted::Partial => SinkCounters::add(&counters.partial, 1),
            Counted::Rejected => SinkCounters::add(&counters.rejected, 1),
            Counted::Fatal => SinkCounters::add(&counters.fatal, 1),
        }
        for warning in &answer.warnings {
            tracing::warn!(sink = %self.shared.name, "{warning}");
        }
        let front = batch.take(answer.handled);
        let mut next = 0u32;
        for (range, reason) in &answer.refused {
            self.accepted(&front.skip(next).take(range.start - next));
            SinkCounters::add(&self.shared.counters.rejected, 1);
            self.dead_letter(&front.skip(range.start).take(range.len() as u32), reason);
            next = range.end;
        }
        self.accepted(&front.skip(next));
        if answer.next == Next::Settled {
            SinkCounters::add(&self.shared.counters.batches, batches);
            let mut health = self.shared.health.lock().unwrap();
            if *health != Health::Healthy {
                *health = Health::Healthy;
            }
        }
        batch.skip(answer.handled)
    }

    /// The sink broke (`reason`): it is restarted before its next call,
    /// or the previous module is swapped back if a reload is on probation.
    /// Whether it was rolled back.
    fn broke(&mut self, reason: &str) -> bool {
        tracing::warn!(sink = %self.shared.name, "fatal: {reason}");
        self.running = false;
        self.roll_back(reason)
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
