//! `MmapWriter`: appends bytes to a file through a memory map. A building
//! block for embedders' own sinks; the `mmap` sink wraps it.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::prefault::{CHUNK, populate};
use crate::sink::Health;

/// When an [`MmapWriter`] forces its pages to disk (`msync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Never; the kernel writes pages back on its own schedule. Survives a
    /// process crash, not a power loss.
    None,
    /// On every [`MmapWriter::flush`] (and on close).
    OnFlush,
    /// Whenever this many bytes were appended since the last sync, and on
    /// flush and close.
    EveryBytes(u64),
}

/// How an [`MmapWriter`] sizes and syncs its file.
#[derive(Clone, Debug, PartialEq)]
pub struct MmapWriterOptions {
    /// The file's size when it is created (rounded up to a page).
    pub initial_size: u64,
    /// By how much the file grows when full (1.1 to 16).
    pub growth_factor: f64,
    /// When pages are synced to disk.
    pub sync: SyncPolicy,
}

impl Default for MmapWriterOptions {
    fn default() -> Self {
        Self {
            initial_size: 64 * 1024 * 1024,
            growth_factor: 2.0,
            sync: SyncPolicy::OnFlush,
        }
    }
}

/// Where the data of a file left by a crash ends: at its first zero byte.
/// Everything after it (the rest of a torn copy, later copies) is zeroed,
/// so an append that writes less than that leaves no stale bytes behind for
/// a later recovery to read. Returns the end and how many bytes after it
/// were zeroed.
fn recover_end(data: &mut [u8]) -> (u64, usize) {
    let Some(last) = data.iter().rposition(|b| *b != 0) else {
        return (0, 0);
    };
    let end = memchr::memchr(0, &data[..=last]).unwrap_or(last + 1);
    data[end..=last].fill(0);
    (end as u64, last + 1 - end)
}

/// Appends to a file through a memory map: each append is a `memcpy` into
/// the page cache; one system call per 8 MiB prepares the pages ahead.
/// For raw throughput on Linux the `file` sink (`write(2)`) measured faster
/// (see `docs/benchmarks.md`); this writer's appends never enter the
/// kernel, and what was copied survives a crash of the process.
///
/// The file is pre-sized (`initial_size`) and grows by `growth_factor` when
/// full. [`MmapWriter::close`] trims it to the bytes written. After a crash
/// the file keeps its zero-filled tail, and a copy the crash cut short may
/// have left a hole of zeros (a large `memcpy` stores its head last), so
/// [`MmapWriter::open`] takes the data to end at the first zero byte, zeroes
/// whatever lies after it, and appends from there: neither the padding nor
/// a torn copy is ever read as data. Data that holds a zero byte would be
/// cut there across a crash: use it for text such as JSON lines.
pub struct MmapWriter {
    path: PathBuf,
    file: File,
    map: Option<MmapMut>,
    options: MmapWriterOptions,
    /// Bytes of data in the file; appends go here.
    len: u64,
    /// The file's (and the map's) current size.
    capacity: u64,
    /// Start of the bytes appended since the last sync.
    synced_to: u64,
    failed: Option<String>,
    /// Pages before this offset were prepared (or tried).
    ready_until: u64,
}

/// Largest file the writer will size: far beyond any log, far below overflow.
const MAX_FILE: u64 = 1 << 50;

fn page_round(n: u64) -> io::Result<u64> {
    const PAGE: u64 = 4096;
    if n > MAX_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{n} bytes is past the largest file the mmap writer sizes ({MAX_FILE} bytes)"),
        ));
    }
    Ok(n.div_ceil(PAGE).max(1) * PAGE)
}

/// Gives the file the blocks for `[from, to)` now, so that a full disk is an
/// error here instead of a SIGBUS when a mapped page is first written.
fn reserve(file: &File, from: u64, to: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    if to <= from {
        return file.set_len(to);
    }
    // SAFETY: a plain system call on a descriptor this writer owns.
    let result = unsafe {
        libc::posix_fallocate(
            file.as_raw_fd(),
            from as libc::off_t,
            (to - from) as libc::off_t,
        )
    };
    match result {
        0 => Ok(()),
        // File systems without fallocate: size the file sparsely instead.
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(to),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

impl MmapWriter {
    /// Opens (creating if missing, with missing directories) `path` for
    /// appending, finding the end of the data a previous writer left.
    pub fn open(path: impl AsRef<Path>, options: MmapWriterOptions) -> io::Result<Self> {
        let path = path.as_ref().to_owned();
        if !(1.1..=16.0).contains(&options.growth_factor) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "growth_factor must be a number from 1.1 to 16, not {}",
                    options.growth_factor
                ),
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = crate::sinks::util::no_follow::open_no_follow(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
            &path,
        )?;
        let existing = file.metadata()?.len();
        let capacity = page_round(existing.max(options.initial_size))?;
        if capacity != existing {
            reserve(&file, existing, capacity)?;
        }
        // SAFETY: the map is only used while this writer owns the file; other
        // processes changing the file underneath it is outside its contract
        // (the same as for any mmap-based writer).
        let mut map = unsafe { MmapMut::map_mut(&file)? };
        // No readahead on faults: new pages then come one at a time from
        // the allocator's hot lists instead of as large zero-filled folios,
        // which on a VM that hands free memory back to its host cost several
        // times more to zero (see docs/benchmarks.md). Only a hint.
        let _ = map.advise(memmap2::Advice::Random);
        let (len, scrubbed) = recover_end(&mut map[..existing as usize]);
        if scrubbed > 0 {
            // On disk too, so a power loss before the next sync cannot bring
            // the torn bytes back past data appended later.
            map.flush_range(len as usize, scrubbed)?;
        }
        Ok(Self {
            path,
            file,
            map: Some(map),
            options,
            len,
            capacity,
            synced_to: len,
            failed: None,
            ready_until: 0,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of data written so far (not counting the zero-filled reserve).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no data has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the file is mapped and usable (a failed grow can leave it not).
    pub fn is_open(&self) -> bool {
        self.map.is_some()
    }

    /// The data written so far.
    pub fn data(&self) -> &[u8] {
        self.map
            .as_ref()
            .map_or(&[], |map| &map[..self.len as usize])
    }

    /// Drops a last line that has no newline (a record cut short by a crash)
    /// and returns how many bytes it had. Zeroes them, so a later crash does
    /// not bring them back.
    pub fn discard_partial_line(&mut self) -> u64 {
        let Some(map) = self.map.as_mut() else {
            return 0;
        };
        let data = &map[..self.len as usize];
        if data.last().is_none_or(|b| *b == b'\n') {
            return 0;
        }
        let keep = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
        map[keep..self.len as usize].fill(0);
        // Flushed, so the cut-off bytes cannot come back after a power loss.
        map.flush_range(keep, self.len as usize - keep).ok();
        let dropped = self.len - keep as u64;
        self.len = keep as u64;
        self.synced_to = self.synced_to.min(self.len);
        dropped
    }

    /// Appends `bytes`, growing the file if needed.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.append_parts(bytes, &[])
    }

    /// Appends `bytes` followed by a newline, as one reservation.
    pub fn append_line(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.append_parts(bytes, b"\n")
    }

    fn append_parts(&mut self, head: &[u8], tail: &[u8]) -> io::Result<()> {
        let needed = (head.len() + tail.len()) as u64;
        if self.len + needed > self.capacity {
            self.grow(self.len + needed)?;
        }
        if self.len + needed > self.ready_until {
            self.prepare(self.len + needed);
        }
        let map = self.map.as_mut().ok_or_else(closed)?;
        let start = self.len as usize;
        map[start..start + head.len()].copy_from_slice(head);
        map[start + head.len()..start + head.len() + tail.len()].copy_from_slice(tail);
        self.len += needed;
        if let SyncPolicy::EveryBytes(every) = self.options.sync
            && self.len - self.synced_to >= every
            && let Err(err) = self.sync()
        {
            // The bytes are in the map already: report through health and
            // let the next flush retry the sync, rather than have the caller
            // append them a second time.
            self.failed = Some(format!("cannot sync `{}`: {err}", self.path.display()));
        }
        Ok(())
    }

    /// Prepares the pages up to `end`, one chunk or more, before the copy.
    fn prepare(&mut self, end: u64) {
        let Some(map) = &self.map else { return };
        let from = self.ready_until.max(self.len) & !4095;
        let until = end.max(from + CHUNK as u64).min(self.capacity);
        populate(map.as_ptr(), from as usize, until as usize);
        self.ready_until = until;
    }

    fn grow(&mut self, at_least: u64) -> io::Result<()> {
        let grown = (self.capacity as f64 * self.options.growth_factor).min(MAX_FILE as f64) as u64;
        let capacity = page_round(grown.max(at_least))?;
        let map = self.map.as_mut().ok_or_else(closed)?;
        // The file grows under the live map (it never shrinks while mapped);
        // the map is then extended in place or moved by the kernel with its
        // prepared pages (mremap), instead of unmapped and faulted in again.
        let result = reserve(&self.file, self.capacity, capacity).and_then(|()| {
            // SAFETY: the map covers only the file, which now holds
            // `capacity` bytes; no reference into the old map outlives this
            // call (appends borrow the map only while copying).
            unsafe {
                map.remap(
                    capacity as usize,
                    memmap2::RemapOptions::new().may_move(true),
                )
            }
        });
        match result {
            Ok(()) => {
                self.capacity = capacity;
                Ok(())
            }
            Err(err) => {
                self.failed = Some(format!(
                    "cannot grow `{}` to {capacity} bytes: {err}",
                    self.path.display()
                ));
                // The old map and the data written stay as they were.
                Err(err)
            }
        }
    }

    /// Forces the bytes appended since the last sync to disk.
    fn sync(&mut self) -> io::Result<()> {
        let map = self.map.as_ref().ok_or_else(closed)?;
        if self.len > self.synced_to {
            let start = self.synced_to as usize;
            map.flush_range(start, self.len as usize - start)?;
            self.synced_to = self.len;
        }
        Ok(())
    }

    /// Applies the sync policy: syncs unless it is [`SyncPolicy::None`].
    /// Idempotent.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.options.sync == SyncPolicy::None {
            return Ok(());
        }
        self.sync().inspect_err(|err| {
            self.failed = Some(format!("cannot sync `{}`: {err}", self.path.display()));
        })
    }

    /// Flushes, unmaps and trims the file to the data written.
    pub fn close(mut self) -> io::Result<()> {
        self.close_in_place()
    }

    fn close_in_place(&mut self) -> io::Result<()> {
        if self.map.is_none() {
            return Ok(());
        }
        self.flush()?;
        drop(self.map.take());
        self.file.set_len(self.len)?;
        if self.options.sync != SyncPolicy::None {
            self.file.sync_all()?;
        }
        Ok(())
    }

    /// Healthy while open and no write, grow or sync has failed.
    pub fn health(&self) -> Health {
        match (&self.map, &self.failed) {
            (_, Some(why)) => Health::Unhealthy(why.clone()),
            (None, None) => Health::Unhealthy("the writer is closed".into()),
            (Some(_), None) => Health::Healthy,
        }
    }
}

impl Drop for MmapWriter {
    fn drop(&mut self) {
        if let Err(err) = self.close_in_place() {
            tracing::warn!(path = %self.path.display(), "closing the mmap writer failed: {err}");
        }
    }
}

fn closed() -> io::Error {
    io::Error::other("the mmap writer is closed")
}
