//! Sending the requests of one batch and turning the answers into one
//! outcome, record by record, shared by every HTTP-based sink: the circuit
//! breaker and its single probe, the server's `Retry-After`, up to
//! `concurrency` requests in flight, and a report that stays in record
//! order whatever order the answers came in.

use std::sync::atomic::{AtomicU64, Ordering};

use super::client::{HttpAnswer, HttpClient, SendFailure};
use super::options::HttpOptions;
use super::response_class::ResponseClass;
use super::signing::Signing;
use crate::sink::{Health, RecordResults, SinkError, WriteOutcome};
use crate::sinks::util::breaker::{BreakerState, CircuitBreaker};

/// What became of one batch's requests.
pub(crate) struct Delivered {
    /// The batch's outcome, record by record.
    pub outcome: WriteOutcome,
    /// For each request, in order: whether it is settled (delivered,
    /// refused or dropped by the server), so not to be sent again.
    pub settled: Vec<bool>,
}

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
    client: Option<std::sync::Arc<HttpClient>>,
    breaker: CircuitBreaker,
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
        self.client = Some(std::sync::Arc::new(client));
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
    /// says what became of each record: a request the server took is
    /// delivered (less what it said it dropped); one it refused is
    /// rejected, and the requests after it are still sent; once one fails
    /// for a passing reason, the requests after it are not sent (the
    /// server is in trouble) and all of them are retried. Up to
    /// `concurrency` requests are in flight at once; while the circuit
    /// breaker is half-open, exactly one goes first, as its probe.
    pub fn deliver(&mut self, requests: Vec<EncodedRequest>, interpret: &Interpret) -> Delivered {
        let count = requests.len();
        let not_sent = |outcome| Delivered {
            outcome,
            settled: vec![false; count],
        };
        if let Err(wait) = self.breaker.allow() {
            // Nothing is sent: the batch waits for the breaker's probe
            // without using up its retries.
            return not_sent(WriteOutcome::Deferred {
                wait,
                reason: format!(
                    "not sent: the circuit breaker is open for another {wait:.1?} after repeated failures: {}",
                    self.last_failure.as_deref().unwrap_or("")
                ),
            });
        }
        let Some(client) = self.client.clone() else {
            return not_sent(WriteOutcome::Fatal("the sink is not started".into()));
        };
        let window = self.options.concurrency.max(1) as usize;
        let probing = self.breaker.state() == BreakerState::HalfOpen;
        let mut results = RecordResults::new();
        let mut settled = Vec::with_capacity(count);
        let mut offset = 0u32;
        let mut failed: Option<String> = None;
        let mut requests = requests.into_iter().peekable();
        let mut first_round = true;
        while requests.peek().is_some() {
            let size = if first_round && probing { 1 } else { window };
            first_round = false;
            let round: Vec<EncodedRequest> = requests.by_ref().take(size).collect();
            if let Some(reason) = &failed {
                // Not sent: an earlier request failed for a passing reason.
                for request in &round {
                    let range = offset..offset + request.records;
                    results = results.retryable(
                        range,
                        format!("not sent: an earlier request of this batch failed: {reason}"),
                    );
                    settled.push(false);
                    offset += request.records;
                }
                continue;
            }
            let answers = send_round(&client, &round, interpret);
            for (request, class) in round.iter().zip(answers) {
                let range = offset..offset + request.records;
                offset += request.records;
                let (failure, done) = self.read_answer(&mut results, range, request.records, class);
                if let Some(reason) = failure {
                    failed.get_or_insert(reason);
                }
                settled.push(done);
            }
        }
        Delivered {
            outcome: results.into_outcome(offset),
            settled,
        }
    }

    /// Adds what one answer (`class`, to a request of `records` records
    /// at `range`) says to `results`. Returns why it failed, if it did for
    /// a passing reason, and whether the request is settled.
    fn read_answer(
        &mut self,
        results: &mut RecordResults,
        range: std::ops::Range<u32>,
        records: u32,
        class: ResponseClass,
    ) -> (Option<String>, bool) {
        let so_far = std::mem::take(results);
        let (now, failure) = match class {
            ResponseClass::Accepted => {
                self.breaker.success();
                (so_far, None)
            }
            ResponseClass::Warned(warning) => {
                self.breaker.success();
                (so_far.warning(warning), None)
            }
            ResponseClass::PartlyDropped { dropped, reason } => {
                self.breaker.success();
                self.dropped_by_server.fetch_add(dropped, Ordering::Relaxed);
                *self.last_drop.lock() = Some(reason.clone());
                let dropped = dropped.min(u64::from(records)) as u32;
                (so_far.dropped(range, dropped, reason), None)
            }
            ResponseClass::Rejected(reason) => {
                // The server works; it refuses these records.
                self.breaker.success();
                (so_far.rejected(range, reason), None)
            }
            ResponseClass::Retryable {
                reason,
                retry_after,
            } => {
                let reason = self.failed(reason);
                let mut now = so_far.retryable(range, reason.clone());
                if let Some(wait) = retry_after {
                    now = now.retry_after(wait);
                }
                (now, Some(reason))
            }
            ResponseClass::Indeterminate(reason) => {
                let reason = self.failed(reason);
                (so_far.indeterminate(range, reason.clone()), Some(reason))
            }
        };
        *results = now;
        let settled = failure.is_none();
        (failure, settled)
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
            Err(SendFailure::NotSent(reason)) => ResponseClass::Retryable {
                reason,
                retry_after: None,
            },
            Err(SendFailure::Unanswered(reason)) => ResponseClass::Indeterminate(format!(
                "{reason} (the request went out: the server may have stored it)"
            )),
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
