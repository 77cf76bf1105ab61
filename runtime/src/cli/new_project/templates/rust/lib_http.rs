//! {{name}}: a sinkbox sink that posts every batch to a URL as one JSON
//! array, over the host's wasi:http. It reaches only what the operator
//! granted (`http_allow`); headers the operator injects (secrets among
//! them) are added by the host and never seen here. Replace the body or
//! the answers with what your destination expects.
//!
//! Options (the sink's `config` table, or `--config key=value`):
//! - `url`: where batches go (required; it must be in `http_allow`).
//!
//! Answers: 2xx accepted; 408, 429 and 5xx retryable (after the server's
//! `Retry-After`, when it sends one); any other status rejected with the
//! server's answer (the batch is dead-lettered); a request the grant
//! refuses is rejected too.

use sinkbox_guest::http::{self, HttpError};
use sinkbox_guest::{Batch, Config, FlushOutcome, HealthStatus, RetryAfter, Sink, WriteOutcome, log};

const OPTIONS: &[&str] = &["url"];

struct MySink {
    url: String,
    posted: u64,
}

impl Sink for MySink {
    fn start(config: Config) -> Result<Self, String> {
        let unknown = config.unknown_keys(OPTIONS);
        if !unknown.is_empty() {
            return Err(format!("unknown option(s) {unknown:?}; valid options: {OPTIONS:?}"));
        }
        let url = config.require("url")?.to_owned();
        Ok(MySink { url, posted: 0 })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let mut body = Vec::with_capacity(batch.bytes().len() + 2);
        body.push(b'[');
        for (i, record) in batch.records().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(record);
        }
        body.push(b']');
        let answer = match http::post(&self.url, &[("content-type", "application/json")], &body) {
            Ok(answer) => answer,
            Err(HttpError::Denied(why)) => return WriteOutcome::Rejected(format!("the host refused the request: {why}")),
            Err(HttpError::BadUrl(why)) => return WriteOutcome::Rejected(format!("bad url: {why}")),
            Err(HttpError::Failed(why)) => return WriteOutcome::Retryable(format!("no answer: {why}")),
        };
        let text = String::from_utf8_lossy(&answer.body);
        let reason = format!("HTTP {}: {}", answer.status, text.chars().take(200).collect::<String>());
        match answer.status {
            200..=299 => {
                self.posted += u64::from(batch.len());
                WriteOutcome::Accepted
            }
            408 | 429 | 500..=599 => match answer.header("retry-after").and_then(|s| s.trim().parse::<u64>().ok()) {
                Some(seconds) => WriteOutcome::RetryAfter(RetryAfter { reason, wait_ms: seconds.saturating_mul(1000) }),
                None => WriteOutcome::Retryable(reason),
            },
            _ => WriteOutcome::Rejected(reason),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        log::info(&format!("posted {} record(s)", self.posted));
        FlushOutcome::Done
    }

    fn stop(&mut self) {}

    fn health(&mut self) -> HealthStatus {
        HealthStatus::Healthy
    }
}

sinkbox_guest::export_sink!(MySink);
