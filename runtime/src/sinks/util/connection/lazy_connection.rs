//! A connection opened on first use and reopened after a failure, with
//! back-off, so a socket sink heals itself.

use super::connect_options::ConnectOptions;
use super::endpoint::Endpoint;
use super::transport::Transport;
use crate::backoff::Backoff;
use crate::sink::Health;
use std::time::Instant;

/// Why a send failed, and how many whole records went out before it.
#[derive(Debug)]
pub(crate) struct SendError {
    pub records_sent: u32,
    pub reason: String,
    /// The connection gave up (see `auto_reconnect`, `max_connect_attempts`).
    pub fatal: bool,
}

impl SendError {
    /// The outcome for the pipeline: `partial` if some records went out.
    pub fn outcome(self) -> crate::sink::WriteOutcome {
        use crate::sink::WriteOutcome;
        if self.fatal && self.records_sent == 0 {
            WriteOutcome::Fatal(self.reason)
        } else if self.records_sent > 0 {
            WriteOutcome::Partial {
                accepted: self.records_sent,
                reason: self.reason,
            }
        } else {
            WriteOutcome::Retryable(self.reason)
        }
    }
}

/// A connection opened on first use and reopened after a failure, with
/// exponential back-off between attempts.
pub(crate) struct LazyConnection {
    endpoint: Endpoint,
    options: ConnectOptions,
    transport: Option<Transport>,
    next_attempt: Option<Instant>,
    /// Consecutive failures since the last success: how far to back off.
    failures_in_a_row: u32,
    last_error: Option<String>,
    failed_attempts: u32,
    /// Why the connection gave up; cleared by [`LazyConnection::reset`].
    gave_up: Option<String>,
}

impl LazyConnection {
    pub fn new(endpoint: Endpoint, options: ConnectOptions) -> Self {
        Self {
            endpoint,
            options,
            transport: None,
            next_attempt: None,
            failures_in_a_row: 0,
            last_error: None,
            failed_attempts: 0,
            gave_up: None,
        }
    }

    /// Forgets past failures: called when the sink (re)starts.
    pub fn reset(&mut self) {
        self.close();
        self.transport = None;
        self.next_attempt = None;
        self.failures_in_a_row = 0;
        self.failed_attempts = 0;
        self.gave_up = None;
    }

    /// Records that an established connection was lost.
    fn lost(&mut self) {
        if !self.options.auto_reconnect {
            self.gave_up = Some(format!(
                "the connection to {} was lost and auto_reconnect is off",
                self.endpoint
            ));
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn fail(&mut self, what: &str, err: impl std::fmt::Display) -> String {
        self.transport = None;
        let message = format!("{what} {}: {err}", self.endpoint);
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        let backoff = Backoff::new(self.options.retry_delay, self.options.max_retry_delay);
        self.next_attempt = Some(Instant::now() + backoff.delay(self.failures_in_a_row));
        self.last_error = Some(message.clone());
        message
    }

    /// Whether a transport is connected and its peer still there, connecting
    /// first if needed (unless still backing off from the last failure).
    pub fn ensure_connected(&mut self) -> Result<(), String> {
        if let Some(transport) = &mut self.transport
            && transport.peer_closed()
        {
            self.transport = None;
            self.last_error = Some(format!("{} closed the connection", self.endpoint));
            tracing::info!(endpoint = %self.endpoint, "the peer closed the connection");
            self.lost();
        }
        if self.transport.is_some() {
            return Ok(());
        }
        if let Some(why) = &self.gave_up {
            return Err(why.clone());
        }
        if let Some(at) = self.next_attempt
            && Instant::now() < at
        {
            let why = self.last_error.clone().unwrap_or_default();
            return Err(format!(
                "not connected (next attempt in {:?}): {why}",
                at - Instant::now()
            ));
        }
        match Transport::connect(&self.endpoint, &self.options) {
            Ok(transport) => {
                self.transport = Some(transport);
                self.next_attempt = None;
                self.failures_in_a_row = 0;
                self.last_error = None;
                self.failed_attempts = 0;
                Ok(())
            }
            Err(err) => {
                let message = self.fail("cannot connect to", err);
                self.failed_attempts += 1;
                let limit = self.options.max_connect_attempts;
                if limit > 0 && self.failed_attempts >= limit {
                    self.gave_up = Some(format!(
                        "gave up after {limit} failed connection attempts: {message}"
                    ));
                }
                Err(message)
            }
        }
    }

    /// Sends `bytes` whole, connecting first if needed. On failure the
    /// connection is dropped, so the next call reconnects; the error says
    /// how many whole records (newline-terminated) went out before it.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.ensure_connected().map_err(|reason| SendError {
            records_sent: 0,
            fatal: self.gave_up.is_some(),
            reason: self.gave_up.clone().unwrap_or(reason),
        })?;
        let transport = self.transport.as_mut().expect("connected above");
        match transport.send(bytes) {
            Ok(()) => Ok(()),
            Err((sent, err)) => {
                let records_sent = memchr::memchr_iter(b'\n', &bytes[..sent]).count() as u32;
                let reason = self.fail("lost the connection to", err);
                self.lost();
                Err(SendError {
                    records_sent,
                    fatal: self.gave_up.is_some(),
                    reason,
                })
            }
        }
    }

    /// The connection's health. After a failure, once the back-off has
    /// passed, it tries to reconnect (bounded by `connect_timeout`), so a
    /// recovered endpoint reports healthy without waiting for a write.
    pub fn health(&mut self) -> Health {
        if let Some(why) = &self.gave_up {
            return Health::Unhealthy(why.clone());
        }
        if self.transport.is_none()
            && self.last_error.is_some()
            && self.next_attempt.is_none_or(|at| Instant::now() >= at)
        {
            let _ = self.ensure_connected();
        }
        match (&self.transport, &self.last_error) {
            (Some(_), _) => Health::Healthy,
            (None, Some(err)) => Health::Unhealthy(err.clone()),
            (None, None) => Health::Degraded(format!(
                "not connected yet to {} (connects on first write)",
                self.endpoint
            )),
        }
    }

    pub fn close(&mut self) {
        if let Some(Transport::Ws(mut socket)) = self.transport.take() {
            let _ = socket.close(None);
            let _ = socket.flush();
        }
    }
}
