//! Whether sinkbox will be able to create and write a file or directory
//! where a configuration says, checked by `validate` without leaving
//! anything behind: so a path under a regular file, under `/proc`, or in a
//! directory nobody may write is reported before the run, naming the
//! option.

use std::path::Path;

/// What the path is meant to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathUse {
    /// A file sinkbox creates (with its missing directories) and appends to.
    File,
    /// A directory sinkbox creates and writes files in.
    Directory,
}

/// `Ok` if sinkbox can create and write `path`; else what stands in the
/// way and what to do.
pub(crate) fn check_writable(path: &Path, meant: PathUse) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            match (meant, meta.is_dir()) {
                (PathUse::File, true) => {
                    return Err(format!(
                        "`{}` is a directory; give the path of a file in it",
                        path.display()
                    ));
                }
                (PathUse::Directory, false) => {
                    return Err(format!(
                        "`{}` exists and is not a directory; give a directory, or move the file away",
                        path.display()
                    ));
                }
                _ => {}
            }
            if meant == PathUse::File {
                return std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map(drop)
                    .map_err(|e| format!("cannot write to `{}`: {e}", path.display()));
            }
            probe_directory(path, path)
        }
        Err(_) => {
            // The nearest part of the path that exists must be a directory
            // sinkbox may create things in.
            let mut existing = path.parent();
            while let Some(dir) = existing {
                if dir.as_os_str().is_empty() {
                    existing = Some(Path::new("."));
                    break;
                }
                if std::fs::symlink_metadata(dir).is_ok() {
                    break;
                }
                existing = dir.parent();
            }
            let dir = existing.unwrap_or(Path::new("/"));
            match std::fs::metadata(dir) {
                Ok(meta) if !meta.is_dir() => Err(format!(
                    "`{}` cannot be created: `{}` is a file, not a directory; choose a path outside it",
                    path.display(),
                    dir.display()
                )),
                Ok(_) => probe_directory(dir, path),
                Err(e) => Err(format!(
                    "`{}` cannot be created: `{}`: {e}",
                    path.display(),
                    dir.display()
                )),
            }
        }
    }
}

/// Creates and removes a file in `dir`, the one sure test that files can
/// be made there (permissions, a read-only mount, `/proc`).
fn probe_directory(dir: &Path, wanted: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".sinkbox-validate-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(file) => {
            drop(file);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "`{}` cannot be created: nothing can be written in `{}` ({e}); choose a directory sinkbox may write in",
            wanted.display(),
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_cannot_be_written_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(
            check_writable(&dir.path().join("new/out.ndjson"), PathUse::File),
            Ok(())
        );
        assert_eq!(check_writable(&file, PathUse::File), Ok(()));
        let under_file = check_writable(&file.join("out.ndjson"), PathUse::File).unwrap_err();
        assert!(
            under_file.contains("is a file, not a directory"),
            "{under_file}"
        );
        let proc =
            check_writable(Path::new("/proc/sinkbox/out.ndjson"), PathUse::File).unwrap_err();
        assert!(proc.contains("cannot be created"), "{proc}");
        let as_dir = check_writable(&file, PathUse::Directory).unwrap_err();
        assert!(as_dir.contains("is not a directory"), "{as_dir}");
        let as_file = check_writable(dir.path(), PathUse::File).unwrap_err();
        assert!(as_file.contains("is a directory"), "{as_file}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "the probe is removed"
        );
    }
}
