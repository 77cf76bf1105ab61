//! `sinkbox run --input FILE --follow`: reads a file that keeps growing,
//! like `tail -F`. At the end it waits for more; when the file is replaced
//! (log rotation: a new file at the path) it reads what was left of the
//! old one, then the new one from the start; when it is truncated in
//! place (`copytruncate`), it starts again from the beginning.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

/// How often a follower at the end looks for more.
const POLL: Duration = Duration::from_millis(200);

/// A reader that never ends: it waits at the end of the file for more.
pub struct FollowReader {
    path: PathBuf,
    file: File,
    /// Device and inode of the open file, to notice a replacement.
    identity: (u64, u64),
    position: u64,
}

impl FollowReader {
    /// Follows `path` from its start.
    pub fn open(path: PathBuf) -> io::Result<Self> {
        let file = File::open(&path)?;
        let meta = file.metadata()?;
        Ok(Self {
            path,
            file,
            identity: (meta.dev(), meta.ino()),
            position: 0,
        })
    }

    /// At the end of the open file: switches to a new file at the path, or
    /// back to the start of a truncated one. `true` if it did.
    fn rotated(&mut self) -> io::Result<bool> {
        let Ok(now) = std::fs::metadata(&self.path) else {
            // Moved away and not yet replaced: keep waiting.
            return Ok(false);
        };
        if (now.dev(), now.ino()) != self.identity {
            // Written to just before it was moved away: read that first.
            if self.file.metadata()?.len() > self.position {
                return Ok(true);
            }
            let file = File::open(&self.path)?;
            let meta = file.metadata()?;
            self.file = file;
            self.identity = (meta.dev(), meta.ino());
            self.position = 0;
            return Ok(true);
        }
        if now.len() < self.position {
            use std::io::Seek;
            self.file.seek(io::SeekFrom::Start(0))?;
            self.position = 0;
            return Ok(true);
        }
        Ok(false)
    }
}

impl Read for FollowReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 {
                self.position += n as u64;
                return Ok(n);
            }
            // The end of the open file: what is left of it was read, so a
            // rotation loses nothing.
            if !self.rotated()? {
                std::thread::sleep(POLL);
            }
        }
    }
}
