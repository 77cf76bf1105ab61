//! The `file` sink type: its options, and which sink they make (a plain
//! file, or a rotating one when a rotation option is set).

use super::sink::{FileSink, FileSinkOptions};
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::sinks::rotating_file::config::{ROTATION_OPTIONS, rotating_options};
use crate::sinks::rotating_file::sink::RotatingFileSink;
use crate::sinks::util::file_options::FILE_OPTIONS;

/// The `file` sink type for the registry. It declares the rotation options
/// too: setting any of them makes it a [`RotatingFileSink`], so
/// `file:///var/log/app.log?max_bytes=10MB` rotates.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "file",
        "appends every record as one JSON line to a file; rotation options make it a rotating_file",
        |options, _context| {
            let rotating = ROTATION_OPTIONS.iter().any(|spec| options.is_set(spec.name));
            if !rotating {
                return Ok(Box::new(FileSink::new(FileSinkOptions {
                    path: options.require_path("path")?,
                    sync_on_flush: options.bool("sync_on_flush")?,
                })));
            }
            let rotation = rotating_options(options)?;
            if rotation.max_bytes.is_none() && rotation.interval.is_none() {
                for option in ["max_files", "compress"] {
                    if options.is_set(option) {
                        return Err(options.invalid(
                            option,
                            "only applies when the file rotates; also set `max_bytes` or `interval`",
                        ));
                    }
                }
            }
            Ok(Box::new(RotatingFileSink::new(rotation)))
        },
    )
    .options(FILE_OPTIONS)
    .options(ROTATION_OPTIONS)
    .uri(UriForm {
        schemes: &["file"],
        target: UriTarget::Path("path"),
        rest_into: None,
    })
}
