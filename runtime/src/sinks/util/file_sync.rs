//! Flushing a file sink's buffered bytes, and syncing them when asked.

use std::fs::File;

use crate::sink::FlushOutcome;

/// The flush of a file sink: `fatal` without an open file (only a restart
/// reopens it), else an `fsync` of the data when `sync_on_flush` is set and
/// something was written since the last one. Shared by the file sinks.
pub(crate) fn flush_file(
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
