//! `rotating_file`: JSON (or text) lines in a file that is rotated by size
//! and/or time, with retention and optional gzip of rotated files.
//!
//! The rotation logic is our own: no well-kept crate does size + time +
//! retention + off-thread compression while also keeping records whole and
//! reporting partial progress to the pipeline. Compression uses flate2.

use super::compression::Compressor;
use super::naming::{prune, rotated_name};
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::file_sync::flush_file;
use crate::sinks::util::no_follow::open_no_follow;
use crate::sinks::util::text_line::write_text_line;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time source of a [`RotatingFileSink`]; tests inject their own.
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// How records are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileMode {
    /// One JSON record per line, as received (default).
    #[default]
    Json,
    /// One human-readable line per record: time, level, message, fields.
    Text,
}

/// Options of the `rotating_file` sink.
#[derive(Clone, Debug)]
pub struct RotatingFileSinkOptions {
    /// The active file. Its directory is created if missing.
    pub path: PathBuf,
    /// Rotate before a record would take the file past this size.
    pub max_bytes: Option<u64>,
    /// Rotate at every multiple of this period (UTC, aligned to the epoch):
    /// `"hourly"`, `"daily"`, a number of seconds or a duration like `"15m"`.
    pub interval: Option<Duration>,
    /// Rotated files kept; older ones are deleted (default 5).
    pub max_files: usize,
    /// Gzip rotated files on a background thread (default `false`).
    pub compress: bool,
    /// `json` (default) or `text`.
    pub mode: FileMode,
    /// `fsync` the active file on every flush (default `true`).
    pub sync_on_flush: bool,
}

impl RotatingFileSinkOptions {
    /// Checks what serde cannot: that something triggers rotation.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes.is_none() && self.interval.is_none() {
            return Err("set `max_bytes`, `interval`, or both; without either the file never rotates (use the `file` sink for that)".into());
        }
        if self.max_bytes == Some(0) {
            return Err("`max_bytes` must be more than zero, such as \"10MB\"".into());
        }
        Ok(())
    }
}

/// Writes records to a file, rotating it by size and/or time.
///
/// A record is never split across two files: the file is rotated before a
/// record that would take it past `max_bytes` (a record larger than
/// `max_bytes` gets a file of its own). Rotated files are named
/// `<file name>.<UTC time of rotation, YYYYMMDDTHHMMSSZ>` (with `-N` if two
/// rotations share a second), plus `.gz` once compressed. Retention orders
/// them by that time and `N`.
pub struct RotatingFileSink {
    options: RotatingFileSinkOptions,
    clock: Arc<dyn Clock>,
    file: Option<File>,
    size: u64,
    dirty: bool,
    next_rotation: Option<SystemTime>,
    compressor: Option<Compressor>,
    text: Vec<u8>,
    ends: Vec<usize>,
    problem: Arc<Mutex<Option<String>>>,
}

impl RotatingFileSink {
    /// A rotating file sink on the system clock; the file is opened by `start`.
    pub fn new(options: RotatingFileSinkOptions) -> Self {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// A rotating file sink reading time from `clock`.
    pub fn with_clock(options: RotatingFileSinkOptions, clock: Arc<dyn Clock>) -> Self {
        Self {
            options,
            clock,
            file: None,
            size: 0,
            dirty: false,
            next_rotation: None,
            compressor: None,
            text: Vec::new(),
            ends: Vec::new(),
            problem: Arc::new(Mutex::new(None)),
        }
    }

    fn period_end(&self, at: SystemTime) -> Option<SystemTime> {
        let period = self.options.interval?.as_secs();
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        Some(UNIX_EPOCH + Duration::from_secs((secs / period + 1) * period))
    }

    fn open_active(&mut self) -> std::io::Result<()> {
        let file = open_no_follow(
            OpenOptions::new().create(true).append(true),
            &self.options.path,
        )?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// Writes `bytes` (whole records) to the active file; on failure cuts the
    /// file back so no partial record stays.
    fn write_chunk(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the file is not open"))?;
        if let Err(err) = file.write_all(bytes) {
            let _ = file.set_len(self.size);
            return Err(err);
        }
        self.size += bytes.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Closes the active file, renames it to its rotated name, opens a fresh
    /// one and hands the rotated file to compression or pruning. On failure
    /// the active file is reopened, so writing goes on where it was.
    fn rotate(&mut self, now: SystemTime) -> std::io::Result<()> {
        let result = (|| {
            if let Some(file) = self.file.take()
                && self.options.sync_on_flush
                && self.dirty
            {
                file.sync_data()?;
            }
            let rotated = rotated_name(&self.options.path, now);
            std::fs::rename(&self.options.path, &rotated)?;
            self.dirty = false;
            self.open_active()?;
            Ok(rotated)
        })();
        match result {
            Ok(rotated) => {
                match &self.compressor {
                    Some(compressor) => compressor.submit(rotated),
                    None => {
                        *self.problem.lock().unwrap() =
                            prune(&self.options.path, self.options.max_files)
                                .err()
                                .map(|err| format!("cannot prune rotated files: {err}"));
                    }
                }
                Ok(())
            }
            Err(err) => {
                if self.file.is_none() {
                    let _ = self.open_active();
                }
                Err(err)
            }
        }
    }

    /// Writes rendered records, rotating between records where size or
    /// time says so. Reports how many records made it when something fails.
    fn write_rendered(&mut self, bytes: &[u8], ends: &[usize], now: SystemTime) -> WriteOutcome {
        let failed = |written: usize, reason: String| {
            if written > 0 {
                WriteOutcome::Partial {
                    accepted: written as u32,
                    reason,
                }
            } else {
                WriteOutcome::Retryable(reason)
            }
        };
        let path = self.options.path.clone();
        let (mut chunk_start, mut record_start) = (0, 0);
        // Records already in a file, counted from the start of the batch.
        let mut written = 0;
        for (index, &end) in ends.iter().enumerate() {
            let pending = (record_start - chunk_start) as u64;
            let by_time = self.next_rotation.is_some_and(|at| now >= at);
            let by_size = self
                .options
                .max_bytes
                .is_some_and(|max| self.size + pending + (end - record_start) as u64 > max);
            // Never rotate an empty file: no empty rotated files, and a record
            // larger than `max_bytes` gets a file of its own.
            if self.size + pending > 0 && (by_time || by_size) {
                if let Err(err) = self.write_chunk(&bytes[chunk_start..record_start]) {
                    return failed(written, io_problem(&path, "write to", err));
                }
                written = index;
                chunk_start = record_start;
                if let Err(err) = self.rotate(now) {
                    return failed(written, io_problem(&path, "rotate", err));
                }
            }
            if by_time {
                self.next_rotation = self.period_end(now);
            }
            record_start = end;
        }
        match self.write_chunk(&bytes[chunk_start..]) {
            Ok(()) => WriteOutcome::Accepted,
            Err(err) => failed(written, io_problem(&path, "write to", err)),
        }
    }
}

/// Renders a batch for writing: the batch itself in `json` mode, formatted
/// lines (into `text`) in `text` mode. `ends` gets each record's end offset.
fn render<'a>(
    mode: FileMode,
    batch: &'a Batch,
    text: &'a mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> &'a [u8] {
    ends.clear();
    match mode {
        FileMode::Json => {
            ends.extend(memchr::memchr_iter(b'\n', batch.bytes()).map(|i| i + 1));
            batch.bytes()
        }
        FileMode::Text => {
            text.clear();
            for record in batch.records() {
                write_text_line(text, record, false);
                text.push(b'\n');
                ends.push(text.len());
            }
            text
        }
    }
}

fn io_problem(path: &Path, what: &str, err: std::io::Error) -> String {
    format!("cannot {what} `{}`: {err}", path.display())
}

impl Sink for RotatingFileSink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.options.validate().map_err(SinkError::new)?;
        let path = self.options.path.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| SinkError::new(io_problem(dir, "create the directory", e)))?;
        }
        self.open_active()
            .map_err(|e| SinkError::new(io_problem(&path, "open", e)))?;
        // A file left from an earlier period is rotated on the first write.
        let last_write = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .filter(|_| self.size > 0)
            .unwrap_or_else(|| self.clock.now());
        self.next_rotation = self.period_end(last_write.min(self.clock.now()));
        if self.options.compress && self.compressor.is_none() {
            self.compressor = Some(
                Compressor::start(&path, self.options.max_files, self.problem.clone()).map_err(
                    |e| SinkError::new(format!("cannot start the compression thread: {e}")),
                )?,
            );
        }
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if self.file.is_none() {
            // A rotation could not reopen the file: only a restart can help.
            return WriteOutcome::Fatal(format!("`{}` is not open", self.options.path.display()));
        }
        let now = self.clock.now();
        // Reuse the buffers across batches without borrowing `self` twice.
        let mut text = std::mem::take(&mut self.text);
        let mut ends = std::mem::take(&mut self.ends);
        let bytes = render(self.options.mode, batch, &mut text, &mut ends);
        let outcome = self.write_rendered(bytes, &ends, now);
        self.text = text;
        self.ends = ends;
        outcome
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
        if let Some(compressor) = self.compressor.take() {
            compressor.finish();
        }
    }

    fn health(&mut self) -> Health {
        if self.file.is_none() {
            return Health::Unhealthy("the file is not open".into());
        }
        match self.problem.lock().unwrap().clone() {
            Some(problem) => Health::Degraded(problem),
            None => Health::Healthy,
        }
    }
}
