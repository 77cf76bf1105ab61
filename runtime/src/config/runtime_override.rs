//! `[runtime]` settings from the environment (`SINKBOX_RUNTIME__DATA_DIR`,
//! `SINKBOX_RUNTIME__BATCH__MAX_RECORDS`) and the command line
//! (`--set runtime.data_dir=…`, `--set runtime.batch.timeout=…`), over
//! the file, as for a sink's options.

use std::path::Path;

use super::model::RuntimeConfig;
use crate::registry::config_error::ConfigError;

/// The keys that may be overridden, dotted as in `--set`.
const KEYS: &[&str] = &[
    "data_dir",
    "cache_dir",
    "cache_max_size",
    "max_component_size",
    "flush_interval",
    "incremental_compilation",
    "batch.max_records",
    "batch.max_bytes",
    "batch.timeout",
];

/// Sets `key` (dotted, lower-case, as in `--set runtime.<key>`) to the
/// text `value`; `origin` names where it came from in errors. Relative
/// paths follow `cwd`.
pub(crate) fn apply(
    runtime: &mut RuntimeConfig,
    key: &str,
    value: &str,
    origin: &str,
    cwd: &Path,
) -> Result<(), ConfigError> {
    let error = |message: String| ConfigError {
        origin: origin.to_owned(),
        line: None,
        path: format!("runtime.{key}"),
        message,
    };
    let size = || {
        value
            .parse::<bytesize::ByteSize>()
            .map(|s| s.as_u64())
            .map_err(|_| error(format!("`{value}` is not a size; write a number of bytes or one with a unit, such as \"64MiB\"")))
    };
    let duration = || {
        let text = value.trim();
        text.parse::<u64>()
            .map(std::time::Duration::from_secs)
            .or_else(|_| humantime::parse_duration(text))
            .map_err(|_| error(format!("`{value}` is not a duration; write one such as \"250ms\" or \"2s\" (a bare number is seconds)")))
    };
    let path = || {
        let path = Path::new(value);
        if path.is_relative() {
            cwd.join(path)
        } else {
            path.to_owned()
        }
    };
    match key {
        "data_dir" => runtime.data_dir = path(),
        "cache_dir" => runtime.cache_dir = Some(path()),
        "cache_max_size" => runtime.cache_max_size = size()?,
        "max_component_size" => runtime.max_component_size = size()?,
        "flush_interval" => runtime.flush_interval = duration()?,
        "incremental_compilation" => {
            runtime.incremental_compilation = match value.trim() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(error(format!(
                        "`{value}` is not a boolean; write true or false"
                    )));
                }
            }
        }
        "batch.max_records" => {
            runtime.batch.max_records =
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        error(format!(
                            "`{value}` is not a number of records from 1, such as 1024"
                        ))
                    })?
        }
        "batch.max_bytes" => runtime.batch.max_bytes = size()?,
        "batch.timeout" => runtime.batch.timeout = duration()?,
        _ => {
            return Err(error(format!(
                "`{key}` cannot be set this way; the [runtime] settings that can: {}",
                KEYS.join(", ")
            )));
        }
    }
    Ok(())
}

/// The dotted key of `SINKBOX_RUNTIME__…`, if it is one.
pub(crate) fn env_key(variable: &str) -> Option<String> {
    let rest = variable.strip_prefix("SINKBOX_RUNTIME__")?;
    Some(rest.to_ascii_lowercase().replace("__", "."))
}
