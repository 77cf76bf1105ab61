//! A sink's options after parsing: checked against its type's declared
//! options, with defaults, and with where each value came from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::option_spec::{OptionSpec, OptionValue};
use crate::registry::config_error::{ConfigError, SourceSpot};

/// The options of one named sink, as the sink type's constructor reads them.
///
/// Every accessor returns the given value, else the declared default, else
/// `None`; errors name the field (`sinks.<name>.<option>`) and where its
/// value came from.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    sink: String,
    specs: Arc<[OptionSpec]>,
    values: BTreeMap<String, (OptionValue, SourceSpot)>,
    /// Where the sink itself was declared.
    spot: SourceSpot,
}

impl SinkOptions {
    pub(crate) fn new(sink: &str, specs: Arc<[OptionSpec]>, spot: SourceSpot) -> Self {
        Self {
            sink: sink.to_owned(),
            specs,
            values: BTreeMap::new(),
            spot,
        }
    }

    /// The sink's name.
    pub fn sink_name(&self) -> &str {
        &self.sink
    }

    /// The declared options of the sink's type.
    pub fn specs(&self) -> &[OptionSpec] {
        &self.specs
    }

    pub(crate) fn spec(&self, option: &str) -> Option<&OptionSpec> {
        self.specs.iter().find(|spec| spec.name == option)
    }

    pub(crate) fn set(&mut self, option: &str, value: OptionValue, spot: SourceSpot) {
        self.values.insert(option.to_owned(), (value, spot));
    }

    /// Whether the option was given (rather than defaulted).
    pub fn is_set(&self, option: &str) -> bool {
        self.values.contains_key(option)
    }

    /// The names of the options that were given, in name order.
    pub fn given(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Every path option that was given, with its name: what a directory
    /// grant must not overlap.
    pub fn path_values(&self) -> impl Iterator<Item = (&str, &std::path::Path)> {
        self.values
            .iter()
            .filter_map(|(name, (value, _))| match value {
                OptionValue::Path(path) => Some((name.as_str(), path.as_path())),
                _ => None,
            })
    }

    /// An error about `option`, pointing at where its value came from.
    pub fn invalid(&self, option: &str, message: impl Into<String>) -> ConfigError {
        let spot = self
            .values
            .get(option)
            .map(|(_, spot)| spot)
            .unwrap_or(&self.spot);
        spot.error(format!("sinks.{}.{option}", self.sink), message)
    }

    /// An error about the sink as a whole.
    pub fn invalid_sink(&self, message: impl Into<String>) -> ConfigError {
        self.spot.error(format!("sinks.{}", self.sink), message)
    }

    fn value(&self, option: &str) -> Result<Option<OptionValue>, ConfigError> {
        if let Some((value, _)) = self.values.get(option) {
            return Ok(Some(value.clone()));
        }
        let Some(spec) = self.spec(option) else {
            return Err(self.invalid_sink(format!(
                "the sink type reads an option `{option}` it does not declare; this is a bug in the sink type's registration"
            )));
        };
        match spec.default {
            Some(default) => spec
                .kind
                .parse_text(default, std::path::Path::new("."))
                .map(Some)
                .map_err(|e| self.invalid(option, format!("bad declared default: {e}"))),
            None => Ok(None),
        }
    }

    fn typed<T>(
        &self,
        option: &str,
        pick: impl FnOnce(OptionValue) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.value(option)? {
            None => Ok(None),
            Some(value) => pick(value).map(Some).ok_or_else(|| {
                self.invalid(
                    option,
                    "read as another kind than it declares; this is a bug in the sink type's registration",
                )
            }),
        }
    }

    fn required<T>(&self, option: &str, value: Option<T>) -> Result<T, ConfigError> {
        value.ok_or_else(|| self.invalid(option, "missing; this option is required"))
    }

    /// A `String`, `Choice` or `Text` option.
    pub fn string(&self, option: &str) -> Result<Option<String>, ConfigError> {
        self.typed(option, |v| match v {
            OptionValue::Str(s) => Some(s),
            _ => None,
        })
    }

    /// A required `String`, `Choice` or `Text` option.
    pub fn require_string(&self, option: &str) -> Result<String, ConfigError> {
        let value = self.string(option)?;
        self.required(option, value)
    }

    /// A `Path` option, resolved.
    pub fn path(&self, option: &str) -> Result<Option<PathBuf>, ConfigError> {
        self.typed(option, |v| match v {
            OptionValue::Path(p) => Some(p),
            _ => None,
        })
    }

    /// A required `Path` option, resolved.
    pub fn require_path(&self, option: &str) -> Result<PathBuf, ConfigError> {
        let value = self.path(option)?;
        self.required(option, value)
    }

    /// A `Bool` option (`false` when unset without a default).
    pub fn bool(&self, option: &str) -> Result<bool, ConfigError> {
        Ok(self
            .typed(option, |v| match v {
                OptionValue::Bool(b) => Some(b),
                _ => None,
            })?
            .unwrap_or(false))
    }

    /// An `Integer` option.
    pub fn integer(&self, option: &str) -> Result<Option<u64>, ConfigError> {
        self.typed(option, |v| match v {
            OptionValue::Int(i) => Some(i),
            _ => None,
        })
    }

    /// A `Float` option.
    pub fn float(&self, option: &str) -> Result<Option<f64>, ConfigError> {
        self.typed(option, |v| match v {
            OptionValue::Float(f) => Some(f),
            _ => None,
        })
    }

    /// A `Size` option, in bytes.
    pub fn size(&self, option: &str) -> Result<Option<u64>, ConfigError> {
        self.typed(option, |v| match v {
            OptionValue::Size(s) => Some(s),
            _ => None,
        })
    }

    /// A `Duration` option.
    pub fn duration(&self, option: &str) -> Result<Option<Duration>, ConfigError> {
        self.typed(option, |v| match v {
            OptionValue::Duration(d) => Some(d),
            _ => None,
        })
    }

    /// A `Size` option that declares a default: the value given, else the
    /// default.
    pub fn size_or_default(&self, option: &str) -> Result<u64, ConfigError> {
        self.size(option)?.ok_or_else(|| self.no_default(option))
    }

    /// A `Duration` option that declares a default.
    pub fn duration_or_default(&self, option: &str) -> Result<Duration, ConfigError> {
        self.duration(option)?
            .ok_or_else(|| self.no_default(option))
    }

    /// An `Integer` option that declares a default.
    pub fn integer_or_default(&self, option: &str) -> Result<u64, ConfigError> {
        self.integer(option)?.ok_or_else(|| self.no_default(option))
    }

    /// A `Float` option that declares a default.
    pub fn float_or_default(&self, option: &str) -> Result<f64, ConfigError> {
        self.float(option)?.ok_or_else(|| self.no_default(option))
    }

    fn no_default(&self, option: &str) -> ConfigError {
        self.invalid(
            option,
            "has no value and its sink type declares no default; set it explicitly (and report this: a sink type should declare one)",
        )
    }

    /// A `List` option (empty when unset).
    pub fn list(&self, option: &str) -> Result<Vec<String>, ConfigError> {
        Ok(self
            .typed(option, |v| match v {
                OptionValue::List(l) => Some(l),
                _ => None,
            })?
            .unwrap_or_default())
    }

    /// A `Table` option (empty when unset).
    pub fn table(&self, option: &str) -> Result<Vec<(String, String)>, ConfigError> {
        Ok(self
            .typed(option, |v| match v {
                OptionValue::Table(t) => Some(t),
                _ => None,
            })?
            .unwrap_or_default())
    }

    /// A `Rules` option: each rule's condition and targets (empty when unset).
    pub fn rules(&self, option: &str) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
        Ok(self
            .typed(option, |v| match v {
                OptionValue::Rules(r) => Some(r),
                _ => None,
            })?
            .unwrap_or_default())
    }

    /// The names of other sinks `option` holds: a `List`'s entries, a
    /// `Rules` option's targets, or a `String` naming one sink (`drop` and
    /// an unset option name none).
    pub fn referenced_sinks(&self, option: &str) -> Result<Vec<String>, ConfigError> {
        Ok(match self.value(option)? {
            Some(OptionValue::List(names)) => names,
            Some(OptionValue::Rules(rules)) => {
                let mut names: Vec<String> = Vec::new();
                for target in rules.into_iter().flat_map(|(_, targets)| targets) {
                    if !names.contains(&target) {
                        names.push(target);
                    }
                }
                names
            }
            Some(OptionValue::Str(name)) if name != "drop" => vec![name],
            _ => Vec::new(),
        })
    }

    /// Parses a `Text` option with the sink type's own parser; its error is
    /// reported at the option.
    pub fn parse_text<T>(
        &self,
        option: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.string(option)? {
            None => Ok(None),
            Some(text) => parse(&text)
                .map(Some)
                .map_err(|message| self.invalid(option, message)),
        }
    }
}

impl SinkOptions {
    /// Resolves a path found inside `option` (such as a table's `path` key)
    /// the way `Path` options are: against the directory of the file that
    /// set it.
    pub fn resolve(&self, option: &str, path: &str) -> PathBuf {
        let path = PathBuf::from(path);
        if path.is_absolute() {
            return path;
        }
        let spot = self
            .values
            .get(option)
            .map(|(_, spot)| spot)
            .unwrap_or(&self.spot);
        spot.base_dir.join(path)
    }
}

impl SinkOptions {
    /// Whether both hold the same values, wherever they were written.
    pub fn same_values(&self, other: &SinkOptions) -> bool {
        self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .all(|(key, (value, _))| other.values.get(key).is_some_and(|(v, _)| v == value))
    }
}
