//! `file`: appends every record as one JSON line to a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use super::no_follow::open_no_follow;
use super::rotating_file::{ROTATION_OPTIONS, RotatingFileSink, rotating_options};
use crate::batch::Batch;
use crate::registry::{OptionKind, OptionSpec, SinkType, UriForm, UriTarget};
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Options of the `file` sink.
#[derive(Clone, Debug)]
pub struct FileSinkOptions {
    /// The file to append to. Missing parent directories are created.
    pub path: PathBuf,
    /// `fsync` the file's data on every flush (default `true`).
    pub sync_on_flush: bool,
}

/// The `file` sink type for the registry. It declares the rotation options
/// too: setting any of them makes it a [`RotatingFileSink`], so
/// `file:///var/log/app.log?max_bytes=10MB` rotates.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "file",
        "appends every record as one JSON line to a file; rotation options make it a rotating_file",
        |options, _context| {
            let rotating = ROTATION_OPTIONS.iter().any(|spec| options.is_set(spec.name));
            if !rotating {
                return Ok(Box::new(FileSink::new(FileSinkOptions {
                    path: options.require_path("path")?,
                    sync_on_flush: options.bool("sync_on_flush")?,
                })));
            }
            let rotation = rotating_options(options)?;
            if rotation.max_bytes.is_none() && rotation.interval.is_none() {
                for option in ["max_files", "compress"] {
                    if options.is_set(option) {
                        return Err(options.invalid(
                            option,
                            "only applies when the file rotates; also set `max_bytes` or `interval`",
                        ));
                    }
                }
            }
            Ok(Box::new(RotatingFileSink::new(rotation)))
        },
    )
    .options(FILE_OPTIONS)
    .options(ROTATION_OPTIONS)
    .uri(UriForm {
        schemes: &["file"],
        target: UriTarget::Path("path"),
        rest_into: None,
    })
}

/// What every file-writing type declares.
pub(crate) const FILE_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("path", OptionKind::Path)
        .required()
        .help("the file; missing directories are created"),
    OptionSpec::new("sync_on_flush", OptionKind::Bool)
        .default("true")
        .help("fsync the file on every flush"),
];

/// Appends each batch to a file with one `write` call. A failed write is
/// rolled back to the last whole batch, so a record is never half written.
#[derive(Debug)]
pub struct FileSink {
    options: FileSinkOptions,
    file: Option<File>,
    len: u64,
    dirty: bool,
}

impl FileSink {
    /// A file sink; the file is opened by `start`.
    pub fn new(options: FileSinkOptions) -> Self {
        Self {
            options,
            file: None,
            len: 0,
            dirty: false,
        }
    }
}

/// The flush of a file sink: `fatal` without an open file (only a restart
/// reopens it), else an `fsync` of the data when `sync_on_flush` is set and
/// something was written since the last one. Shared by the file sinks.
pub(super) fn flush_file(
    file: Option<&File>,
    sync_on_flush: bool,
    dirty: &mut bool,
    path: &std::path::Path,
) -> FlushOutcome {
    let Some(file) = file else {
        return FlushOutcome::Fatal("the file is not open".into());
    };
    if sync_on_flush
        && *dirty
        && let Err(err) = file.sync_data()
    {
        return FlushOutcome::Retryable(format!("cannot sync `{}`: {err}", path.display()));
    }
    *dirty = false;
    FlushOutcome::Done
}

impl Sink for FileSink {
    fn start(&mut self) -> Result<(), SinkError> {
        let path = &self.options.path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                SinkError::new(format!(
                    "cannot create the directory `{}`: {e}",
                    dir.display()
                ))
            })?;
        }
        let file =
            open_no_follow(OpenOptions::new().create(true).append(true), path).map_err(|e| {
                SinkError::new(format!(
                    "cannot open `{}` for appending: {e}",
                    path.display()
                ))
            })?;
        self.len = file.metadata().map(|m| m.len()).unwrap_or(0);
        self.file = Some(file);
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let Some(file) = self.file.as_mut() else {
            return WriteOutcome::Fatal("the file is not open".into());
        };
        match file.write_all(batch.bytes()) {
            Ok(()) => {
                self.len += batch.bytes().len() as u64;
                self.dirty = true;
                WriteOutcome::Accepted
            }
            Err(err) => {
                // Cut off whatever part of the batch made it, so the retry
                // does not leave a half record behind.
                let _ = file.set_len(self.len);
                WriteOutcome::Retryable(format!(
                    "cannot write to `{}`: {err}",
                    self.options.path.display()
                ))
            }
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        flush_file(
            self.file.as_ref(),
            self.options.sync_on_flush,
            &mut self.dirty,
            &self.options.path,
        )
    }

    fn stop(&mut self) {
        self.file = None;
    }

    fn health(&mut self) -> Health {
        match &self.file {
            Some(_) if self.options.path.exists() => Health::Healthy,
            Some(_) => Health::Degraded(format!(
                "`{}` was removed or renamed; records go to the unlinked file until restart",
                self.options.path.display()
            )),
            None => Health::Unhealthy("the file is not open".into()),
        }
    }
}
