//! `rotating_file`: JSON (or text) lines in a file that is rotated by size
//! and/or time, with retention and optional gzip of rotated files.
//!
//! The rotation logic is our own: no well-kept crate does size + time +
//! retention + off-thread compression while also keeping records whole and
//! reporting partial progress to the pipeline. Compression uses flate2.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::file::flush_file;
use super::no_follow::open_no_follow;
use super::text_line::write_text_line;
use crate::batch::Batch;
use crate::config::ConfigError;
use crate::registry::{OptionKind, OptionSpec, SinkOptions, SinkType, UriForm, UriTarget};
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

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

/// The options that make a file rotate, shared by `file` and `rotating_file`.
pub(crate) const ROTATION_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("max_bytes", OptionKind::Size)
        .help("rotate before a record would take the file past this size"),
    OptionSpec::new(
        "interval",
        OptionKind::Text(
            "\"hourly\", \"daily\", a number of seconds, or a duration such as \"15m\"",
        ),
    )
    .help("rotate at every multiple of this period, in UTC from the Unix epoch: hourly, daily, seconds, or a duration such as 15m"),
    OptionSpec::new("max_files", OptionKind::Integer)
        .default("5")
        .help("rotated files kept; older ones are deleted"),
    OptionSpec::new("compress", OptionKind::Bool)
        .default("false")
        .help("gzip rotated files on a background thread, never on the write path"),
    OptionSpec::new("mode", OptionKind::Choice(&["json", "text"]))
        .default("json")
        .help("json: the records as received; text: the same lines as stdout_pretty, without colour"),
];

/// The `rotating_file` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "rotating_file",
        "JSON or text lines in a file rotated by size and/or time, with retention and gzip",
        |options, _context| {
            let rotation = rotating_options(options)?;
            rotation
                .validate()
                .map_err(|message| options.invalid_sink(message))?;
            Ok(Box::new(RotatingFileSink::new(rotation)))
        },
    )
    .options(super::file::FILE_OPTIONS)
    .options(ROTATION_OPTIONS)
    .uri(UriForm {
        schemes: &["rotating-file"],
        target: UriTarget::Path("path"),
        rest_into: None,
    })
}

/// Reads [`RotatingFileSinkOptions`] from a sink's parsed options.
pub(crate) fn rotating_options(
    options: &SinkOptions,
) -> Result<RotatingFileSinkOptions, ConfigError> {
    let max_bytes = options.size("max_bytes")?;
    if max_bytes == Some(0) {
        return Err(options.invalid("max_bytes", "must be more than zero, such as \"10MB\""));
    }
    let max_files = options.integer("max_files")?.unwrap_or(5);
    Ok(RotatingFileSinkOptions {
        path: options.require_path("path")?,
        max_bytes,
        interval: options.parse_text("interval", parse_interval)?,
        max_files: usize::try_from(max_files)
            .map_err(|_| options.invalid("max_files", "too large"))?,
        compress: options.bool("compress")?,
        mode: match options.string("mode")?.as_deref() {
            Some("text") => FileMode::Text,
            _ => FileMode::Json,
        },
        sync_on_flush: options.bool("sync_on_flush")?,
    })
}

/// Parses `"hourly"`, `"daily"`, seconds, or a duration such as `"15m"`.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let expected =
        "expected \"hourly\", \"daily\", a number of seconds, or a duration such as \"15m\"";
    let period = match text {
        "hourly" => Duration::from_secs(3600),
        "daily" => Duration::from_secs(86_400),
        other => match other.parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => humantime::parse_duration(other)
                .map_err(|_| format!("`{other}` is not an interval; {expected}"))?,
        },
    };
    if period.as_secs() == 0 || period.as_secs() > 366 * 86_400 {
        return Err(format!(
            "the interval must be between one second and a year; {expected}"
        ));
    }
    Ok(period)
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

/// `<dir>/<name>.<YYYYMMDDTHHMMSSZ>`, or with `-N` when rotated files of
/// that second exist: `N` is one more than the highest present, so a name is
/// never reused after retention deleted an older file of the same second.
fn rotated_name(active: &Path, now: SystemTime) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let name = active
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!("{name}.");
    let highest = rotated_files(active)
        .unwrap_or_default()
        .iter()
        .map(|path| rotation_order(&prefix, path))
        .filter(|(file_stamp, _)| *file_stamp == stamp)
        .map(|(_, n)| n)
        .max();
    match highest {
        None => active.with_file_name(format!("{name}.{stamp}")),
        Some(n) => active.with_file_name(format!("{name}.{stamp}-{}", n + 1)),
    }
}

/// Rotated files of `active`, oldest first (their names sort by rotation
/// time). In-progress compressions (`.tmp`) are not listed.
pub(crate) fn rotated_files(active: &Path) -> std::io::Result<Vec<PathBuf>> {
    let dir = match active.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let prefix = format!(
        "{}.",
        active
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.strip_prefix(&prefix).is_some_and(is_rotation_suffix)
        })
        .collect();
    files.sort_by_cached_key(|path| rotation_order(&prefix, path));
    Ok(files)
}

/// Whether `rest` (a file name after `<name>.`) is one of our rotation
/// suffixes, `YYYYMMDDTHHMMSSZ[-N][.gz]`: retention must never touch other
/// files that merely share the prefix (another sink's `app.log.err`, a
/// `.bak`, a compression still in progress).
fn is_rotation_suffix(rest: &str) -> bool {
    let rest = rest.strip_suffix(".gz").unwrap_or(rest);
    let (stamp, counter) = rest.split_once('-').unwrap_or((rest, "1"));
    let b = stamp.as_bytes();
    b.len() == 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && !counter.is_empty()
        && counter.bytes().all(|c| c.is_ascii_digit())
}

/// Sort key of a rotated file: its time stamp, then its `-N` suffix (so
/// `-10` comes after `-9`, and both after the unsuffixed name).
fn rotation_order(prefix: &str, path: &Path) -> (String, u64) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest = name.strip_prefix(prefix).unwrap_or(&name);
    let rest = rest.strip_suffix(".gz").unwrap_or(rest);
    match rest.split_once('-') {
        Some((stamp, n)) => (stamp.to_owned(), n.parse().unwrap_or(u64::MAX)),
        None => (rest.to_owned(), 0),
    }
}

/// Deletes the oldest rotated files beyond `keep`.
fn prune(active: &Path, keep: usize) -> std::io::Result<()> {
    let files = rotated_files(active)?;
    for old in &files[..files.len().saturating_sub(keep)] {
        match std::fs::remove_file(old) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
    }
    Ok(())
}

/// Gzips rotated files on its own thread, so compression never slows writes,
/// then prunes. `finish` waits for the queue to drain.
struct Compressor {
    queue: Option<Sender<PathBuf>>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    fn start(
        active: &Path,
        keep: usize,
        problem: Arc<Mutex<Option<String>>>,
    ) -> std::io::Result<Self> {
        let (queue, rotated) = mpsc::channel::<PathBuf>();
        let active = active.to_owned();
        let thread = std::thread::Builder::new()
            .name("sinkbox-gzip".into())
            .spawn(move || {
                for path in rotated {
                    let compressed = match gzip(&path) {
                        // Already pruned while it waited in the queue.
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                        other => other
                            .map_err(|err| format!("cannot compress `{}`: {err}", path.display())),
                    };
                    // Prune even when compression failed: that is when space runs short.
                    let pruned = prune(&active, keep)
                        .map_err(|err| format!("cannot prune rotated files: {err}"));
                    *problem.lock().unwrap() = compressed.and(pruned).err();
                }
            })?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    fn submit(&self, path: PathBuf) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(path);
        }
    }

    fn finish(mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `path` becomes `path.gz` (written to `path.gz.tmp`, synced, renamed).
fn gzip(path: &Path) -> std::io::Result<()> {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let tmp = PathBuf::from(format!("{}.tmp", gz.display()));
    let mut input = File::open(path)?;
    let _ = std::fs::remove_file(&tmp);
    let out = open_no_follow(OpenOptions::new().write(true).create_new(true), &tmp)?;
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    std::io::copy(&mut input, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    std::fs::rename(&tmp, &gz)?;
    std::fs::remove_file(path)
}
