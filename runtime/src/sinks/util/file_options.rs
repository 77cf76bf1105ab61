//! The options every file-writing sink type declares (`file` and
//! `rotating_file`).

use crate::registry::option_spec::{OptionKind, OptionSpec};

/// What every file-writing type declares.
pub(crate) const FILE_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("path", OptionKind::Path)
        .required()
        .written()
        .help("the file; missing directories are created"),
    OptionSpec::new("sync_on_flush", OptionKind::Bool)
        .default("true")
        .help("fsync the file on every flush"),
];
