//! The `[secrets]` table: the operator names each secret once, with where
//! its value comes from, and sink options refer to it by name. The value is
//! read when the sinks are built and is never written into the config,
//! printed or logged.
//!
//! ```toml
//! [secrets]
//! hook = { env = "WEBHOOK_SECRET" }
//! token = { file = "/run/secrets/ingest-token" }
//!
//! [sinks.alerts]
//! type = "webhook"
//! endpoint = "https://hooks.example.com/in"
//! secret = "hook"
//! headers = { Authorization = "Bearer ${secret:token}" }
//! ```

use std::path::PathBuf;

use crate::registry::config_error::{ConfigError, SourceSpot};
use crate::secret::Secret;

/// Where a named secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the sinkbox process.
    Env(String),
    /// A file (its content, without a trailing newline).
    File(PathBuf),
}

/// The secrets a configuration names.
#[derive(Clone, Debug, Default)]
pub struct SecretStore {
    entries: Vec<(String, SecretSource, SourceSpot)>,
}

impl SecretStore {
    /// Parses the `[secrets]` table.
    pub(crate) fn parse(
        table: toml::Table,
        spot: impl Fn(&str) -> SourceSpot,
    ) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for (name, value) in table {
            let at = format!("secrets.{name}");
            let here = spot(&at);
            let bad = |message: &str| here.error(&at, message);
            if let Err(why) = crate::sink_name::check_sink_name(&name) {
                return Err(bad(&why.replace("sink name", "secret name")));
            }
            let toml::Value::Table(source) = value else {
                return Err(bad(
                    "expected { env = \"VARIABLE\" } or { file = \"/path/to/file\" }",
                ));
            };
            let source = match (source.get("env"), source.get("file"), source.len()) {
                (Some(toml::Value::String(var)), None, 1) => SecretSource::Env(var.clone()),
                (None, Some(toml::Value::String(file)), 1) => {
                    let file = PathBuf::from(file);
                    SecretSource::File(if file.is_relative() {
                        here.base_dir.join(file)
                    } else {
                        file
                    })
                }
                _ => {
                    return Err(bad(
                        "expected exactly one of { env = \"VARIABLE\" } or { file = \"/path/to/file\" }",
                    ));
                }
            };
            entries.push((name, source, here));
        }
        Ok(Self { entries })
    }

    /// The names, in the order written.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(name, _, _)| name.as_str())
    }

    /// Reads the value of secret `name` now. The error says which secret
    /// and source failed, never a value.
    pub fn resolve(&self, name: &str) -> Result<Secret, String> {
        let Some((_, source, _)) = self.entries.iter().find(|(n, _, _)| n == name) else {
            let known: Vec<&str> = self.names().collect();
            return Err(format!(
                "no secret is named `{name}`; name it in [secrets], such as {name} = {{ env = \"MY_VARIABLE\" }}{}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (named: {})", known.join(", "))
                }
            ));
        };
        match source {
            SecretSource::Env(var) => std::env::var(var).map(Secret::new).map_err(|_| {
                format!(
                    "secret `{name}` comes from the environment variable {var}, which is not set"
                )
            }),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|text| Secret::new(text.trim_end_matches(['\n', '\r'])))
                .map_err(|e| {
                    format!(
                        "secret `{name}` comes from `{}`, which cannot be read: {e}",
                        path.display()
                    )
                }),
        }
    }

    /// Replaces every `${secret:NAME}` in `text` with the secret's value.
    pub(crate) fn expand(&self, text: &str) -> Result<(String, bool), String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut used = false;
        while let Some(start) = rest.find("${secret:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "${secret:".len()..];
            let Some(end) = after.find('}') else {
                return Err("`${secret:` without its closing `}`; write ${secret:NAME}".into());
            };
            out.push_str(self.resolve(&after[..end])?.expose());
            used = true;
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok((out, used))
    }
}
