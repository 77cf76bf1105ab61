//! Which files hold a sink's dead letters, oldest first.

use std::path::{Path, PathBuf};

/// The dead-letter directory under a data dir.
pub(crate) fn dead_letter_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("dead-letter")
}

/// `<sink>.ndjson.<n>` for `n` ascending, then `<sink>.ndjson`: the order
/// they were written in. Missing files are left out.
pub(crate) fn files_of(dir: &Path, sink: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut rotated: Vec<(u64, PathBuf)> = Vec::new();
    let prefix = format!("{sink}.ndjson.");
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|name| name.strip_prefix(&prefix))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok())
        {
            rotated.push((n, entry.path()));
        }
    }
    rotated.sort();
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, path)| path).collect();
    let active = dir.join(format!("{sink}.ndjson"));
    if active.is_file() {
        files.push(active);
    }
    Ok(files)
}

/// The sinks that have dead-letter files in `dir`, sorted.
pub(crate) fn sinks_in(dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut sinks = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let sink = match name.rsplit_once(".ndjson") {
            Some((sink, "")) => sink,
            Some((sink, n)) if n.len() > 1 && n[1..].bytes().all(|b| b.is_ascii_digit()) => sink,
            _ => continue,
        };
        if crate::sink_name::check_sink_name(sink).is_ok() && !sinks.iter().any(|s| s == sink) {
            sinks.push(sink.to_owned());
        }
    }
    sinks.sort();
    Ok(sinks)
}
