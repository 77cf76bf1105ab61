//! Sending the requests of one batch and turning the answers into one
//! outcome, shared by every HTTP-based sink: the circuit breaker, the
//! server's `Retry-After`, up to `concurrency` requests in flight, and a
//! report that stays in record order whatever order the answers came in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::client::{HttpAnswer, HttpClient};
use super::options::HttpOptions;
use super::response_class::ResponseClass;
use super::signing::Signing;
use crate::sink::{Health, SinkError, WriteOutcome};
use crate::sinks::util::breaker::{BreakerState, CircuitBreaker};

/// One encoded request body and how many records it carries.
pub(crate) struct EncodedRequest {
    /// The body, before compression.
    pub body: bytes::Bytes,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Records it carries, counted in batch order.
    pub records: u32,
}

/// What a sink makes of one answer to a request of so many records. Most use
/// [`super::response_class::classify`]; OTLP reads its partial success.
pub(crate) type Interpret = dyn Fn(&HttpAnswer, u32) -> ResponseClass + Sync;

/// The running half every HTTP-based sink shares.
pub(crate) struct HttpDelivery {
    options: HttpOptions,
    signing: Option<Signing>,
    client: Option<HttpClient>,
    breaker: CircuitBreaker,
    /// A `Retry-After` from the server: no request before this.
    not_before: Option<Instant>,
    last_failure: Option<String>,
    /// Records the server took but said it dropped (OTLP partial success).
    dropped_by_server: AtomicU64,
    last_drop: parking_lot::Mutex<Option<String>>,
}

impl HttpDelivery {
    /// Delivery for `options`; nothing connects until [`Self::start`].
    pub fn new(options: HttpOptions, signing: Option<Signing>) -> Self {
        let breaker = CircuitBreaker::new(options.breaker_threshold, options.breaker_cool_down);
        Self {
            options,
            signing,
            client: None,
            breaker,
            not_before: None,
            last_failure: None,
            dropped_by_server: AtomicU64::new(0),
            last_drop: parking_lot::Mutex::new(None),
        }
    }

    /// The options it sends with.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Builds the client and, if asked, checks that the endpoint answers
    /// (a failure is logged: the server may come up later).
    pub fn start(&mut self) -> Result<(), SinkError> {
        let client =
            HttpClient::new(&self.options, self.signing.clone()).map_err(SinkError::new)?;
        if self.options.healthcheck {
            match client.healthcheck() {
                Ok(status) if status >= 500 => tracing::warn!(
                    endpoint = %self.options.endpoint,
                    "healthcheck: the server answered HTTP {status}; records are retried while it is down (see max_retry_duration)"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(
                    "healthcheck failed ({err}); records are retried while it is down (see max_retry_duration)"
                ),
            }
        }
        self.client = Some(client);
        Ok(())
    }

    /// The breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Records the server accepted and then said it dropped.
    pub fn dropped_by_server(&self) -> u64 {
        self.dropped_by_server.load(Ordering::Relaxed)
    }

    /// Sends `requests` (consecutive pieces of one batch, in order) and
    /// says what became of the batch: the records of the requests that got
    /// through from the start are accepted; the first request that did not
    /// decides the rest. With `concurrency` above 1, up to that many
    /// requests are in flight at once; a later request that got through
    /// while an earlier one failed is sent again with the rest (at least
    /// once, never reordered in the report).
    pub fn deliver(
        &mut self,
        requests: Vec<EncodedRequest>,
        interpret: &Interpret,
    ) -> WriteOutcome {
        if let Some(at) = self.not_before.take() {
            // The server asked to wait (Retry-After): the retry waits here,
            // on the sink's own thread, at most MAX_RETRY_AFTER.
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        if let Err(wait) = self.breaker.allow() {
            // Nothing is sent: the batch waits for the breaker's probe
            // without using up its retries.
            return WriteOutcome::Deferred {
                wait,
                reason: format!(
                    "not sent: the circuit breaker is open for another {wait:.1?} after repeated failures: {}",
                    self.last_failure.as_deref().unwrap_or("")
                ),
            };
        }
        let Some(client) = self.client.as_ref() else {
            return WriteOutcome::Fatal("the sink is not started".into());
        };
        let window = self.options.concurrency.max(1) as usize;
        let mut accepted = 0u32;
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let round: Vec<EncodedRequest> = requests.by_ref().take(window).collect();
            let answers = send_round(client, &round, interpret);
            for (request, class) in round.iter().zip(answers) {
                match class {
                    ResponseClass::Accepted => {
                        self.breaker.success();
                        accepted += request.records;
                    }
                    ResponseClass::PartlyDropped { dropped, reason } => {
                        self.breaker.success();
                        accepted += request.records;
                        self.dropped_by_server.fetch_add(dropped, Ordering::Relaxed);
                        tracing::warn!(
                            endpoint = %self.options.endpoint,
                            "the server accepted a request but dropped {dropped} of its {} records: {reason}",
                            request.records
                        );
                        *self.last_drop.lock() = Some(reason);
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
        }
        WriteOutcome::Accepted
    }

    /// Health from the breaker, and from records the server dropped.
    pub fn health(&self) -> Health {
        let why = || self.last_failure.clone().unwrap_or_default();
        match self.breaker.state() {
            BreakerState::Closed => match &*self.last_drop.lock() {
                Some(reason) => Health::Degraded(format!(
                    "the server dropped {} accepted records so far; last: {reason}",
                    self.dropped_by_server()
                )),
                None => Health::Healthy,
            },
            BreakerState::HalfOpen => {
                Health::Degraded(format!("circuit breaker half-open, probing: {}", why()))
            }
            BreakerState::Open => Health::Unhealthy(format!("circuit breaker open: {}", why())),
        }
    }

    fn failed(&mut self, reason: String) -> String {
        self.breaker.failure();
        self.last_failure = Some(reason.clone());
        reason
    }
}

/// Sends one round of requests, in parallel when there are several, and
/// gives their classes in request order.
fn send_round(
    client: &HttpClient,
    round: &[EncodedRequest],
    interpret: &Interpret,
) -> Vec<ResponseClass> {
    let one =
        |request: &EncodedRequest| match client.send(request.body.clone(), request.content_type) {
            Ok(answer) => interpret(&answer, request.records),
            Err(reason) => ResponseClass::Retryable {
                reason,
                retry_after: None,
            },
        };
    if round.len() == 1 {
        return vec![one(&round[0])];
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = round
            .iter()
            .map(|request| scope.spawn(move || one(request)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| ResponseClass::Retryable {
                    reason: "the request thread panicked".into(),
                    retry_after: None,
                })
            })
            .collect()
    })
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
