//! Where a guest's log lines and stdout/stderr go: the host's `tracing`
//! output, tagged with the sink's name, under a size cap.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest single line kept; longer lines are truncated.
pub const MAX_LINE_BYTES: usize = 4 * 1024;
/// Total bytes one instance may log; past that lines are dropped and counted.
pub const MAX_INSTANCE_LOG_BYTES: usize = 1024 * 1024;

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
    /// The text, at most [`MAX_LINE_BYTES`].
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
    budget: usize,
    dropped: u64,
    capture: Option<GuestLogBuffer>,
    stdout_partial: Vec<u8>,
    stderr_partial: Vec<u8>,
}

impl GuestDiagnostics {
    pub fn new(sink: &str, capture: Option<GuestLogBuffer>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(DiagnosticsState {
                sink: sink.to_owned(),
                budget: MAX_INSTANCE_LOG_BYTES,
                dropped: 0,
                capture,
                stdout_partial: Vec::new(),
                stderr_partial: Vec::new(),
            })),
        }
    }

    pub fn log(&self, level: GuestLevel, stream: GuestStream, message: &str) {
        self.inner.lock().unwrap().log(level, stream, message);
    }

    /// A stdout or stderr stream for the guest's WASI context.
    pub fn output(&self, stream: GuestStream) -> GuestOutput {
        GuestOutput {
            diagnostics: self.clone(),
            stream,
        }
    }

    fn write_output(&self, stream: GuestStream, bytes: &[u8]) {
        let mut state = self.inner.lock().unwrap();
        let mut partial = match stream {
            GuestStream::Stderr => std::mem::take(&mut state.stderr_partial),
            _ => std::mem::take(&mut state.stdout_partial),
        };
        let level = if stream == GuestStream::Stderr {
            GuestLevel::Warn
        } else {
            GuestLevel::Info
        };
        for &byte in bytes {
            if byte == b'\n' || partial.len() >= MAX_LINE_BYTES {
                let line = String::from_utf8_lossy(&partial).into_owned();
                state.log(level, stream, &line);
                partial.clear();
                if byte == b'\n' {
                    continue;
                }
            }
            partial.push(byte);
        }
        match stream {
            GuestStream::Stderr => state.stderr_partial = partial,
            _ => state.stdout_partial = partial,
        }
    }
}

impl DiagnosticsState {
    fn log(&mut self, level: GuestLevel, stream: GuestStream, message: &str) {
        let mut end = message.len().min(MAX_LINE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let message = &message[..end];
        if message.len() > self.budget {
            self.dropped += 1;
            if self.dropped == 1 {
                tracing::warn!(sink = %self.sink, "guest log budget of {MAX_INSTANCE_LOG_BYTES} bytes spent; further guest lines of this instance are dropped");
            }
            return;
        }
        self.budget -= message.len();
        let sink = self.sink.as_str();
        let stream_name = stream.as_str();
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
        if let Some(capture) = &self.capture {
            capture.push(GuestLogLine {
                sink: self.sink.clone(),
                level,
                stream,
                message: message.to_owned(),
            });
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
