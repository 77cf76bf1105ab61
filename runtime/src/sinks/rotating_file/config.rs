//! The `rotating_file` sink type and the rotation options it shares with
//! `file`.

use super::sink::{FileMode, RotatingFileSink, RotatingFileSinkOptions};
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::sinks::util::file_options::FILE_OPTIONS;
use std::time::Duration;

/// The options that make a file rotate, shared by `file` and `rotating_file`.
pub(crate) const ROTATION_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("max_bytes", OptionKind::Size)
        .help("rotate before a record would take the file past this size"),
    OptionSpec::new(
        "interval",
        OptionKind::Text(
            "\"hourly\", \"daily\", a number of seconds, or a duration such as \"15m\"",
        ),
    )
    .help("rotate at every multiple of this period, in UTC from the Unix epoch: hourly, daily, seconds, or a duration such as 15m"),
    OptionSpec::new("max_files", OptionKind::Integer)
        .default("5")
        .help("rotated files kept; older ones are deleted"),
    OptionSpec::new("compress", OptionKind::Bool)
        .default("false")
        .help("gzip rotated files on a background thread, never on the write path"),
    OptionSpec::new("mode", OptionKind::Choice(&["json", "text"]))
        .default("json")
        .help("json: the records as received; text: the same lines as stdout_pretty, without colour"),
];

/// The `rotating_file` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "rotating_file",
        "JSON or text lines in a file rotated by size and/or time, with retention and gzip",
        |options, _context| {
            let rotation = rotating_options(options)?;
            rotation
                .validate()
                .map_err(|message| options.invalid_sink(message))?;
            Ok(Box::new(RotatingFileSink::new(rotation)))
        },
    )
    .options(FILE_OPTIONS)
    .options(ROTATION_OPTIONS)
    .uri(UriForm {
        schemes: &["rotating-file"],
        target: UriTarget::Path("path"),
        rest_into: None,
    })
}

/// Reads [`RotatingFileSinkOptions`] from a sink's parsed options.
pub(crate) fn rotating_options(
    options: &SinkOptions,
) -> Result<RotatingFileSinkOptions, ConfigError> {
    let max_bytes = options.size("max_bytes")?;
    if max_bytes == Some(0) {
        return Err(options.invalid("max_bytes", "must be more than zero, such as \"10MB\""));
    }
    let max_files = options.integer_or_default("max_files")?;
    Ok(RotatingFileSinkOptions {
        path: options.require_path("path")?,
        max_bytes,
        interval: options.parse_text("interval", parse_interval)?,
        max_files: usize::try_from(max_files)
            .map_err(|_| options.invalid("max_files", "too large"))?,
        compress: options.bool("compress")?,
        mode: match options.string("mode")?.as_deref() {
            Some("text") => FileMode::Text,
            _ => FileMode::Json,
        },
        sync_on_flush: options.bool("sync_on_flush")?,
    })
}

/// Parses `"hourly"`, `"daily"`, seconds, or a duration such as `"15m"`.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let expected =
        "expected \"hourly\", \"daily\", a number of seconds, or a duration such as \"15m\"";
    let period = match text {
        "hourly" => Duration::from_secs(3600),
        "daily" => Duration::from_secs(86_400),
        other => match other.parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => humantime::parse_duration(other)
                .map_err(|_| format!("`{other}` is not an interval; {expected}"))?,
        },
    };
    if period.as_secs() == 0 || period.as_secs() > 366 * 86_400 {
        return Err(format!(
            "the interval must be between one second and a year; {expected}"
        ));
    }
    Ok(period)
}
