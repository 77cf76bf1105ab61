//! Prepares the pages just ahead of an `MmapWriter` in chunks, so its copies
//! do not each stop for a page fault on first touch of a 4 KiB page.
//!
//! It uses `madvise(MADV_POPULATE_WRITE)` (Linux 5.14+), which prepares
//! pages as a write would without changing their contents. Preparing a few
//! MiB per call costs less than taking the same faults one by one from the
//! copy. A helper thread doing it ahead of the writer made no measurable
//! difference on 2 cores, so the writer does it itself; figures in
//! `docs/benchmarks.md`.

/// Bytes prepared per system call.
pub(crate) const CHUNK: usize = 8 << 20;

/// Prepares `[from, until)` of the mapping at `base`. A kernel that cannot
/// (older than 5.14) answers with an error, and the pages fault in as they
/// are written, as in any map.
pub(crate) fn populate(base: *const u8, from: usize, until: usize) {
    if until <= from {
        return;
    }
    // SAFETY: MADV_POPULATE_WRITE only prepares page tables and never
    // changes memory contents; the caller's range lies inside its live map.
    unsafe {
        libc::madvise(
            (base as usize + from) as *mut libc::c_void,
            until - from,
            libc::MADV_POPULATE_WRITE,
        );
    }
}
