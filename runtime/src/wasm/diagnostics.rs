//! Where a guest's log lines and stdout/stderr go: the host's `tracing`
//! output, tagged with the sink's name, escaped, cut to a bounded length and
//! paid for from the sink's [`GuestLogBudget`].

use std::sync::{Arc, Mutex};

use super::guest_text::{MAX_GUEST_TEXT_BYTES, lift_guest_bytes, lift_guest_text};
use super::log_budget::{GuestLogBudget, Spend};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest stdout/stderr line gathered before it is logged as is.
const MAX_LINE_BYTES: usize = MAX_GUEST_TEXT_BYTES;

/// Severity of a guest diagnostic line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestLevel {
    /// Finest detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something to look at.
    Warn,
    /// Something failed.
    Error,
}

/// Where a guest line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestStream {
    /// The `host.log` import.
    Log,
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
}

impl GuestStream {
    /// `log`, `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestStream::Log => "log",
            GuestStream::Stdout => "stdout",
            GuestStream::Stderr => "stderr",
        }
    }
}

/// One diagnostic line from a guest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GuestLogLine {
    /// The sink's name.
    pub sink: String,
    /// Severity (stdout is `info`, stderr `warn`).
    pub level: GuestLevel,
    /// Where it came from.
    pub stream: GuestStream,
    /// The text, escaped and at most about
    /// [`MAX_GUEST_TEXT_BYTES`](super::MAX_GUEST_TEXT_BYTES) long.
    pub message: String,
}

/// A buffer that keeps every guest line it is given, for embedders and tools
/// (such as `sinkbox check`) that want to show a guest's own words.
#[derive(Clone, Debug, Default)]
pub struct GuestLogBuffer {
    lines: Arc<Mutex<Vec<GuestLogLine>>>,
}

impl GuestLogBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<GuestLogLine> {
        self.lines.lock().unwrap().clone()
    }

    /// Takes every line so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<GuestLogLine> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }

    fn push(&self, line: GuestLogLine) {
        self.lines.lock().unwrap().push(line);
    }
}

/// The diagnostics of one guest instance.
#[derive(Clone)]
pub(crate) struct GuestDiagnostics {
    inner: Arc<Mutex<DiagnosticsState>>,
}

struct DiagnosticsState {
    sink: String,
    budget: Arc<GuestLogBudget>,
    capture: Option<GuestLogBuffer>,
    stdout_partial: Vec<u8>,
    stderr_partial: Vec<u8>,
}

impl GuestDiagnostics {
    pub fn new(sink: &str, budget: Arc<GuestLogBudget>, capture: Option<GuestLogBuffer>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(DiagnosticsState {
                sink: sink.to_owned(),
                budget,
                capture,
                stdout_partial: Vec::new(),
                stderr_partial: Vec::new(),
            })),
        }
    }

    pub fn log(&self, level: GuestLevel, stream: GuestStream, message: &str) {
        let message = lift_guest_text(message);
        self.lock().log(level, stream, message);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DiagnosticsState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A stdout or stderr stream for the guest's WASI context.
    pub fn output(&self, stream: GuestStream) -> GuestOutput {
        GuestOutput {
            diagnostics: self.clone(),
            stream,
        }
    }

    fn write_output(&self, stream: GuestStream, bytes: &[u8]) {
        let mut state = self.lock();
        let mut partial = match stream {
            GuestStream::Stderr => std::mem::take(&mut state.stderr_partial),
            _ => std::mem::take(&mut state.stdout_partial),
        };
        let level = if stream == GuestStream::Stderr {
            GuestLevel::Warn
        } else {
            GuestLevel::Info
        };
        // Whole lines (or 4 KiB pieces of longer ones) are cut out with
        // memchr; a flood costs a copy and a budget check per line, and is
        // only escaped when the budget keeps it.
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = MAX_LINE_BYTES - partial.len();
            let window = &rest[..rest.len().min(room)];
            match memchr::memchr(b'\n', window) {
                Some(end) => {
                    partial.extend_from_slice(&window[..end]);
                    state.log_raw(level, stream, &partial);
                    partial.clear();
                    rest = &rest[end + 1..];
                }
                None => {
                    partial.extend_from_slice(window);
                    rest = &rest[window.len()..];
                    if partial.len() >= MAX_LINE_BYTES {
                        state.log_raw(level, stream, &partial);
                        partial.clear();
                    }
                }
            }
        }
        match stream {
            GuestStream::Stderr => state.stderr_partial = partial,
            _ => state.stdout_partial = partial,
        }
    }
}

impl DiagnosticsState {
    /// Logs raw output bytes as one line, if the budget allows (checked
    /// before the bytes are escaped).
    fn log_raw(&mut self, level: GuestLevel, stream: GuestStream, raw: &[u8]) {
        if self.charge(raw.len().min(MAX_LINE_BYTES)) {
            let line = lift_guest_bytes(raw);
            self.write_line(level, stream, line);
        }
    }

    /// Logs a line already lifted (escaped and bounded), if the budget
    /// allows.
    fn log(&mut self, level: GuestLevel, stream: GuestStream, message: String) {
        if self.charge(message.len()) {
            self.write_line(level, stream, message);
        }
    }

    /// Spends a line's cost from the budget; `false` drops the line (with a
    /// note now and then).
    fn charge(&mut self, bytes: usize) -> bool {
        match self.budget.spend(bytes) {
            Spend::Keep => {}
            Spend::Drop => return false,
            Spend::DropAndReport(lines) => {
                tracing::warn!(
                    sink = %self.sink,
                    "{lines} guest log line(s) dropped over the sink's log budget ({} bytes/s, burst {} bytes, {} dropped in all)",
                    self.budget.rate(),
                    self.budget.burst(),
                    self.budget.dropped()
                );
                return false;
            }
        }
        true
    }

    fn write_line(&mut self, level: GuestLevel, stream: GuestStream, message: String) {
        let sink = self.sink.as_str();
        let stream_name = stream.as_str();
        // A line someone captures (`sinkbox check`) is shown by them, with
        // its step: logging it as well would print it twice.
        if let Some(capture) = &self.capture {
            capture.push(GuestLogLine {
                sink: self.sink.clone(),
                level,
                stream,
                message,
            });
            return;
        }
        match level {
            GuestLevel::Trace => {
                tracing::trace!(target: "sinkbox::guest", sink, stream = stream_name, "{message}")
            }
            GuestLevel::Debug => {
                tracing::debug!(target: "sinkbox::guest", sink, stream = stream_name, "{message}")
            }
            GuestLevel::Info => {
                tracing::info!(target: "sinkbox::guest", sink, stream = stream_name, "{message}")
            }
            GuestLevel::Warn => {
                tracing::warn!(target: "sinkbox::guest", sink, stream = stream_name, "{message}")
            }
            GuestLevel::Error => {
                tracing::error!(target: "sinkbox::guest", sink, stream = stream_name, "{message}")
            }
        }
    }
}

/// A guest's stdout or stderr: every write is accepted (so a chatty guest
/// never fails on `println!`), split into lines and logged under the cap.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    diagnostics: GuestDiagnostics,
    stream: GuestStream,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.diagnostics.write_output(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.diagnostics.write_output(self.stream, buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
