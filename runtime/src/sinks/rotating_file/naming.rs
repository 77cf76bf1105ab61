//! How rotated files are named, found and ordered, and how many are kept.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `<dir>/<name>.<YYYYMMDDTHHMMSSZ>`, or with `-N` when rotated files of
/// that second exist: `N` is one more than the highest present, so a name is
/// never reused after retention deleted an older file of the same second.
pub(crate) fn rotated_name(active: &Path, now: SystemTime) -> PathBuf {
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
pub(crate) fn is_rotation_suffix(rest: &str) -> bool {
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
pub(crate) fn rotation_order(prefix: &str, path: &Path) -> (String, u64) {
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
pub(crate) fn prune(active: &Path, keep: usize) -> std::io::Result<()> {
    let files = rotated_files(active)?;
    for old in &files[..files.len().saturating_sub(keep)] {
        match std::fs::remove_file(old) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
    }
    Ok(())
}
