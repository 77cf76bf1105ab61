//! `file`: appends every record as one JSON line to a file.

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::file_sync::flush_file;
use crate::sinks::util::no_follow::open_no_follow;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// Options of the `file` sink.
#[derive(Clone, Debug)]
pub struct FileSinkOptions {
    /// The file to append to. Missing parent directories are created.
    pub path: PathBuf,
    /// `fsync` the file's data on every flush (default `true`).
    pub sync_on_flush: bool,
}

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
