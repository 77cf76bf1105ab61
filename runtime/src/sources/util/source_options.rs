//! A source's options after parsing: each value checked against its
//! type's declared options (the registry's `OptionSpec`, so the catalog,
//! the docs tables and the parser read one declaration), with defaults,
//! and with where each value came from.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::registry::config_error::{ConfigError, SourceSpot};
use crate::registry::option_spec::{OptionSpec, OptionValue};

/// The options of one named source, as its type reads them. Errors name
/// the option (`sources.<name>.<option>`) and where its value came from.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    name: String,
    specs: Vec<OptionSpec>,
    values: BTreeMap<String, (OptionValue, SourceSpot)>,
    spot: SourceSpot,
}

impl SourceOptions {
    /// Options of source `name` of a type declaring `specs`, declared at
    /// `spot`, none given yet.
    pub(crate) fn new(name: &str, specs: &[OptionSpec], spot: SourceSpot) -> Self {
        Self {
            name: name.to_owned(),
            specs: specs.to_vec(),
            values: BTreeMap::new(),
            spot,
        }
    }

    /// Sets `option` from a TOML value written at `spot`; `expand` fills
    /// `${secret:NAME}` in strings and table values (credentials).
    pub(crate) fn set_toml(
        &mut self,
        option: &str,
        value: &toml::Value,
        spot: SourceSpot,
        expand: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<(), ConfigError> {
        let spec = self.declared(option, &spot)?;
        let parsed = spec
            .kind
            .parse_toml(value, &spot.base_dir)
            .map_err(|why| spot.error(self.at(option), why))?;
        let parsed = match parsed {
            // Any string may name a secret (`${secret:NAME}`).
            OptionValue::Str(text) => {
                OptionValue::Str(expand(&text).map_err(|why| spot.error(self.at(option), why))?)
            }
            OptionValue::Table(pairs) => OptionValue::Table(
                pairs
                    .into_iter()
                    .map(|(key, value)| {
                        expand(&value)
                            .map(|value| (key.clone(), value))
                            .map_err(|why| spot.error(format!("{}.{key}", self.at(option)), why))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => other,
        };
        self.values.insert(option.to_owned(), (parsed, spot));
        Ok(())
    }

    /// Sets `option` from text (a `--source` URI's query parameter).
    pub(crate) fn set_text(
        &mut self,
        option: &str,
        text: &str,
        spot: SourceSpot,
    ) -> Result<(), ConfigError> {
        let spec = self.declared(option, &spot)?;
        let parsed = spec
            .kind
            .parse_text(text, Path::new("."))
            .map_err(|why| spot.error(self.at(option), why))?;
        self.values.insert(option.to_owned(), (parsed, spot));
        Ok(())
    }

    fn declared(&self, option: &str, spot: &SourceSpot) -> Result<&OptionSpec, ConfigError> {
        self.specs.iter().find(|s| s.name == option).ok_or_else(|| {
            let known: Vec<&str> = self.specs.iter().map(|s| s.name).collect();
            spot.error(
                self.at(option),
                format!(
                    "unknown option `{option}`; this source takes {}",
                    known.join(", ")
                ),
            )
        })
    }

    fn at(&self, option: &str) -> String {
        format!("sources.{}.{option}", self.name)
    }

    /// An error about `option`, pointing at where its value came from.
    pub fn invalid(&self, option: &str, message: impl Into<String>) -> ConfigError {
        let spot = self
            .values
            .get(option)
            .map(|(_, spot)| spot)
            .unwrap_or(&self.spot);
        spot.error(self.at(option), message)
    }

    /// The directory relative paths in `option` resolve against: the
    /// configuration file's (the working directory for `--source`).
    pub(crate) fn base_dir(&self, option: &str) -> std::path::PathBuf {
        self.values
            .get(option)
            .map(|(_, spot)| spot)
            .unwrap_or(&self.spot)
            .base_dir
            .clone()
    }

    /// Checks that every required option was given.
    pub(crate) fn check_required(&self) -> Result<(), ConfigError> {
        for spec in self.specs.iter().filter(|s| s.required) {
            if !self.values.contains_key(spec.name) {
                return Err(self.invalid(
                    spec.name,
                    format!(
                        "missing; a source of this type needs `{}` ({})",
                        spec.name, spec.help
                    ),
                ));
            }
        }
        Ok(())
    }

    fn value(&self, option: &str) -> Option<OptionValue> {
        if let Some((value, _)) = self.values.get(option) {
            return Some(value.clone());
        }
        let spec = self.specs.iter().find(|s| s.name == option)?;
        // Declared defaults are checked by a test of every source type.
        spec.kind.parse_text(spec.default?, Path::new(".")).ok()
    }

    /// A string, choice or text option.
    pub fn string(&self, option: &str) -> Option<String> {
        match self.value(option)? {
            OptionValue::Str(text) => Some(text),
            _ => None,
        }
    }

    /// A whole-number option.
    pub fn integer(&self, option: &str) -> Option<u64> {
        match self.value(option)? {
            OptionValue::Int(n) => Some(n),
            _ => None,
        }
    }

    /// A size option, in bytes.
    pub fn size(&self, option: &str) -> Option<u64> {
        match self.value(option)? {
            OptionValue::Size(n) => Some(n),
            _ => None,
        }
    }

    /// A duration option.
    pub fn duration(&self, option: &str) -> Option<Duration> {
        match self.value(option)? {
            OptionValue::Duration(d) => Some(d),
            _ => None,
        }
    }

    /// A boolean option.
    pub fn bool(&self, option: &str) -> Option<bool> {
        match self.value(option)? {
            OptionValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A list option.
    pub fn list(&self, option: &str) -> Option<Vec<String>> {
        match self.value(option)? {
            OptionValue::List(items) => Some(items),
            _ => None,
        }
    }

    /// A path option, resolved against the file it was written in.
    pub fn path(&self, option: &str) -> Option<std::path::PathBuf> {
        match self.value(option)? {
            OptionValue::Path(path) => Some(path),
            _ => None,
        }
    }

    /// A table option's pairs, `None` when not given.
    pub fn table(&self, option: &str) -> Option<Vec<(String, String)>> {
        match self.value(option)? {
            OptionValue::Table(pairs) => Some(pairs),
            _ => None,
        }
    }
}
