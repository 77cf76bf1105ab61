//! The files of one sink's disk buffer, under `<data_dir>/buffer/<sink>/`:
//! numbered segment files of frames (`frame.rs`), appended to one at a
//! time, and `acked`, a log of the highest sequence number delivered.
//!
//! Recovery rule (docs/reliability.md): a frame is undelivered when it is
//! intact and its last sequence number is above the last intact entry of
//! `acked`. Nothing else is state: a missing or damaged `acked` means
//! "nothing delivered yet" (batches come again, never go missing); a
//! segment whose frames are all delivered is deleted whenever it is found,
//! so a crash between the ack and the unlink leaves nothing stuck; damaged
//! bytes are skipped up to the next intact frame, and the records they held
//! are counted from the gap in sequence numbers.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::frame::{self, Decoded, FrameHeader, HEADER};
use super::options::{DiskBufferOptions, SYNC_INTERVAL, SyncPolicy};
use crate::batch::Batch;

/// Where one frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameRef {
    pub segment: u64,
    pub offset: u64,
    pub header: FrameHeader,
}

/// What a buffer holds and has lost, for stats and health.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BufferStats {
    /// Bytes of segment files on disk.
    pub bytes: u64,
    /// Batches written and not yet delivered.
    pub batches: u64,
    /// Age of the oldest undelivered batch, in milliseconds (0 if none).
    pub oldest_undelivered_ms: u64,
    /// Records found damaged on disk and skipped.
    pub corrupt_records: u64,
    /// Records dropped because the buffer was full (`when_full =
    /// "drop_newest"`).
    pub dropped_full: u64,
}

struct Segment {
    id: u64,
    bytes: u64,
    /// The last sequence number of its last intact frame.
    last_sequence: Option<u64>,
}

struct State {
    /// Oldest first; the last is the one being written, if any.
    segments: VecDeque<Segment>,
    writer: Option<(u64, File)>,
    next_id: u64,
    acked: Option<u64>,
    ack_log: File,
    ack_log_bytes: u64,
    /// Frames written and not delivered: last sequence, written at (ms),
    /// bytes on disk.
    undelivered: VecDeque<(u64, u64)>,
    total_bytes: u64,
    corrupt_records: u64,
    dropped_full: u64,
    last_sync: Instant,
    unsynced: bool,
}

/// One sink's disk buffer.
pub(crate) struct DiskBuffer {
    dir: PathBuf,
    options: DiskBufferOptions,
    state: Mutex<State>,
    /// Signalled when delivered batches free space.
    space: Condvar,
    _lock: File,
}

/// Why a frame could not be read back.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// It is not what was written: skip it (and count it).
    Damaged(String),
    /// The file could not be read now: try again later.
    Io(String),
}

/// What was on disk at open.
pub(crate) struct Recovered {
    /// Undelivered frames, oldest first.
    pub frames: Vec<FrameRef>,
    /// The sequence number the next batch should start at.
    pub next_sequence: u64,
}

const ACK_ENTRY: usize = 16;
const ACK_MAGIC: u32 = 0x4b43_4153;
/// The ack log is rewritten as one entry past this.
const ACK_LOG_LIMIT: u64 = 64 * 1024;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn ack_entry(sequence: u64) -> [u8; ACK_ENTRY] {
    let mut entry = [0u8; ACK_ENTRY];
    entry[..8].copy_from_slice(&sequence.to_le_bytes());
    let crc = crc32c::crc32c(&entry[..8]);
    entry[8..12].copy_from_slice(&crc.to_le_bytes());
    entry[12..].copy_from_slice(&ACK_MAGIC.to_le_bytes());
    entry
}

/// The last intact entry of an ack log.
fn last_ack(bytes: &[u8]) -> Option<u64> {
    bytes.chunks_exact(ACK_ENTRY).rev().find_map(|entry| {
        let sequence = u64::from_le_bytes(entry[..8].try_into().ok()?);
        (entry == ack_entry(sequence)).then_some(sequence)
    })
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn io(what: &str, path: &Path, err: std::io::Error) -> String {
    format!("{what} `{}`: {err}", path.display())
}

impl DiskBuffer {
    /// Opens (or creates) the buffer in `dir`, reads what is undelivered,
    /// deletes what is delivered, and counts what is damaged. Never
    /// refuses to open for damage; only for I/O errors or another process
    /// holding the buffer.
    pub fn open(
        dir: &Path,
        options: DiskBufferOptions,
        sink: &str,
    ) -> Result<(Self, Recovered), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io("cannot create the buffer directory", dir, e))?;
        let lock_path = dir.join("lock");
        let lock = File::create(&lock_path).map_err(|e| io("cannot create", &lock_path, e))?;
        // A process restarting (or a pipeline rebuilt in this one) may
        // still be letting go of it: wait a little before giving up.
        let locked = (0..50).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(40));
            }
            // SAFETY: flock on a file we own; no memory is involved.
            unsafe {
                libc::flock(
                    std::os::fd::AsRawFd::as_raw_fd(&lock),
                    libc::LOCK_EX | libc::LOCK_NB,
                ) == 0
            }
        });
        if !locked {
            return Err(format!(
                "the disk buffer `{}` is in use by another sinkbox process; give each process its own data_dir",
                dir.display()
            ));
        }
        let ack_path = dir.join("acked");
        let ack_bytes = std::fs::read(&ack_path).unwrap_or_default();
        let acked = last_ack(&ack_bytes);
        let mut ids: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| io("cannot list", dir, e))?
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                let name = name.to_str()?;
                name.strip_suffix(".seg")?.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        // Any length a frame can hold is believable: a smaller max_size
        // after a restart must not turn old frames into damage.
        let max_len = u64::from(u32::MAX);
        let above = |sequence: u64| acked.is_none_or(|a| sequence > a);
        let mut frames = Vec::new();
        let mut segments = VecDeque::new();
        let mut undelivered = VecDeque::new();
        let mut total_bytes = 0;
        let mut corrupt_records = 0u64;
        let mut damaged_bytes = 0u64;
        let mut expected: Option<u64> = None;
        let mut last_seen: Option<u64> = None;
        for (index, &id) in ids.iter().enumerate() {
            let path = segment_path(dir, id);
            let bytes = std::fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
            let mut at = 0usize;
            let mut last_sequence = None;
            while at < bytes.len() {
                match frame::decode(&bytes[at..], max_len) {
                    Decoded::Frame(header) => {
                        if let Some(expected) = expected {
                            // Records between two intact frames were in the
                            // damaged bytes; count those not yet delivered.
                            let from = expected.max(acked.map_or(0, |a| a.saturating_add(1)));
                            corrupt_records += header.first_sequence.saturating_sub(from);
                        }
                        if above(header.last_sequence()) {
                            frames.push(FrameRef {
                                segment: id,
                                offset: at as u64,
                                header,
                            });
                            undelivered.push_back((header.last_sequence(), header.written_ms));
                        }
                        expected = Some(header.last_sequence().saturating_add(1));
                        last_seen = Some(last_seen.map_or(header.last_sequence(), |s: u64| {
                            s.max(header.last_sequence())
                        }));
                        last_sequence = Some(header.last_sequence());
                        at += HEADER + header.len as usize;
                    }
                    Decoded::Torn
                        if index + 1 == ids.len()
                            && frame::intact_after(&bytes, at, max_len).is_none() =>
                    {
                        // The last frame is cut short: the append a crash
                        // interrupted, or a truncated file. Its records are
                        // counted when its header still says how many.
                        let rest = &bytes[at..];
                        let count = if rest.len() >= 16 {
                            u64::from(u32::from_le_bytes(rest[12..16].try_into().unwrap()))
                        } else {
                            0
                        };
                        corrupt_records += count;
                        damaged_bytes += rest.len() as u64;
                        let file = OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(|e| io("cannot open", &path, e))?;
                        file.set_len(at as u64)
                            .map_err(|e| io("cannot truncate", &path, e))?;
                        break;
                    }
                    Decoded::Torn | Decoded::Damaged => {
                        let next = frame::resync(&bytes, at);
                        damaged_bytes += (next - at) as u64;
                        at = next;
                    }
                }
            }
            let on_disk = std::fs::metadata(&path)
                .map(|m| m.len())
                .unwrap_or(bytes.len() as u64);
            if last_sequence.is_none_or(|s| !above(s)) {
                // Everything in it was delivered (or nothing in it is
                // readable): its space comes back now.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            total_bytes += on_disk;
            segments.push_back(Segment {
                id,
                bytes: on_disk,
                last_sequence,
            });
        }
        if damaged_bytes > 0 {
            tracing::warn!(
                sink,
                "disk buffer `{}`: skipped {damaged_bytes} damaged bytes holding {corrupt_records} undelivered records; the rest is delivered",
                dir.display()
            );
        }
        let next_sequence = last_seen
            .map(|s| s.saturating_add(1))
            .max(acked.map(|a| a.saturating_add(1)))
            .unwrap_or(0);
        let ack_log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ack_path)
            .map_err(|e| io("cannot open", &ack_path, e))?;
        let mut ack_log_bytes = ack_log.metadata().map(|m| m.len()).unwrap_or(0);
        if ack_log_bytes % ACK_ENTRY as u64 != 0 {
            // An entry cut short: drop it, so later entries stay aligned.
            ack_log_bytes -= ack_log_bytes % ACK_ENTRY as u64;
            ack_log
                .set_len(ack_log_bytes)
                .map_err(|e| io("cannot repair", &ack_path, e))?;
        }
        let buffer = DiskBuffer {
            dir: dir.to_owned(),
            options,
            state: Mutex::new(State {
                segments,
                writer: None,
                next_id: ids.last().map_or(1, |id| id + 1),
                acked,
                ack_log,
                ack_log_bytes,
                undelivered,
                total_bytes,
                corrupt_records,
                dropped_full: 0,
                last_sync: Instant::now(),
                unsynced: false,
            }),
            space: Condvar::new(),
            _lock: lock,
        };
        Ok((
            buffer,
            Recovered {
                frames,
                next_sequence,
            },
        ))
    }

    /// Whether a frame of `payload` bytes fits under `max_size` now.
    pub fn has_room(&self, payload: usize) -> bool {
        let state = self.state.lock().unwrap();
        state.total_bytes + (HEADER + payload) as u64 <= self.options.max_size
            || state.undelivered.is_empty()
    }

    /// Waits up to `timeout` for delivered batches to free space.
    pub fn wait_for_room(&self, payload: usize, timeout: Duration) {
        let state = self.state.lock().unwrap();
        let _ = self
            .space
            .wait_timeout_while(state, timeout, |s| {
                s.total_bytes + (HEADER + payload) as u64 > self.options.max_size
                    && !s.undelivered.is_empty()
            })
            .unwrap();
    }

    /// Appends `batch`, synced as the options say. On an I/O error (a
    /// full disk) nothing of it stays in the file.
    pub fn append(&self, batch: &Batch) -> Result<FrameRef, String> {
        let header = FrameHeader {
            len: u32::try_from(batch.bytes().len())
                .map_err(|_| "a batch over 4 GiB cannot be buffered".to_string())?,
            count: batch.len(),
            first_sequence: batch.first_sequence(),
            written_ms: now_ms(),
        };
        let mut bytes = Vec::with_capacity(HEADER + batch.bytes().len());
        frame::encode(&header, batch.bytes(), &mut bytes);
        let mut state = self.state.lock().unwrap();
        let rolls = match (&state.writer, state.segments.back()) {
            (Some((id, _)), Some(last)) => {
                *id != last.id || last.bytes + bytes.len() as u64 > self.options.segment_size()
            }
            _ => true,
        };
        if rolls {
            if let Some((_, file)) = state.writer.take() {
                let _ = file.sync_data();
            }
            let id = state.next_id;
            state.next_id += 1;
            let path = segment_path(&self.dir, id);
            let file = OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&path)
                .map_err(|e| io("cannot create", &path, e))?;
            state.writer = Some((id, file));
            state.segments.push_back(Segment {
                id,
                bytes: 0,
                last_sequence: None,
            });
        }
        let offset = state.segments.back().map_or(0, |s| s.bytes);
        let sync_now = match self.options.sync {
            SyncPolicy::Batch => true,
            SyncPolicy::Interval => state.last_sync.elapsed() >= SYNC_INTERVAL,
        };
        let (id, file) = state.writer.as_mut().expect("a writer was just opened");
        let id = *id;
        // At the offset the buffer keeps, whatever a failed write left.
        let written = file.write_all_at(&bytes, offset);
        if let Err(err) = written {
            // Leave no torn frame behind for the next append to follow.
            let _ = file.set_len(offset);
            return Err(io("cannot write to", &segment_path(&self.dir, id), err));
        }
        if sync_now {
            let _ = file.sync_data();
            state.last_sync = Instant::now();
            state.unsynced = false;
        } else {
            state.unsynced = true;
        }
        let segment = state
            .segments
            .back_mut()
            .expect("the segment being written");
        segment.bytes += bytes.len() as u64;
        segment.last_sequence = Some(header.last_sequence());
        state.total_bytes += bytes.len() as u64;
        state
            .undelivered
            .push_back((header.last_sequence(), header.written_ms));
        Ok(FrameRef {
            segment: id,
            offset,
            header,
        })
    }

    /// Syncs what was written and not yet synced, now (an acknowledged
    /// batch is safe only once it is on disk). `Err` if the sync failed.
    pub fn sync_now(&self) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap();
        if state.unsynced {
            if let Some((_, file)) = &state.writer {
                file.sync_data()?;
            }
            state.last_sync = Instant::now();
            state.unsynced = false;
        }
        Ok(())
    }

    /// Syncs an `interval` buffer whose last sync is due.
    pub fn sync_if_due(&self) {
        let mut state = self.state.lock().unwrap();
        if state.unsynced && state.last_sync.elapsed() >= SYNC_INTERVAL {
            if let Some((_, file)) = &state.writer {
                let _ = file.sync_data();
            }
            state.last_sync = Instant::now();
            state.unsynced = false;
        }
    }

    /// Reads a frame back, checked.
    pub fn read(&self, frame: &FrameRef) -> Result<Batch, ReadError> {
        let path = segment_path(&self.dir, frame.segment);
        let damaged = || {
            ReadError::Damaged(format!(
                "a batch in `{}` at byte {} is damaged",
                path.display(),
                frame.offset
            ))
        };
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(damaged()),
            Err(e) => return Err(ReadError::Io(io("cannot open", &path, e))),
        };
        let mut bytes = vec![0u8; HEADER + frame.header.len as usize];
        match file.read_exact_at(&mut bytes, frame.offset) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(damaged()),
            Err(e) => return Err(ReadError::Io(io("cannot read", &path, e))),
        }
        match frame::decode(&bytes, u64::from(u32::MAX)) {
            Decoded::Frame(header) if header == frame.header => {
                bytes.drain(..HEADER);
                Ok(Batch::new(
                    bytes.into(),
                    header.count,
                    header.first_sequence,
                ))
            }
            _ => Err(damaged()),
        }
    }

    /// Records that every batch through `sequence` is delivered (or
    /// dead-lettered, or skipped), and deletes segments nothing undelivered
    /// is left in. The worker calls it in delivery order.
    pub fn ack_through(&self, sequence: u64) {
        let mut state = self.state.lock().unwrap();
        if state.acked.is_some_and(|a| a >= sequence) {
            return;
        }
        state.acked = Some(sequence);
        let entry = ack_entry(sequence);
        if state.ack_log_bytes + ACK_ENTRY as u64 > ACK_LOG_LIMIT {
            // Rewrite as one entry: a crash leaves the old log or the new.
            let path = self.dir.join("acked");
            let fresh = self.dir.join("acked.new");
            let rewritten = std::fs::write(&fresh, entry)
                .and_then(|()| std::fs::rename(&fresh, &path))
                .and_then(|()| OpenOptions::new().append(true).open(&path));
            match rewritten {
                Ok(file) => {
                    state.ack_log = file;
                    state.ack_log_bytes = ACK_ENTRY as u64;
                }
                Err(err) => {
                    tracing::warn!("disk buffer: cannot rewrite `{}`: {err}", path.display())
                }
            }
        } else if state.ack_log.write_all(&entry).is_ok() {
            state.ack_log_bytes += ACK_ENTRY as u64;
            if self.options.sync == SyncPolicy::Batch {
                let _ = state.ack_log.sync_data();
            }
        } else {
            // A short write: cut it off so the next entries stay aligned.
            let keep = state.ack_log_bytes;
            let _ = state.ack_log.set_len(keep);
        }
        while state
            .undelivered
            .front()
            .is_some_and(|(last, _)| *last <= sequence)
        {
            state.undelivered.pop_front();
        }
        let writing = state.writer.as_ref().map(|(id, _)| *id);
        while let Some(oldest) = state.segments.front() {
            let done = oldest.last_sequence.is_none_or(|s| s <= sequence);
            if !done || Some(oldest.id) == writing {
                break;
            }
            let oldest = state.segments.pop_front().expect("checked above");
            let _ = std::fs::remove_file(segment_path(&self.dir, oldest.id));
            state.total_bytes -= oldest.bytes;
        }
        drop(state);
        self.space.notify_all();
    }

    /// Counts records found damaged when read back.
    pub fn count_corrupt(&self, records: u64) {
        self.state.lock().unwrap().corrupt_records += records;
    }

    /// Counts records dropped because the buffer was full.
    pub fn count_dropped(&self, records: u64) {
        self.state.lock().unwrap().dropped_full += records;
    }

    /// What it holds now.
    pub fn stats(&self) -> BufferStats {
        let state = self.state.lock().unwrap();
        BufferStats {
            bytes: state.total_bytes,
            batches: state.undelivered.len() as u64,
            oldest_undelivered_ms: state
                .undelivered
                .front()
                .map_or(0, |(_, at)| now_ms().saturating_sub(*at)),
            corrupt_records: state.corrupt_records,
            dropped_full: state.dropped_full,
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &DiskBufferOptions {
        &self.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::disk_buffer::options::WhenFull;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        /// Append a batch of this many records.
        Append(u32),
        /// The sink delivered the oldest pending batch.
        Ack,
        /// The process dies, the last segment losing this many bytes from
        /// its end (0: a clean kill), and starts again.
        Crash(u8),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                4 => (1u32..6).prop_map(Op::Append),
                3 => Just(Op::Ack),
                1 => (0u8..3).prop_map(|cut| Op::Crash(if cut == 2 { 7 } else { 0 })),
            ],
            1..60,
        )
    }

    fn options() -> DiskBufferOptions {
        DiskBufferOptions {
            // Small, so segments roll and get deleted often.
            max_size: 2 << 20,
            when_full: WhenFull::Block,
            sync: SyncPolicy::Interval,
            ..Default::default()
        }
    }

    fn batch(first: u64, count: u32) -> Batch {
        let records: Vec<String> = (0..count)
            .map(|i| {
                format!(
                    "{{\"n\":{},\"pad\":\"{}\"}}",
                    first + u64::from(i),
                    "x".repeat(20_000)
                )
            })
            .collect();
        Batch::from_records(&records, first)
    }

    #[test]
    fn a_damaged_length_in_the_newest_segment_keeps_the_frames_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (buffer, _) = DiskBuffer::open(dir.path(), options(), "t").unwrap();
        let frames: Vec<FrameRef> = (0..5)
            .map(|i| buffer.append(&batch(i * 3, 3)).unwrap())
            .collect();
        drop(buffer);
        let path = segment_path(dir.path(), frames[0].segment);
        let mut bytes = std::fs::read(&path).unwrap();
        // The high byte of frame 2's length: it now claims ~4 GB.
        bytes[frames[2].offset as usize + 7] ^= 0x80;
        std::fs::write(&path, bytes).unwrap();
        let (buffer, recovered) = DiskBuffer::open(dir.path(), options(), "t").unwrap();
        let firsts: Vec<u64> = recovered
            .frames
            .iter()
            .map(|f| f.header.first_sequence)
            .collect();
        assert_eq!(firsts, [0, 3, 9, 12]);
        assert_eq!(buffer.stats().corrupt_records, 3);
        assert_eq!(recovered.next_sequence, 15);
    }

    #[test]
    fn an_ack_entry_cut_short_does_not_hide_the_acks_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (buffer, _) = DiskBuffer::open(dir.path(), options(), "t").unwrap();
        let frames: Vec<FrameRef> = (0..3)
            .map(|i| buffer.append(&batch(i, 1)).unwrap())
            .collect();
        buffer.ack_through(frames[0].header.last_sequence());
        drop(buffer);
        // A crash in the middle of writing the next entry.
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("acked"))
            .unwrap();
        log.write_all(&[0xAB; 7]).unwrap();
        drop(log);
        let (buffer, recovered) = DiskBuffer::open(dir.path(), options(), "t").unwrap();
        assert_eq!(recovered.frames.len(), 2);
        buffer.ack_through(recovered.frames[0].header.last_sequence());
        drop(buffer);
        let (_, recovered) = DiskBuffer::open(dir.path(), options(), "t").unwrap();
        let firsts: Vec<u64> = recovered
            .frames
            .iter()
            .map(|f| f.header.first_sequence)
            .collect();
        assert_eq!(firsts, [2], "the ack written after the repair counts");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the appends, acks and crashes, a reopened buffer hands
        /// back exactly the batches appended and not acknowledged, in
        /// order and intact (but for a last append cut short by the
        /// crash, which is counted as damaged).
        #[test]
        fn no_undelivered_batch_is_lost_or_invented(ops in ops()) {
            let dir = tempfile::tempdir().unwrap();
            let (mut buffer, recovered) = DiskBuffer::open(dir.path(), options(), "t").unwrap();
            prop_assert!(recovered.frames.is_empty());
            let mut next = recovered.next_sequence;
            // (frame, first sequence, count) appended and not acknowledged.
            let mut pending: VecDeque<(FrameRef, u64, u32)> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Append(count) => {
                        let frame = buffer.append(&batch(next, count)).unwrap();
                        pending.push_back((frame, next, count));
                        next += u64::from(count);
                    }
                    Op::Ack => {
                        if let Some((frame, ..)) = pending.pop_front() {
                            buffer.ack_through(frame.header.last_sequence());
                        }
                    }
                    Op::Crash(cut) => {
                        let last_segment = buffer.state.lock().unwrap().segments.back().map(|s| s.id);
                        drop(buffer);
                        let mut torn = None;
                        if cut > 0 && let Some(id) = last_segment {
                            let path = segment_path(dir.path(), id);
                            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                            if len > 0 {
                                std::fs::OpenOptions::new().write(true).open(&path).unwrap()
                                    .set_len(len.saturating_sub(u64::from(cut))).unwrap();
                                torn = pending.back().filter(|(f, ..)| f.segment == id).map(|(f, ..)| f.header.last_sequence());
                            }
                        }
                        let (reopened, recovered) = DiskBuffer::open(dir.path(), options(), "t").unwrap();
                        buffer = reopened;
                        if torn.is_some() {
                            let (_, _, count) = pending.pop_back().unwrap();
                            prop_assert_eq!(buffer.stats().corrupt_records, u64::from(count));
                        }
                        let expected: Vec<(u64, u32)> = pending.iter().map(|(_, first, count)| (*first, *count)).collect();
                        let found: Vec<(u64, u32)> = recovered.frames.iter().map(|f| (f.header.first_sequence, f.header.count)).collect();
                        prop_assert_eq!(&found, &expected);
                        for frame in &recovered.frames {
                            let read = buffer.read(frame).unwrap();
                            prop_assert_eq!(read.first_sequence(), frame.header.first_sequence);
                            prop_assert_eq!(read.records().count() as u32, frame.header.count);
                        }
                        pending = recovered.frames.iter().map(|f| (*f, f.header.first_sequence, f.header.count)).collect();
                        // The numbers of an append cut short may be used
                        // again: none of its records was ever delivered.
                        if torn.is_some() {
                            next = recovered.next_sequence;
                        } else {
                            prop_assert!(recovered.next_sequence >= next);
                            next = recovered.next_sequence;
                        }
                    }
                }
            }
        }
    }
}
