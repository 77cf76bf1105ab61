//! Opening a native sink's file without following a symlink at its last
//! component: a sink writes only to files it creates or found as regular
//! files, never through a link someone planted (for example a sandboxed
//! sink with a grant beside the file).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` with `options` plus `O_NOFOLLOW`; a symlink is refused with
/// an error that says so.
pub(crate) fn open_no_follow(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    options
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|err| {
            if err.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other(format!(
                    "`{}` is a symlink; sinkbox does not write through a symlink it did not create (point the sink at the real file)",
                    path.display()
                ))
            } else {
                err
            }
        })
}
