//! The outage clock and the retry window: how long a failing sink keeps
//! retrying, when a batch is given up on, and what the operator is told
//! while a sink fails and when it recovers.

use std::time::{Duration, Instant};

use super::SinkWorker;
use super::outcome_plan::{Next, Plan};
use crate::pipeline::outage::OutageNews;

impl SinkWorker {
    /// When a buffered batch written at `written` expires, if the buffer
    /// dead-letters batches past its `max_age`.
    pub(super) fn expiry_of(
        &self,
        written: Option<std::time::SystemTime>,
    ) -> Option<std::time::SystemTime> {
        let options = self.shared.buffer.as_ref()?.buffer.options();
        match (options.max_age_action, options.max_age) {
            (crate::pipeline::MaxAgeAction::DeadLetter, Some(max_age)) => Some(written? + max_age),
            _ => None,
        }
    }

    /// Why a failing batch is given up on now: its retries, the sink's
    /// retry window, or (buffered) its age.
    pub(super) fn give_up(&self, retries: u32) -> Option<String> {
        if let Some(expires) = self.expires
            && std::time::SystemTime::now() >= expires
        {
            let max_age = self
                .shared
                .buffer
                .as_ref()
                .and_then(|lane| lane.buffer.options().max_age)
                .unwrap_or_default();
            return Some(format!(
                "older than the disk buffer's max_age ({}) and still failing",
                humantime::format_duration(max_age)
            ));
        }
        let outage = self.outage.length(Instant::now());
        self.policy.give_up(retries, outage, self.disk_buffered())
    }

    /// `wait`, cut short where the retry window ends (the batch then gets
    /// its last try on time), and at least a millisecond.
    pub(super) fn wait_within_window(&self, wait: Duration) -> Duration {
        let left = self
            .policy
            .retry_window(self.disk_buffered())
            .map_or(wait, |window| {
                window.saturating_sub(self.outage.length(Instant::now()))
            });
        wait.min(left).max(Duration::from_millis(1))
    }

    /// Whether the sink has a disk buffer (its batches then wait out an
    /// outage there, without a retry window unless one is set).
    pub(super) fn disk_buffered(&self) -> bool {
        self.shared.buffer.is_some()
    }

    /// Keeps the outage clock from the plan of an answer, and tells the
    /// operator, at a bounded rate, that the sink is failing and when it
    /// delivers again.
    pub(super) fn note_outcome(&mut self, answer: &Plan) {
        let now = Instant::now();
        // A fault is the sink's, not the destination's: restarts handle it.
        let Some(works) = answer.destination_works() else {
            return;
        };
        let failure = match &answer.next {
            Next::Retry { reason, .. } | Next::Wait(_, reason) if !works => Some(reason),
            _ => None,
        };
        let news = match failure {
            Some(_) => self.outage.failed(now, self.idle_after()),
            None => self.outage.succeeded(now),
        };
        let Some(news) = news else {
            return;
        };
        let name = &self.shared.name;
        let buffered = self.buffer_backlog();
        match news {
            OutageNews::Started => {
                let until = match self.policy.retry_window(self.disk_buffered()) {
                    Some(window) => format!(
                        "for up to {} (max_retry_duration)",
                        humantime::format_duration(window)
                    ),
                    None => "while the disk buffer holds".into(),
                };
                tracing::warn!(sink = %name, "the sink is failing; retrying {until}: {}", failure.map_or("", |r| r));
            }
            OutageNews::Continues(length) => tracing::warn!(
                sink = %name,
                "the sink is still failing after {}{buffered}: {}",
                humantime::format_duration(Duration::from_secs(length.as_secs())),
                failure.map_or("", |r| r)
            ),
            OutageNews::Ended(length) => tracing::info!(
                sink = %name,
                "the sink delivers again after failing for {}{buffered}",
                humantime::format_duration(Duration::from_millis(length.as_millis() as u64))
            ),
        }
    }

    /// A failure this long after the one before starts a new outage:
    /// longer than any wait between the tries of one.
    pub(super) fn idle_after(&self) -> Duration {
        (self.policy.max_backoff.max(self.last_deferral) * 2).max(Duration::from_secs(30))
    }

    /// What a disk-buffered sink holds, for the outage lines; empty
    /// without a buffer.
    pub(super) fn buffer_backlog(&self) -> String {
        let Some(lane) = &self.shared.buffer else {
            return String::new();
        };
        let stats = lane.buffer.stats();
        format!(
            "; {} batch(es), {}, in the disk buffer, the oldest {} old",
            stats.batches,
            bytesize::ByteSize::b(stats.bytes).display().iec(),
            humantime::format_duration(Duration::from_secs(stats.oldest_undelivered_ms / 1000))
        )
    }
}
