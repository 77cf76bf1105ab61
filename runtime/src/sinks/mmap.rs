//! `mmap`: one JSON line per record, appended through an [`MmapWriter`].

use std::path::PathBuf;

use super::mmap_writer::{MmapWriter, MmapWriterOptions, SyncPolicy};
use crate::batch::Batch;
use crate::registry::{OptionKind, OptionSpec, SinkType, UriForm, UriTarget};
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

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

/// The `mmap` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "mmap",
        "appends every record as one JSON line through a memory-mapped file",
        |options, _context| {
            let path = options.require_path("path")?;
            let defaults = MmapSinkOptions::new(&path);
            let growth_factor = options
                .float("growth_factor")?
                .unwrap_or(defaults.growth_factor);
            if !(1.1..=16.0).contains(&growth_factor) {
                return Err(
                    options.invalid("growth_factor", "must be between 1.1 and 16, such as 2.0")
                );
            }
            let initial_size = options
                .size("initial_size")?
                .unwrap_or(defaults.initial_size);
            if initial_size < 4096 {
                return Err(
                    options.invalid("initial_size", "must be at least 4KiB, such as \"64MiB\"")
                );
            }
            Ok(Box::new(MmapSink::new(MmapSinkOptions {
                path,
                initial_size,
                growth_factor,
                sync: options
                    .parse_text("sync", parse_sync_policy)?
                    .unwrap_or(defaults.sync),
            })))
        },
    )
    .option(
        OptionSpec::new("path", OptionKind::Path)
            .required()
            .help("the file; missing directories are created"),
    )
    .option(
        OptionSpec::new("initial_size", OptionKind::Size)
            .default("64MiB")
            .help("size the file is created with"),
    )
    .option(
        OptionSpec::new("growth_factor", OptionKind::Float)
            .default("2.0")
            .help("how much the file grows when full (1.1 to 16)"),
    )
    .option(
        OptionSpec::new(
            "sync",
            OptionKind::Text(
                "\"none\", \"on_flush\" or a size such as \"4MiB\" (sync every that many bytes)",
            ),
        )
        .default("on_flush")
        .help("none (the kernel writes back: survives a process crash, not a power loss), on_flush (msync on every flush), or a size such as 4MiB (also sync every that many bytes)"),
    )
    .uri(UriForm {
        schemes: &["mmap"],
        target: UriTarget::Path("path"),
        rest_into: None,
    })
}

fn parse_sync_policy(text: &str) -> Result<SyncPolicy, String> {
    match text {
        "none" => Ok(SyncPolicy::None),
        "on_flush" => Ok(SyncPolicy::OnFlush),
        size => crate::config::byte_size::parse(size)
            .map(SyncPolicy::EveryBytes)
            .map_err(|_| format!(
                "`{text}` is not a sync policy; use \"none\", \"on_flush\" or a size such as \"4MiB\" (sync every that many bytes)"
            )),
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
