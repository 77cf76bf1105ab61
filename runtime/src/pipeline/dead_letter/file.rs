//! Reading a dead-letter file back, batch by batch or record by record,
//! and the lock that keeps a replay and a running sink's store apart.

use std::fs::{File, OpenOptions};
use std::io::BufRead;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::value::RawValue;

/// One dead-lettered record, as [`read_dead_letters`] returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The sink that could not deliver it.
    pub sink: String,
    /// Why (once per batch in the file, repeated here for each record).
    pub reason: String,
    /// The record's pipeline sequence number.
    pub sequence: u64,
    /// When it was dead-lettered (RFC 3339).
    pub at: String,
    /// The record, as emitted.
    pub record: serde_json::Value,
}

/// One dead-lettered batch, as [`read_dead_letter_batches`] returns it.
#[derive(Clone, Debug)]
pub struct DeadLetterBatch {
    /// The sink that could not deliver it.
    pub sink: String,
    /// Why.
    pub reason: String,
    /// When it was dead-lettered (RFC 3339).
    pub at: String,
    /// Its records, in order: each one's sequence number and its JSON
    /// exactly as emitted.
    pub records: Vec<(u64, Box<RawValue>)>,
}

impl DeadLetterBatch {
    /// The sequence number of its first record (0 when it has none).
    pub fn first_sequence(&self) -> u64 {
        self.records.first().map_or(0, |(sequence, _)| *sequence)
    }

    /// Its records as a batch the pipeline can hand a sink.
    pub fn to_batch(&self) -> crate::batch::Batch {
        crate::batch::Batch::from_records(
            self.records.iter().map(|(_, record)| record.get()),
            self.first_sequence(),
        )
    }
}

/// Reads a dead-letter file back, one entry per batch. Lines that are not
/// dead-letter lines are an error; a last line cut short (a crash
/// mid-write) is skipped. A record of sinkbox 0.1's one-line-per-record
/// format is a batch of its own.
pub fn read_dead_letter_batches(path: &Path) -> std::io::Result<Vec<DeadLetterBatch>> {
    #[derive(serde::Deserialize)]
    struct Header {
        sink: String,
        reason: String,
        at: String,
    }
    /// A record line of a batch.
    #[derive(serde::Deserialize)]
    struct Record {
        sequence: u64,
        record: Box<RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct BatchLine {
        batch: Header,
    }
    /// A line of the one-line-per-record format of sinkbox 0.1.
    #[derive(serde::Deserialize)]
    struct Legacy {
        sink: String,
        reason: String,
        sequence: u64,
        at: String,
        record: Box<RawValue>,
    }
    enum Line {
        Batch(BatchLine),
        Legacy(Legacy),
        Record(Record),
    }
    // Told apart by how they start, as written (a raw record cannot sit
    // in an untagged enum).
    let parse = |line: &str| -> Result<Line, serde_json::Error> {
        if line.starts_with("{\"batch\"") {
            return serde_json::from_str(line).map(Line::Batch);
        }
        if line.starts_with("{\"sink\"") {
            return serde_json::from_str(line).map(Line::Legacy);
        }
        serde_json::from_str(line).map(Line::Record)
    };
    let bytes = std::fs::read(path)?;
    // The bytes after the last newline are a line cut short (a crash, or a
    // write still under way): skipped.
    let end = bytes.iter().rposition(|b| *b == b'\n').unwrap_or(0);
    let complete = std::str::from_utf8(&bytes[..end]).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: not UTF-8: {e}", path.display()),
        )
    })?;
    let mut out: Vec<DeadLetterBatch> = Vec::new();
    // Whether the last batch in `out` takes record lines.
    let mut open = false;
    for (n, line) in complete
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        let bad = |why: String| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}:{}: {why}", path.display(), n + 1),
            )
        };
        match parse(line).map_err(|e| bad(e.to_string()))? {
            Line::Batch(BatchLine { batch }) => {
                out.push(DeadLetterBatch {
                    sink: batch.sink,
                    reason: batch.reason,
                    at: batch.at,
                    records: Vec::new(),
                });
                open = true;
            }
            Line::Legacy(Legacy {
                sink,
                reason,
                sequence,
                at,
                record,
            }) => {
                out.push(DeadLetterBatch {
                    sink,
                    reason,
                    at,
                    records: vec![(sequence, record)],
                });
                open = false;
            }
            Line::Record(Record { sequence, record }) => match out.last_mut() {
                Some(batch) if open => batch.records.push((sequence, record)),
                _ => return Err(bad("a record before any batch header".into())),
            },
        }
    }
    Ok(out)
}

/// Reads a dead-letter file back, one entry per record, each with its
/// batch's reason. Lines that are not dead-letter lines are an error; a last
/// line cut short (a crash mid-write) is skipped.
pub fn read_dead_letters(path: &Path) -> std::io::Result<Vec<DeadLetter>> {
    let mut out = Vec::new();
    for batch in read_dead_letter_batches(path)? {
        for (sequence, record) in &batch.records {
            out.push(DeadLetter {
                sink: batch.sink.clone(),
                reason: batch.reason.clone(),
                sequence: *sequence,
                at: batch.at.clone(),
                record: serde_json::from_str(record.get()).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                })?,
            });
        }
    }
    Ok(out)
}

pub(super) fn count_records(path: &Path) -> std::io::Result<u64> {
    let file = std::io::BufReader::new(File::open(path)?);
    let mut n = 0;
    for line in file.split(b'\n') {
        let line = line?;
        // Record lines of this format and of the one-line-per-record one.
        if line.starts_with(b"{\"sequence\":") || line.starts_with(b"{\"sink\":") {
            n += 1;
        }
    }
    Ok(n)
}

/// Opens (creating) the lock file of `sink`'s dead letters in `dir` and
/// takes it with `flock(operation)`.
fn flock_file(dir: &Path, sink: &str, operation: libc::c_int) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(format!("{sink}.lock")))?;
    // SAFETY: flock on a file descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

/// The lock a running sink's store holds, shared, from its first dead
/// letter on: a replay of the same files refuses to start while it is
/// held, and the store's first dead letter waits for a replay under way
/// (and says so).
pub(super) fn lock_file(dir: &Path, sink: &str) -> std::io::Result<File> {
    match flock_file(dir, sink, libc::LOCK_SH | libc::LOCK_NB) {
        Err(err) if err.raw_os_error() == Some(libc::EWOULDBLOCK) => {
            tracing::warn!(
                sink,
                "a `sinkbox dead-letters replay` of this sink is under way; its dead letters wait for it to finish"
            );
            flock_file(dir, sink, libc::LOCK_SH)
        }
        other => other,
    }
}

/// The lock a replay holds while it rewrites `sink`'s dead-letter files in
/// `dir`; an error that says so if a running sinkbox writes them.
pub(crate) fn lock_for_replay(dir: &Path, sink: &str) -> Result<File, String> {
    flock_file(dir, sink, libc::LOCK_EX | libc::LOCK_NB).map_err(|err| {
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            format!(
                "the dead letters of `{sink}` in {} are being written by a running sinkbox; stop it first (or let it finish), then replay",
                dir.display()
            )
        } else {
            format!("cannot lock the dead letters of `{sink}` in {}: {err}", dir.display())
        }
    })
}
