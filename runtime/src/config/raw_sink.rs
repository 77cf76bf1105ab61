//! A sink as gathered from the file, URIs, env and flags, before it is
//! checked against its type: every entry keeps where it came from.

use super::model::SinkConfig;
use crate::pipeline::{OverflowPolicy, RetryPolicy, SinkSettings};
use crate::registry::common_options::COMMON_OPTIONS;
use crate::registry::config_error::{ConfigError, SourceSpot};
use crate::registry::option_spec::{OptionSpec, OptionValue};
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_registry::SinkRegistry;
use crate::registry::suggest::did_you_mean;

/// A value as written: a TOML value from the file, or text from a URI, an
/// environment variable or a flag.
#[derive(Clone, Debug)]
pub(crate) enum RawValue {
    Toml(toml::Value),
    Text(String),
}

#[derive(Clone, Debug)]
pub(crate) struct RawSink {
    pub name: String,
    pub spot: SourceSpot,
    entries: Vec<(String, RawValue, SourceSpot)>,
}

impl RawSink {
    pub fn new(name: &str, spot: SourceSpot) -> Self {
        Self {
            name: name.to_owned(),
            spot,
            entries: Vec::new(),
        }
    }

    /// Sets `option`, replacing an earlier value (a later source wins).
    pub fn set(&mut self, option: &str, value: RawValue, spot: SourceSpot) {
        self.entries.retain(|(key, _, _)| key != option);
        self.entries.push((option.to_owned(), value, spot));
    }

    /// Sets one key of a table option (`config.min_level=warn`), keeping
    /// its other keys.
    pub fn set_table_key(&mut self, option: &str, key: &str, text: &str, spot: SourceSpot) {
        let mut table = match self.entries.iter().find(|(k, _, _)| k == option) {
            Some((_, RawValue::Toml(toml::Value::Table(table)), _)) => table.clone(),
            _ => toml::Table::new(),
        };
        table.insert(key.to_owned(), toml::Value::String(text.to_owned()));
        self.set(option, RawValue::Toml(toml::Value::Table(table)), spot);
    }

    fn error(
        &self,
        path_suffix: &str,
        spot: &SourceSpot,
        message: impl Into<String>,
    ) -> ConfigError {
        let path = if path_suffix.is_empty() {
            format!("sinks.{}", self.name)
        } else {
            format!("sinks.{}.{path_suffix}", self.name)
        };
        spot.error(path, message)
    }

    /// Checks every entry against the type's declared options and parses it.
    pub fn finish(self, registry: &SinkRegistry) -> Result<SinkConfig, ConfigError> {
        let known_types = || {
            registry
                .types()
                .iter()
                .map(|t| format!("`{}`", t.name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (type_name, type_spot) = match self.entries.iter().find(|(k, _, _)| k == "type") {
            Some((_, RawValue::Toml(toml::Value::String(name)), spot))
            | Some((_, RawValue::Text(name), spot)) => (name.clone(), spot.clone()),
            Some((_, _, spot)) => {
                return Err(self.error(
                    "type",
                    spot,
                    format!("expected a string, one of {}", known_types()),
                ));
            }
            None => {
                return Err(self.error(
                    "type",
                    &self.spot,
                    format!(
                        "missing; every sink needs `type = \"...\"`, one of {}",
                        known_types()
                    ),
                ));
            }
        };
        let Some(sink_type) = registry.get(&type_name) else {
            let mut message = format!(
                "unknown sink type `{type_name}`; known types: {}",
                known_types()
            );
            if let Some(close) = did_you_mean(&type_name, registry.types().iter().map(|t| t.name()))
            {
                message.push_str(&format!(" (did you mean `{close}`?)"));
            }
            return Err(self.error("type", &type_spot, message));
        };
        let mut options = SinkOptions::new(&self.name, sink_type.option_list(), self.spot.clone());
        let mut common = SinkOptions::new(&self.name, COMMON_OPTIONS.into(), self.spot.clone());
        for (key, value, spot) in &self.entries {
            if key == "type" {
                continue;
            }
            let (target, spec): (&mut SinkOptions, &OptionSpec) = if let Some(spec) =
                COMMON_OPTIONS.iter().find(|s| s.name == key)
            {
                (&mut common, spec)
            } else if let Some(spec) = sink_type.option_specs().iter().find(|s| s.name == key) {
                (&mut options, spec)
            } else {
                let valid: Vec<&str> = sink_type.option_specs().iter().map(|s| s.name).collect();
                let mut message = format!("unknown option `{key}` for a `{type_name}` sink");
                if let Some(close) = did_you_mean(
                    key,
                    valid
                        .iter()
                        .copied()
                        .chain(COMMON_OPTIONS.iter().map(|s| s.name)),
                ) {
                    message.push_str(&format!(" (did you mean `{close}`?)"));
                }
                if valid.is_empty() {
                    message.push_str(&format!("; `{type_name}` has no options of its own"));
                } else {
                    message.push_str(&format!("; its options are {}", valid.join(", ")));
                }
                message.push_str(&format!(
                    "; every sink also accepts {}",
                    COMMON_OPTIONS
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                return Err(self.error(key, spot, message));
            };
            let parsed = match value {
                RawValue::Toml(value) => spec.kind.parse_toml(value, &spot.base_dir),
                RawValue::Text(text) => spec.kind.parse_text(text, &spot.base_dir),
            };
            let parsed: OptionValue = parsed.map_err(|message| self.error(key, spot, message))?;
            target.set(key, parsed, spot.clone());
        }
        for spec in sink_type.option_specs() {
            if spec.required && !options.is_set(spec.name) {
                return Err(self.error(
                    spec.name,
                    &self.spot,
                    format!(
                        "missing; a `{type_name}` sink needs `{}` ({}): {}",
                        spec.name,
                        spec.kind.expected(),
                        spec.help
                    ),
                ));
            }
        }
        let count = |option: &str| -> Result<u32, ConfigError> {
            let n = common.integer_or_default(option)?;
            u32::try_from(n).map_err(|_| common.invalid(option, "too large"))
        };
        let max_retries = match common.integer("max_retries")? {
            Some(n) => {
                Some(u32::try_from(n).map_err(|_| common.invalid("max_retries", "too large"))?)
            }
            None => None,
        };
        let retry = RetryPolicy {
            max_retries,
            max_retry_duration: common.duration("max_retry_duration")?,
            initial_backoff: common.duration_or_default("initial_backoff")?,
            max_backoff: common.duration_or_default("max_backoff")?,
            max_restarts: count("max_restarts")?,
        };
        let queue_capacity = common.integer_or_default("queue_capacity")?;
        let dead_letter_max_bytes = common.size_or_default("dead_letter_max_bytes")?;
        if dead_letter_max_bytes < 64 * 1024 {
            return Err(common.invalid(
                "dead_letter_max_bytes",
                "must be at least 64KiB; the default is \"256MiB\"",
            ));
        }
        let optional = common.bool("optional")?;
        let rollback_batches = count("rollback_batches")?;
        if queue_capacity == 0 {
            return Err(common.invalid("queue_capacity", "must be at least 1"));
        }
        let overflow = match common.string("overflow")?.as_deref() {
            Some("drop_newest") => OverflowPolicy::DropNewest,
            Some("drop_oldest") => OverflowPolicy::DropOldest,
            _ => OverflowPolicy::Block,
        };
        let mut targets: Vec<String> = Vec::new();
        for option in sink_type.reference_options() {
            for name in options.referenced_sinks(option)? {
                if !targets.contains(&name) {
                    targets.push(name);
                }
            }
        }
        let when = match common.string("when")? {
            Some(text) => Some(std::sync::Arc::new(
                crate::routing::Condition::parse(&text)
                    .map_err(|e| common.invalid("when", e.to_string()))?,
            )),
            None => None,
        };
        let buffer = crate::pipeline::DiskBufferOptions::from_table(&common.table("buffer")?)
            .map_err(|why| common.invalid("buffer", why))?;
        Ok(SinkConfig {
            name: self.name,
            type_name,
            settings: SinkSettings {
                queue_capacity: usize::try_from(queue_capacity).unwrap_or(usize::MAX),
                overflow,
                retry,
                dead_letter_max_bytes,
                optional,
                rollback_batches,
                when,
                buffer,
            },
            options,
            targets,
        })
    }
}
