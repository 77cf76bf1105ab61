//! The worker's loop: what arrives in its queue, the health it asks for
//! between calls, flushes, and restarts of a broken sink.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{SinkWorker, guarded, take_for_lane};
use crate::pipeline::counters::SinkCounters;
use crate::pipeline::queue::QueueItem;
use crate::sink::{FlushOutcome, Health};

/// Retries of a `flush` answered `retryable` when `max_retries` is unset.
const FLUSH_RETRIES: u32 = 5;

/// How often a worker asks its sink for its health (between calls).
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

impl SinkWorker {
    pub(super) fn run(&mut self) {
        let shared = self.shared.clone();
        let queue = match &shared.buffer {
            Some(lane) => &lane.queue,
            None => &shared.queue,
        };
        let mut last_health = Instant::now();
        loop {
            // Health is asked every interval between calls, whatever arrives
            // (periodic flushes must not keep an idle sink from being asked).
            if last_health.elapsed() >= HEALTH_INTERVAL {
                self.refresh_health();
                last_health = Instant::now();
            }
            let health_due = HEALTH_INTERVAL.saturating_sub(last_health.elapsed());
            let wait = match self.start_retry {
                Some((at, _)) => at.saturating_duration_since(Instant::now()).min(health_due),
                None => health_due,
            };
            let Some(item) = queue.pop(wait) else {
                self.retry_start();
                continue;
            };
            match item {
                QueueItem::Batch(routed) => {
                    let mut next = take_for_lane(&shared, &self.next_sequence, &routed, false);
                    while let Some(batch) = next.take() {
                        let (parts, left_over) = self.merge_queued(queue, batch);
                        // Probation counts batches, merged or not.
                        let batches = parts.len() as u32;
                        let acks = SettleMarks::of(&parts, &shared.counters);
                        self.deliver_merged(parts);
                        acks.release(&shared.counters);
                        self.probation_tick(batches);
                        next = left_over;
                    }
                }
                QueueItem::Buffered(item) => {
                    let crate::pipeline::queue::BufferedBatch {
                        batch,
                        through,
                        on_disk,
                        written,
                    } = *item;
                    self.expires = self.expiry_of(written);
                    // On disk, acknowledged records were settled when the
                    // spooler wrote them; one the buffer could not take is
                    // settled by its delivery.
                    let acks = match (&batch, on_disk) {
                        (Some(batch), false) => {
                            SettleMarks::of(std::slice::from_ref(batch), &shared.counters)
                        }
                        _ => SettleMarks::default(),
                    };
                    let done = match batch {
                        Some(batch) => self.deliver(batch, on_disk),
                        None => true,
                    };
                    acks.release(&shared.counters);
                    self.expires = None;
                    if let (true, Some(lane)) = (done, &shared.buffer) {
                        lane.buffer.ack_through(through);
                    }
                    self.probation_tick(1);
                }
                QueueItem::Flush(ticket) => ticket.complete(self.flush(Some(ticket.deadline))),
                QueueItem::Swap(request) => self.swap(*request),
                QueueItem::Stop => {
                    if self.running {
                        if self.shared.abandoned() {
                            let _ = guarded("abandon", || self.sink.abandon());
                        } else {
                            let _ = self.flush(None);
                        }
                        let _ = guarded("stop", || self.sink.stop());
                    }
                    return;
                }
            }
        }
    }

    /// An optional sink that could not start: tries `start` again once its
    /// back-off has passed.
    pub(super) fn retry_start(&mut self) {
        let Some((at, attempts)) = self.start_retry else {
            return;
        };
        if self.running {
            self.start_retry = None;
            return;
        }
        if Instant::now() < at {
            return;
        }
        if self.restart() {
            tracing::info!(sink = %self.shared.name, "the optional sink started after {attempts} failed attempt(s)");
            self.set_health(Health::Healthy);
            self.start_retry = None;
        } else {
            let attempts = attempts + 1;
            self.start_retry = Some((Instant::now() + self.policy.backoff(attempts), attempts));
        }
    }

    /// Asks a running sink for its health. A stopped sink keeps the health
    /// recorded when it broke, which says why.
    pub(super) fn refresh_health(&mut self) {
        if !self.running {
            return;
        }
        let health = guarded("health", || self.sink.health()).unwrap_or_else(Health::Unhealthy);
        // A crash inside `health` leaves nothing to stop: restart on the next batch.
        if self.sink.needs_restart() {
            self.running = false;
            if let Health::Unhealthy(why) = &health
                && self.roll_back(why)
            {
                return;
            }
        }
        self.set_health(health);
    }

    /// Flushes the sink, retrying `retryable` answers with back-off up to the
    /// retry limit, and never past `deadline` (the caller's flush deadline).
    pub(super) fn flush(&mut self, deadline: Option<Instant>) -> Result<(), String> {
        if !self.running && !self.restart() {
            return Err("the sink is not running and could not be restarted".into());
        }
        let mut attempt = 0;
        // By count, not by the retry window: a swap and a stop wait on
        // this flush, and a reload may be what fixes the sink.
        let max_attempts = self.policy.max_retries.unwrap_or(FLUSH_RETRIES);
        loop {
            match guarded("flush", || self.sink.flush()).unwrap_or_else(FlushOutcome::Fatal) {
                FlushOutcome::Done => return Ok(()),
                FlushOutcome::Retryable(reason) => {
                    attempt += 1;
                    let pause = self.policy.backoff(attempt);
                    let past_deadline = deadline.is_some_and(|d| Instant::now() + pause >= d);
                    if attempt > max_attempts || past_deadline || self.shared.abandoned() {
                        return Err(format!(
                            "flush still failing after {attempt} attempts: {reason}"
                        ));
                    }
                    self.pause(pause);
                }
                FlushOutcome::Fatal(reason) => {
                    SinkCounters::add(&self.shared.counters.fatal, 1);
                    self.running = false;
                    if self.roll_back(&reason) {
                        return Err(format!("flush failed, module rolled back: {reason}"));
                    }
                    self.restart();
                    return Err(format!("flush failed: {reason}"));
                }
            }
        }
    }

    /// Drops the broken sink state and starts it again. Returns whether the
    /// sink runs afterwards; only a successful restart is counted.
    pub(super) fn restart(&mut self) -> bool {
        match guarded("restart", || self.sink.restart()).and_then(|r| r.map_err(|e| e.to_string()))
        {
            Ok(()) => {
                SinkCounters::add(&self.shared.counters.restarts, 1);
                self.running = true;
                true
            }
            Err(err) => {
                tracing::warn!(sink = %self.shared.name, "restart failed: {err}");
                self.set_health(Health::Unhealthy(format!("restart failed: {err}")));
                self.running = false;
                false
            }
        }
    }
}

/// The acknowledgements of batches about to be delivered, with the
/// worker's dead-letter and loss counters before: what the delivery added
/// to them is what each acknowledgement is told.
#[derive(Default)]
struct SettleMarks {
    acks: Vec<(std::sync::Arc<crate::acknowledgement::AckState>, u32)>,
    dead_lettered: u64,
    lost: u64,
}

impl SettleMarks {
    fn of(parts: &[crate::batch::Batch], counters: &SinkCounters) -> Self {
        let acks: Vec<_> = parts
            .iter()
            .filter_map(|part| part.ack().map(|ack| (ack.clone(), part.len())))
            .collect();
        if acks.is_empty() {
            return Self::default();
        }
        Self {
            acks,
            dead_lettered: counters.dead_lettered.load(Ordering::Acquire),
            lost: counters.lost.load(Ordering::Acquire),
        }
    }

    /// Lets every acknowledgement go, sharing out in batch order what the
    /// delivery dead-lettered and lost.
    fn release(self, counters: &SinkCounters) {
        if self.acks.is_empty() {
            return;
        }
        let mut dead_lettered = counters.dead_lettered.load(Ordering::Acquire) - self.dead_lettered;
        let mut lost = counters.lost.load(Ordering::Acquire) - self.lost;
        for (ack, records) in self.acks {
            let records = u64::from(records);
            let this_lost = lost.min(records);
            lost -= this_lost;
            let this_dead = dead_lettered.min(records - this_lost);
            dead_lettered -= this_dead;
            ack.release(crate::acknowledgement::AckReport {
                dead_lettered: this_dead,
                lost: this_lost,
                ..Default::default()
            });
        }
    }
}
