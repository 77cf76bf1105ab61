//! `mmap`: one JSON line per record, appended through an [`MmapWriter`].

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::mmap::writer::{MmapWriter, MmapWriterOptions, SyncPolicy};
use std::path::PathBuf;

/// Options of the `mmap` sink.
#[derive(Clone, Debug)]
pub struct MmapSinkOptions {
    /// The file. Missing parent directories are created.
    pub path: PathBuf,
    /// Size the file is created with (default 64 MiB).
    pub initial_size: u64,
    /// Growth when full (default `2.0`).
    pub growth_factor: f64,
    /// When the mapping is synced to disk (default on flush).
    pub sync: SyncPolicy,
}

impl MmapSinkOptions {
    /// Options for `path` with the default size, growth and sync policy.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let defaults = MmapWriterOptions::default();
        Self {
            path: path.into(),
            initial_size: defaults.initial_size,
            growth_factor: defaults.growth_factor,
            sync: SyncPolicy::OnFlush,
        }
    }
}

/// Appends each batch to a memory-mapped file with one `memcpy`.
pub struct MmapSink {
    options: MmapSinkOptions,
    writer: Option<MmapWriter>,
}

impl MmapSink {
    /// An mmap sink; the file is opened by `start`.
    pub fn new(options: MmapSinkOptions) -> Self {
        Self {
            options,
            writer: None,
        }
    }
}

impl Sink for MmapSink {
    fn start(&mut self) -> Result<(), SinkError> {
        let path = &self.options.path;
        let mut writer = MmapWriter::open(
            path,
            MmapWriterOptions {
                initial_size: self.options.initial_size,
                growth_factor: self.options.growth_factor,
                sync: self.options.sync,
            },
        )
        .map_err(|e| {
            SinkError::new(format!("cannot open `{}` for mapping: {e}", path.display()))
        })?;
        let dropped = writer.discard_partial_line();
        if dropped > 0 {
            tracing::warn!(path = %path.display(), "dropped a {dropped}-byte partial record left by a crash");
        }
        self.writer = Some(writer);
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let Some(writer) = self.writer.as_mut().filter(|w| w.is_open()) else {
            // Only a restart (reopening the file) can help.
            return WriteOutcome::Fatal("the file is not open".into());
        };
        // Batches are newline-terminated records already: one copy per batch.
        match writer.append(batch.bytes()) {
            Ok(()) => WriteOutcome::Accepted,
            Err(err) => WriteOutcome::Retryable(format!(
                "cannot append to `{}`: {err}",
                self.options.path.display()
            )),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        match self.writer.as_mut().map(MmapWriter::flush) {
            Some(Ok(())) => FlushOutcome::Done,
            Some(Err(err)) => FlushOutcome::Retryable(format!(
                "cannot sync `{}`: {err}",
                self.options.path.display()
            )),
            None => FlushOutcome::Fatal("the file is not open".into()),
        }
    }

    fn stop(&mut self) {
        if let Some(writer) = self.writer.take()
            && let Err(err) = writer.close()
        {
            tracing::warn!(path = %self.options.path.display(), "closing failed: {err}");
        }
    }

    fn health(&mut self) -> Health {
        self.writer.as_ref().map_or(
            Health::Unhealthy("the file is not open".into()),
            MmapWriter::health,
        )
    }
}
