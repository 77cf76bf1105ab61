//! Compressing rotated files off the writing thread.

use super::naming::prune;
use crate::sinks::util::no_follow::open_no_follow;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Gzips rotated files on its own thread, so compression never slows writes,
/// then prunes. `finish` waits for the queue to drain.
pub(crate) struct Compressor {
    queue: Option<Sender<PathBuf>>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    pub(crate) fn start(
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

    pub(crate) fn submit(&self, path: PathBuf) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(path);
        }
    }

    pub(crate) fn finish(mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `path` becomes `path.gz` (written to `path.gz.tmp`, synced, renamed).
pub(crate) fn gzip(path: &Path) -> std::io::Result<()> {
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
