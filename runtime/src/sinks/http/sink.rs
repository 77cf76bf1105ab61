//! The running `http` sink.

use std::time::Instant;

use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::http::breaker::{BreakerState, CircuitBreaker};
use crate::sinks::util::http::client::HttpClient;
use crate::sinks::util::http::options::HttpOptions;
use crate::sinks::util::http::request_chunks::request_chunks;
use crate::sinks::util::http::response_class::{ResponseClass, classify};
use crate::sinks::util::http::signing::Signing;

/// How records are framed in a request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchFormat {
    /// `[rec,rec,…]`, `application/json`.
    Array,
    /// One record per line, `application/x-ndjson`.
    Ndjson,
    /// `{"<key>":[rec,rec,…]}`, `application/json`.
    Wrapped(String),
}

/// The `http` sink's options.
#[derive(Clone, Debug)]
pub struct HttpSinkOptions {
    /// How to reach the server.
    pub http: HttpOptions,
    /// How records are framed.
    pub format: BatchFormat,
    /// How each request is signed (the `webhook` type), if at all.
    pub signing: Option<Signing>,
}

/// Posts every batch to one endpoint, split into requests under
/// `max_events` and `max_bytes`, and answers with what the server said:
/// 2xx accepted, 408/429/5xx retryable (after the server's `Retry-After`),
/// other statuses rejected with the server's answer. When only some requests
/// of a batch got through it answers `partial`, so only the rest is sent
/// again.
pub struct HttpSink {
    options: HttpSinkOptions,
    client: Option<HttpClient>,
    breaker: CircuitBreaker,
    /// A `Retry-After` from the server: no request before this.
    not_before: Option<Instant>,
    last_failure: Option<String>,
}

impl HttpSink {
    /// A sink with `options`; nothing connects until the first write.
    pub fn new(options: HttpSinkOptions) -> Self {
        let breaker = CircuitBreaker::new(
            options.http.breaker_threshold,
            options.http.breaker_cool_down,
        );
        Self {
            options,
            client: None,
            breaker,
            not_before: None,
            last_failure: None,
        }
    }

    /// The breaker's state, for tests and health.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    fn body(&self, chunk: &Batch) -> (bytes::Bytes, &'static str) {
        if self.options.format == BatchFormat::Ndjson {
            // The records as they were serialized: no copy.
            return (chunk.shared_bytes(), "application/x-ndjson");
        }
        let array = |out: &mut Vec<u8>| {
            out.push(b'[');
            for (i, record) in chunk.records().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(record);
            }
            out.push(b']');
        };
        let mut out = Vec::with_capacity(chunk.bytes().len() + 64);
        match &self.options.format {
            BatchFormat::Ndjson | BatchFormat::Array => array(&mut out),
            BatchFormat::Wrapped(key) => {
                out.push(b'{');
                out.extend_from_slice(
                    serde_json::to_string(key)
                        .expect("a string serializes")
                        .as_bytes(),
                );
                out.push(b':');
                array(&mut out);
                out.push(b'}');
            }
        }
        (out.into(), "application/json")
    }

    fn failed(&mut self, reason: String) -> String {
        self.breaker.failure();
        self.last_failure = Some(reason.clone());
        reason
    }
}

/// `partial` when some records went through, else the outcome itself.
fn after(accepted: u32, outcome: WriteOutcome) -> WriteOutcome {
    match outcome {
        WriteOutcome::Retryable(reason) | WriteOutcome::Rejected(reason) if accepted > 0 => {
            WriteOutcome::Partial { accepted, reason }
        }
        other => other,
    }
}

impl Sink for HttpSink {
    fn start(&mut self) -> Result<(), SinkError> {
        let client = HttpClient::new(&self.options.http, self.options.signing.clone())
            .map_err(SinkError::new)?;
        if self.options.http.healthcheck {
            match client.healthcheck() {
                Ok(status) if status >= 500 => tracing::warn!(
                    endpoint = %self.options.http.endpoint,
                    "healthcheck: the server answered HTTP {status}; records will be retried until it recovers"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(
                    "healthcheck failed ({err}); records will be retried until the server answers"
                ),
            }
        }
        self.client = Some(client);
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if let Some(at) = self.not_before.take() {
            // The server asked to wait (Retry-After): the retry waits here,
            // on the sink's own thread, at most MAX_RETRY_AFTER.
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        if let Err(wait) = self.breaker.allow() {
            return WriteOutcome::Retryable(format!(
                "circuit breaker open for another {wait:.1?} after repeated failures: {}",
                self.last_failure.as_deref().unwrap_or("")
            ));
        }
        let Some(client) = self.client.as_ref() else {
            return WriteOutcome::Fatal("the sink is not started".into());
        };
        let http = &self.options.http;
        let mut accepted = 0u32;
        for chunk in request_chunks(batch, http.max_events, http.max_bytes) {
            let (body, content_type) = self.body(&chunk);
            let answer = match client.send(body, content_type) {
                Ok(answer) => answer,
                Err(err) => {
                    let reason = self.failed(err);
                    return after(accepted, WriteOutcome::Retryable(reason));
                }
            };
            match classify(answer.status, answer.retry_after.as_deref(), &answer.body) {
                ResponseClass::Accepted => {
                    self.breaker.success();
                    accepted += chunk.len();
                }
                ResponseClass::Retryable {
                    reason,
                    retry_after,
                } => {
                    self.not_before = retry_after.map(|wait| Instant::now() + wait);
                    let reason = self.failed(reason);
                    return after(accepted, WriteOutcome::Retryable(reason));
                }
                ResponseClass::Rejected(reason) => {
                    // The server works; it refuses these records.
                    self.breaker.success();
                    return after(accepted, WriteOutcome::Rejected(reason));
                }
            }
        }
        WriteOutcome::Accepted
    }

    fn health(&mut self) -> Health {
        let why = || self.last_failure.clone().unwrap_or_default();
        match self.breaker.state() {
            BreakerState::Closed => Health::Healthy,
            BreakerState::HalfOpen => {
                Health::Degraded(format!("circuit breaker half-open, probing: {}", why()))
            }
            BreakerState::Open => Health::Unhealthy(format!("circuit breaker open: {}", why())),
        }
    }
}
