//! Where a configuration value came from, and what a configuration error
//! says: the vocabulary every parser and sink constructor shares.

use std::path::{Path, PathBuf};

/// Where a value came from: a file and line, an environment variable, or a
/// command-line flag; and the directory its relative paths resolve against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpot {
    /// `app.toml`, `SINKBOX_APPLOG__PATH`, `--sink ...` or `--set ...`.
    pub origin: String,
    /// The 1-based line, for files.
    pub line: Option<usize>,
    /// Where relative paths are resolved.
    pub base_dir: PathBuf,
}

impl SourceSpot {
    pub(crate) fn new(origin: impl Into<String>, line: Option<usize>, base_dir: &Path) -> Self {
        Self {
            origin: origin.into(),
            line,
            base_dir: base_dir.to_owned(),
        }
    }

    pub(crate) fn error(&self, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.origin.clone(),
            line: self.line,
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A configuration problem: where it is and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {}{message}",
    line.map(|l| format!(":{l}")).unwrap_or_default(),
    if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ConfigError {
    /// The file, environment variable or flag (`<inline>` for text).
    pub origin: String,
    /// The 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The field path, such as `sinks.applog.path`; empty for the whole file.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}
