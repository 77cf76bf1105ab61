//! The store a sink's worker writes its dead letters to, under a cap.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::file::{count_records, lock_file};
use crate::batch::Batch;

/// What [`DeadLetterStore::write`] did with a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DeadLetterWrite {
    /// Older records deleted to make room (or this batch's, if it alone is
    /// larger than the cap).
    pub dropped: u64,
    /// Whether this batch was stored.
    pub stored: bool,
}

pub(crate) struct DeadLetterStore {
    sink: String,
    dir: PathBuf,
    max_bytes: u64,
    active: Option<File>,
    active_bytes: u64,
    /// Rotated files, oldest first, with their sizes.
    rotated: Vec<(u64, u64)>,
    scanned: bool,
    /// Held, shared, from the first dead letter on, so a replay does not
    /// rewrite the files while this store appends to them.
    _lock: Option<File>,
}

impl DeadLetterStore {
    pub fn new(data_dir: &Path, sink: &str, max_bytes: u64) -> Self {
        Self {
            sink: sink.to_owned(),
            dir: data_dir.join("dead-letter"),
            max_bytes,
            active: None,
            active_bytes: 0,
            rotated: Vec::new(),
            scanned: false,
            _lock: None,
        }
    }

    /// Changes the cap (a configuration reload); applies from the next write.
    pub fn set_max_bytes(&mut self, max_bytes: u64) {
        self.max_bytes = max_bytes;
    }

    /// The file being written.
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.ndjson", self.sink))
    }

    fn rotated_path(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{}.ndjson.{n}", self.sink))
    }

    /// A file grows to a quarter of the cap before it is rotated, so
    /// deleting the oldest frees about a quarter of the store.
    fn segment_bytes(&self) -> u64 {
        (self.max_bytes / 4).max(16 * 1024)
    }

    fn total_bytes(&self) -> u64 {
        self.active_bytes + self.rotated.iter().map(|(_, size)| size).sum::<u64>()
    }

    /// Finds what earlier runs left: the active file's size and the rotated
    /// files, so the cap holds across restarts.
    fn scan(&mut self) -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        self._lock = Some(lock_file(&self.dir, &self.sink)?);
        let prefix = format!("{}.ndjson.", self.sink);
        let mut rotated = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|name| name.strip_prefix(&prefix))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let meta = entry.metadata()?;
            if meta.is_file() {
                rotated.push((n, meta.len()));
            }
        }
        rotated.sort_unstable();
        self.rotated = rotated;
        self.active_bytes = match std::fs::symlink_metadata(self.path()) {
            Ok(meta) if meta.is_file() => cut_torn_tail(&self.path(), meta.len())?,
            _ => 0,
        };
        self.scanned = true;
        Ok(())
    }

    fn open_active(&mut self) -> std::io::Result<&mut File> {
        if self.active.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(self.path())
                .map_err(|e| {
                    if e.raw_os_error() == Some(libc::ELOOP) {
                        std::io::Error::other(format!(
                            "`{}` is a symlink; dead letters are never written through one",
                            self.path().display()
                        ))
                    } else {
                        e
                    }
                })?;
            self.active = Some(file);
        }
        Ok(self.active.as_mut().expect("opened above"))
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.active = None;
        let next = self.rotated.last().map_or(1, |(n, _)| n + 1);
        std::fs::rename(self.path(), self.rotated_path(next))?;
        self.rotated.push((next, self.active_bytes));
        self.active_bytes = 0;
        Ok(())
    }

    /// Deletes the oldest rotated file; returns how many records it held.
    fn drop_oldest(&mut self) -> std::io::Result<u64> {
        // Forgotten only once it is gone, so the cap stays true.
        let (n, _) = self.rotated[0];
        let path = self.rotated_path(n);
        let records = count_records(&path).unwrap_or(0);
        std::fs::remove_file(&path)?;
        self.rotated.remove(0);
        Ok(records)
    }

    /// Writes `batch` with `reason` (a header line, then its records) and
    /// syncs the file, so a dead-lettered record survives a crash right
    /// after. Makes room under the cap first by deleting the oldest files.
    pub fn write(&mut self, batch: &Batch, reason: &str) -> std::io::Result<DeadLetterWrite> {
        if !self.scanned {
            self.scan()?;
        }
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let entry = encode(&self.sink, batch, reason, &at)?;
        let size = entry.len() as u64;
        let mut dropped = 0;
        if size > self.max_bytes {
            return Ok(DeadLetterWrite {
                dropped: u64::from(batch.len()),
                stored: false,
            });
        }
        if self.active_bytes > 0 && self.active_bytes + size > self.segment_bytes() {
            self.rotate()?;
        }
        while self.total_bytes() + size > self.max_bytes && !self.rotated.is_empty() {
            dropped += self.drop_oldest()?;
        }
        if self.total_bytes() + size > self.max_bytes {
            // Only the active file is left and it is too full: start afresh.
            self.rotate()?;
            dropped += self.drop_oldest()?;
        }
        let before = self.active_bytes;
        let file = self.open_active()?;
        if let Err(err) = file.write_all(&entry).and_then(|()| file.sync_data()) {
            // Cut a half-written entry back off, so the file stays readable
            // and the next entry starts on a line of its own.
            let _ = file.set_len(before);
            return Err(std::io::Error::new(
                err.kind(),
                format!(
                    "{err} (after deleting {dropped} older dead-lettered records to make room)"
                ),
            ));
        }
        self.active_bytes += size;
        Ok(DeadLetterWrite {
            dropped,
            stored: true,
        })
    }
}

/// `batch` as stored: a header line (`sink`, `reason`, dead-lettered
/// `at`), then one line per record.
pub(crate) fn encode(
    sink: &str,
    batch: &Batch,
    reason: &str,
    at: &str,
) -> std::io::Result<Vec<u8>> {
    let header = serde_json::json!({
        "batch": {
            "sink": sink,
            "reason": reason,
            "first_sequence": batch.first_sequence(),
            "count": batch.len(),
            "at": at,
        }
    });
    let mut out = Vec::with_capacity(batch.bytes().len() + 32 * batch.len() as usize + 256);
    serde_json::to_writer(&mut out, &header)?;
    out.push(b'\n');
    for (i, record) in batch.records().enumerate() {
        let sequence = batch.first_sequence() + i as u64;
        write!(out, r#"{{"sequence":{sequence},"record":"#)?;
        out.extend_from_slice(record);
        out.extend_from_slice(b"}\n");
    }
    Ok(out)
}

/// A crash in the middle of a write leaves a line without its newline:
/// cut the file back to its last whole line, so what comes next starts on
/// a line of its own. Returns the file's length afterwards.
fn cut_torn_tail(path: &Path, len: u64) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    if len == 0 {
        return Ok(0);
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    // Look back in steps for the last newline.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            let keep = start + i as u64 + 1;
            if keep != len {
                file.set_len(keep)?;
            }
            return Ok(keep);
        }
        end = start;
    }
    file.set_len(0)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::read_dead_letters;

    fn batch(first: u64, n: usize, pad: usize) -> Batch {
        let records: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"i":{},"pad":"{}"}}"#,
                    first + i as u64,
                    "x".repeat(pad)
                )
            })
            .collect();
        Batch::from_records(records, first)
    }

    #[test]
    fn a_batch_is_one_header_and_its_records_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DeadLetterStore::new(dir.path(), "app", 1 << 20);
        let reason = "rejected: \0\n".repeat(1000);
        store.write(&batch(5, 3, 0), &reason).unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert_eq!(
            text.matches("rejected").count(),
            1000,
            "the reason is written once"
        );
        let letters = read_dead_letters(&store.path()).unwrap();
        assert_eq!(letters.len(), 3);
        assert_eq!(letters[2].sequence, 7);
        assert_eq!(letters[2].record["i"], 7);
        assert_eq!(letters[0].reason, reason);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_store_stays_under_its_cap_and_counts_what_it_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cap = 64 * 1024;
        let mut store = DeadLetterStore::new(dir.path(), "app", cap);
        let mut dropped = 0;
        for b in 0..200u64 {
            let w = store.write(&batch(b * 10, 10, 100), "why").unwrap();
            assert!(w.stored);
            dropped += w.dropped;
            let total: u64 = std::fs::read_dir(dir.path().join("dead-letter"))
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            assert!(total <= cap, "{total} > {cap}");
        }
        let mut kept = 0;
        for entry in std::fs::read_dir(dir.path().join("dead-letter")).unwrap() {
            kept += read_dead_letters(&entry.unwrap().path()).unwrap().len() as u64;
        }
        assert!(dropped > 0);
        assert_eq!(
            kept + dropped,
            2000,
            "every record is kept or counted as dropped"
        );
        // A new store (a restart) sees what is there and keeps the cap.
        let mut again = DeadLetterStore::new(dir.path(), "app", cap);
        again.write(&batch(9999, 10, 100), "why").unwrap();
        let total: u64 = std::fs::read_dir(dir.path().join("dead-letter"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= cap);
    }

    #[test]
    fn a_batch_larger_than_the_cap_is_counted_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DeadLetterStore::new(dir.path(), "app", 64 * 1024);
        let w = store.write(&batch(0, 100, 1000), "why").unwrap();
        assert_eq!(
            w,
            DeadLetterWrite {
                dropped: 100,
                stored: false
            }
        );
    }

    #[test]
    fn a_torn_last_line_is_cut_off_on_restart_and_old_files_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DeadLetterStore::new(dir.path(), "app", 1 << 20);
        store.write(&batch(0, 2, 0), "first").unwrap();
        // A crash mid-write: half an entry without its newline.
        let mut file = OpenOptions::new().append(true).open(store.path()).unwrap();
        file.write_all(b"{\"batch\":{\"sink\":\"app\",\"rea")
            .unwrap();
        drop(file);
        let mut again = DeadLetterStore::new(dir.path(), "app", 1 << 20);
        again.write(&batch(2, 1, 0), "second").unwrap();
        let letters = read_dead_letters(&again.path()).unwrap();
        assert_eq!(
            letters.iter().map(|l| l.sequence).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(letters[2].reason, "second");

        let legacy = dir.path().join("legacy.ndjson");
        std::fs::write(
            &legacy,
            "{\"sink\":\"old\",\"reason\":\"why\",\"sequence\":7,\"at\":\"t\",\"record\":{\"i\":7}}\n",
        )
        .unwrap();
        let letters = read_dead_letters(&legacy).unwrap();
        assert_eq!(
            (letters[0].sequence, letters[0].reason.as_str()),
            (7, "why")
        );
        assert_eq!(count_records(&legacy).unwrap(), 1);
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        std::fs::create_dir_all(dir.path().join("dead-letter")).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("dead-letter/app.ndjson")).unwrap();
        let mut store = DeadLetterStore::new(dir.path(), "app", 1 << 20);
        let err = store.write(&batch(0, 1, 0), "why").unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
