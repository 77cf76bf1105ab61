//! `mmap`: one JSON line per record, appended through an [`MmapWriter`].

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, de};

use super::mmap_writer::{MmapWriter, MmapWriterOptions, SyncPolicy};
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Options of the `mmap` sink.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmapSinkOptions {
    /// The file. Missing parent directories are created.
    pub path: PathBuf,
    /// Size the file is created with (default `"64MiB"`).
    #[serde(default = "default_initial_size", with = "crate::config::byte_size")]
    pub initial_size: u64,
    /// Growth when full (default `2.0`).
    #[serde(default = "default_growth_factor")]
    pub growth_factor: f64,
    /// `"none"`, `"on_flush"` (default) or a size such as `"4MiB"`: sync
    /// every time that much was appended.
    #[serde(default = "default_sync", deserialize_with = "sync_policy")]
    pub sync: SyncPolicy,
}

fn default_initial_size() -> u64 {
    MmapWriterOptions::default().initial_size
}

fn default_growth_factor() -> f64 {
    MmapWriterOptions::default().growth_factor
}

fn default_sync() -> SyncPolicy {
    SyncPolicy::OnFlush
}

fn sync_policy<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SyncPolicy, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.as_str() {
        "none" => Ok(SyncPolicy::None),
        "on_flush" => Ok(SyncPolicy::OnFlush),
        size => crate::config::byte_size::parse(size)
            .map(SyncPolicy::EveryBytes)
            .map_err(|_| de::Error::custom(format!(
                "`{text}` is not a sync policy; use \"none\", \"on_flush\" or a size such as \"4MiB\" (sync every that many bytes)"
            ))),
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
