//! Gathers a configuration from its sources, in order of precedence: the
//! TOML file, then the environment, then the command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::model::{Config, RuntimeConfig, SourceConfig};
use super::raw_sink::{RawSink, RawValue};
use super::secrets::SecretStore;
use super::sink_graph;
use super::sink_uri::SinkUri;
use super::source_map::SourceMap;
use crate::pipeline::{BatchOptions, DEFAULT_DATA_DIR};
use crate::registry::config_error::{ConfigError, SourceSpot};
use crate::registry::sink_registry::SinkRegistry;
use crate::registry::suggest::did_you_mean;
use crate::sinks::util::uri_redact::redact_uri as redact;
use crate::wasm::DEFAULT_MAX_COMPONENT_SIZE;

/// Loads a [`Config`] from a file, the environment and command-line flags.
///
/// Precedence, lowest first: the file; `SINKBOX_SINKS` (adds sinks) and
/// `SINKBOX_<SINK>__<OPTION>` (overrides an option); `--sink URI` (adds a
/// sink) and `--set <sink>.<option>=<value>` (overrides an option).
///
/// ```no_run
/// use sinkbox::config::ConfigLoader;
/// use sinkbox::registry::SinkRegistry;
///
/// let registry = SinkRegistry::builtin();
/// let config = ConfigLoader::new(&registry)
///     .file("sinkbox.toml")
///     .process_env()
///     .cli_sink("file:///var/log/app.log?max_bytes=10MB")
///     .load()?;
/// # Ok::<(), sinkbox::config::ConfigError>(())
/// ```
pub struct ConfigLoader<'r> {
    registry: &'r SinkRegistry,
    file: Option<PathBuf>,
    text: Option<(String, String, PathBuf)>,
    env: Vec<(String, String)>,
    cli_sinks: Vec<String>,
    cli_sources: Vec<String>,
    cli_sets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRuntime {
    data_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    batch: BatchOptions,
    max_component_size: Option<bytesize::ByteSize>,
    cache_max_size: Option<bytesize::ByteSize>,
    #[serde(with = "crate::registry::duration_text")]
    flush_interval: Duration,
    incremental_compilation: bool,
}

impl Default for RawRuntime {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            cache_dir: None,
            batch: BatchOptions::default(),
            max_component_size: None,
            cache_max_size: None,
            flush_interval: crate::pipeline::DEFAULT_FLUSH_INTERVAL,
            incremental_compilation: false,
        }
    }
}

impl<'r> ConfigLoader<'r> {
    /// A loader with no sources yet, for the types in `registry`.
    pub fn new(registry: &'r SinkRegistry) -> Self {
        Self {
            registry,
            file: None,
            text: None,
            env: Vec::new(),
            cli_sinks: Vec::new(),
            cli_sources: Vec::new(),
            cli_sets: Vec::new(),
        }
    }

    /// Reads this TOML file (relative paths in it resolve against its
    /// directory).
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.file = Some(path.as_ref().to_owned());
        self
    }

    /// Uses TOML text instead of a file; `origin` names it in errors.
    pub fn toml(mut self, text: &str, origin: &str, base_dir: &Path) -> Self {
        self.text = Some((text.to_owned(), origin.to_owned(), base_dir.to_owned()));
        self
    }

    /// Takes `SINKBOX_SINKS` and `SINKBOX_<SINK>__<OPTION>` from these
    /// variables (other variables are ignored).
    pub fn env_vars(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env.extend(
            vars.into_iter()
                .filter(|(key, _)| key == "SINKBOX_SINKS" || is_override(key)),
        );
        self.env.sort();
        self
    }

    /// Takes the overrides from this process's environment.
    pub fn process_env(self) -> Self {
        self.env_vars(std::env::vars())
    }

    /// Adds a sink given as a URI on the command line.
    pub fn cli_sink(mut self, uri: impl Into<String>) -> Self {
        self.cli_sinks.push(uri.into());
        self
    }

    /// Adds a source given as a URI on the command line (`--source
    /// http://0.0.0.0:8080/ingest?ack=received#edge`).
    pub fn cli_source(mut self, uri: impl Into<String>) -> Self {
        self.cli_sources.push(uri.into());
        self
    }

    /// Adds a command-line override, `<sink>.<option>=<value>` (or
    /// `<sink>.<option>.<key>=<value>` for a table option).
    pub fn cli_set(mut self, assignment: impl Into<String>) -> Self {
        self.cli_sets.push(assignment.into());
        self
    }

    /// Reads every source and checks the result as a whole.
    pub fn load(self) -> Result<Config, ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let (mut runtime, mut sinks, secrets, mut sources) = match (&self.file, &self.text) {
            (_, Some((text, origin, base))) => parse_file(text, origin, base, None)?,
            (Some(path), None) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    origin: origin.clone(),
                    line: None,
                    path: String::new(),
                    message: format!("cannot read the config file: {e}"),
                })?;
                let base = match path.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                    _ => PathBuf::from("."),
                };
                parse_file(&text, &origin, &base, Some(path))?
            }
            (None, None) => (
                RuntimeConfig {
                    data_dir: cwd.join(DEFAULT_DATA_DIR),
                    cache_dir: None,
                    batch: BatchOptions::default(),
                    max_component_size: DEFAULT_MAX_COMPONENT_SIZE,
                    cache_max_size: crate::wasm::DEFAULT_CACHE_MAX_SIZE,
                    flush_interval: crate::pipeline::DEFAULT_FLUSH_INTERVAL,
                    incremental_compilation: false,
                    config_file: None,
                },
                Vec::new(),
                SecretStore::default(),
                Vec::new(),
            ),
        };
        // The environment: new sinks first, so overrides can name them.
        for (key, value) in &self.env {
            if key == "SINKBOX_SINKS" {
                for (position, uri) in split_uris(value).into_iter().enumerate() {
                    let spot = SourceSpot::new(
                        format!("SINKBOX_SINKS (URI {})", position + 1),
                        None,
                        &cwd,
                    );
                    self.add_uri_sink(&mut sinks, &uri, spot)?;
                }
            }
        }
        for (key, value) in &self.env {
            if let Some(runtime_key) = super::runtime_override::env_key(key) {
                super::runtime_override::apply(&mut runtime, &runtime_key, value, key, &cwd)?;
            } else if is_override(key) {
                apply_env_override(&mut sinks, key, value, &cwd)?;
            }
        }
        for uri in &self.cli_sinks {
            let spot = SourceSpot::new(format!("--sink {}", redact(uri)), None, &cwd);
            self.add_uri_sink(&mut sinks, uri, spot)?;
        }
        for uri in &self.cli_sources {
            let origin = format!("--source {}", redact(uri));
            let spot = SourceSpot::new(origin.clone(), None, &cwd);
            let (name, kind) = crate::sources::source_from_uri(uri, spot)?;
            if sources.iter().any(|s| s.name == name) {
                return Err(ConfigError {
                    origin,
                    line: None,
                    path: format!("sources.{name}"),
                    message: format!(
                        "a source named `{name}` is configured already; name this one with a fragment, such as `#{name}2`"
                    ),
                });
            }
            sources.push(SourceConfig { name, kind });
        }
        for assignment in &self.cli_sets {
            match assignment
                .split_once('=')
                .and_then(|(path, value)| Some((path.strip_prefix("runtime.")?, value)))
            {
                Some((key, value)) => super::runtime_override::apply(
                    &mut runtime,
                    key,
                    value,
                    &format!("--set {assignment}"),
                    &cwd,
                )?,
                None => apply_cli_set(&mut sinks, assignment, &cwd)?,
            }
        }
        if sinks.is_empty() {
            let origin = self
                .file
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| self.text.as_ref().map(|(_, origin, _)| origin.clone()))
                .unwrap_or_else(|| "the command line".into());
            return Err(ConfigError {
                origin,
                line: None,
                path: "sinks".into(),
                message: "no sinks are configured; add at least one, such as:\n  [sinks.console]\n  type = \"stdout\"\nor pass --sink stdout://".into(),
            });
        }
        let sinks = sinks
            .into_iter()
            .map(|sink| sink.finish(self.registry))
            .collect::<Result<Vec<_>, _>>()?;
        sink_graph::check(&sinks)?;
        Ok(Config {
            runtime,
            sinks,
            secrets,
            sources,
        })
    }

    fn add_uri_sink(
        &self,
        sinks: &mut Vec<RawSink>,
        uri: &str,
        spot: SourceSpot,
    ) -> Result<(), ConfigError> {
        let parsed =
            SinkUri::parse(uri, self.registry).map_err(|message| spot.error("", message))?;
        let name = match parsed.name {
            Some(name) => {
                if sinks.iter().any(|s| s.name == name) {
                    return Err(spot.error(
                        format!("sinks.{name}"),
                        "a sink with this name is already configured; choose another `name=`",
                    ));
                }
                name
            }
            None => {
                let base = parsed.type_name.clone();
                let mut name = base.clone();
                let mut n = 2;
                while sinks.iter().any(|s| s.name == name) {
                    name = format!("{base}_{n}");
                    n += 1;
                }
                name
            }
        };
        let mut sink = RawSink::new(&name, spot.clone());
        sink.set("type", RawValue::Text(parsed.type_name), spot.clone());
        for (key, value) in parsed.options {
            match key.split_once('.') {
                Some((option, sub)) => sink.set_table_key(option, sub, &value, spot.clone()),
                None => sink.set(&key, RawValue::Text(value), spot.clone()),
            }
        }
        sinks.push(sink);
        Ok(())
    }
}

/// Whether an environment variable is an option override: `SINKBOX_` then
/// a sink and an option separated by `__`.
fn is_override(key: &str) -> bool {
    key.strip_prefix("SINKBOX_")
        .is_some_and(|rest| rest.contains("__"))
}

/// Splits `SINKBOX_SINKS` on the commas that start a new URI, so a comma
/// inside a query value stays.
fn split_uris(value: &str) -> Vec<String> {
    let mut uris: Vec<String> = Vec::new();
    for piece in value.split(',') {
        let starts_uri = piece.trim().split_once("://").is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
        });
        match uris.last_mut() {
            Some(last) if !starts_uri => {
                last.push(',');
                last.push_str(piece);
            }
            _ => uris.push(piece.trim().to_owned()),
        }
    }
    uris.retain(|uri| !uri.is_empty());
    uris
}

fn env_name(sink: &str) -> String {
    sink.to_uppercase().replace(['-', '.'], "_")
}

fn apply_env_override(
    sinks: &mut [RawSink],
    key: &str,
    value: &str,
    cwd: &Path,
) -> Result<(), ConfigError> {
    let spot = SourceSpot::new(key, None, cwd);
    let rest = key
        .strip_prefix("SINKBOX_")
        .expect("checked by is_override");
    let mut parts = rest.split("__");
    let sink_part = parts.next().unwrap_or_default();
    let option = parts.next().unwrap_or_default().to_lowercase();
    let sub_key = parts.next().map(str::to_lowercase);
    if option.is_empty() || parts.next().is_some() {
        return Err(spot.error(
            "",
            "expected SINKBOX_<SINK>__<OPTION> or SINKBOX_<SINK>__<OPTION>__<KEY>, such as SINKBOX_APPLOG__MAX_BYTES",
        ));
    }
    let Some(sink) = sinks.iter_mut().find(|s| env_name(&s.name) == sink_part) else {
        let names: Vec<String> = sinks.iter().map(|s| env_name(&s.name)).collect();
        let mut message = format!(
            "no configured sink is called `{}` (names are matched upper-cased, with - and . as _); configured: {}",
            sink_part,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
        if let Some(close) = did_you_mean(sink_part, names.iter().map(String::as_str)) {
            message.push_str(&format!(
                " (did you mean SINKBOX_{close}__{}?)",
                option.to_uppercase()
            ));
        }
        return Err(spot.error("", message));
    };
    match sub_key {
        Some(sub) => sink.set_table_key(&option, &sub, value, spot),
        None => sink.set(&option, RawValue::Text(value.to_owned()), spot),
    }
    Ok(())
}

fn apply_cli_set(sinks: &mut [RawSink], assignment: &str, cwd: &Path) -> Result<(), ConfigError> {
    let spot = SourceSpot::new(format!("--set {assignment}"), None, cwd);
    let Some((path, value)) = assignment.split_once('=') else {
        return Err(spot.error(
            "",
            "expected <sink>.<option>=<value>, such as applog.max_bytes=10MB",
        ));
    };
    let mut parts = path.splitn(3, '.');
    let (Some(sink_name), Some(option)) = (parts.next(), parts.next()) else {
        return Err(spot.error(
            "",
            "expected <sink>.<option>=<value>, such as applog.max_bytes=10MB",
        ));
    };
    let sub_key = parts.next();
    let Some(sink) = sinks.iter_mut().find(|s| s.name == sink_name) else {
        let names: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
        let mut message = format!(
            "no configured sink is called `{sink_name}`; configured: {}",
            names.join(", ")
        );
        if let Some(close) = did_you_mean(sink_name, names.iter().copied()) {
            message.push_str(&format!(" (did you mean `{close}`?)"));
        }
        return Err(spot.error("", message));
    };
    match sub_key {
        Some(sub) => sink.set_table_key(option, sub, value, spot),
        None => sink.set(option, RawValue::Text(value.to_owned()), spot),
    }
    Ok(())
}

/// What a config file holds, before overrides.
type ParsedFile = (RuntimeConfig, Vec<RawSink>, SecretStore, Vec<SourceConfig>);

/// Parses the TOML file into the runtime settings, its raw sinks, its
/// secrets and its sources.
fn parse_file(
    text: &str,
    origin: &str,
    base_dir: &Path,
    file: Option<&Path>,
) -> Result<ParsedFile, ConfigError> {
    let map = SourceMap::new(text);
    let spot = |path: &str| SourceSpot::new(origin, map.line(path), base_dir);
    let error = |path: &str, message: &str| spot(path).error(path, message);
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| error("", e.to_string().trim_end()))?;
    for key in table.keys() {
        if !["runtime", "sinks", "secrets", "sources"].contains(&key.as_str()) {
            return Err(error(
                key,
                "unknown top-level table; expected `runtime`, `secrets`, `sources` or `sinks`",
            ));
        }
    }
    let secrets = match table.remove("secrets") {
        Some(toml::Value::Table(secrets)) => SecretStore::parse(secrets, spot)?,
        Some(_) => {
            return Err(error(
                "secrets",
                "expected a table of named secrets, such as `[secrets]` then `hook = { env = \"WEBHOOK_SECRET\" }`",
            ));
        }
        None => SecretStore::default(),
    };
    let sources = match table.remove("sources") {
        Some(toml::Value::Table(sources)) => {
            let expand = |text: &str| secrets.expand(text).map(|(value, _)| value);
            let mut out = Vec::new();
            for (name, value) in sources {
                let at = format!("sources.{name}");
                if let Err(why) = crate::sink_name::check_sink_name(&name) {
                    return Err(error(&at, &why));
                }
                let toml::Value::Table(options) = value else {
                    return Err(error(
                        &at,
                        "expected a table with a `type`, such as `type = \"http_server\"`",
                    ));
                };
                let kind = crate::sources::source_from_table(&name, &options, &spot, &expand)?;
                out.push(SourceConfig { name, kind });
            }
            out
        }
        Some(_) => {
            return Err(error(
                "sources",
                "expected a table of named sources, such as `[sources.edge]`",
            ));
        }
        None => Vec::new(),
    };
    let runtime: RawRuntime = match table.remove("runtime") {
        Some(value) => serde_path_to_error::deserialize(value).map_err(|err| {
            let inner = err.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                "runtime".to_owned()
            } else {
                format!("runtime.{inner}")
            };
            error(&path, err.into_inner().message().trim_end())
        })?,
        None => RawRuntime::default(),
    };
    let resolve = |path: PathBuf| {
        if path.is_relative() {
            base_dir.join(path)
        } else {
            path
        }
    };
    let max_component_size = runtime
        .max_component_size
        .map_or(DEFAULT_MAX_COMPONENT_SIZE, |size| size.as_u64());
    let runtime = RuntimeConfig {
        data_dir: resolve(runtime.data_dir),
        cache_dir: runtime.cache_dir.map(resolve),
        batch: runtime.batch,
        max_component_size,
        cache_max_size: runtime
            .cache_max_size
            .map_or(crate::wasm::DEFAULT_CACHE_MAX_SIZE, |size| size.as_u64()),
        flush_interval: runtime.flush_interval,
        incremental_compilation: runtime.incremental_compilation,
        config_file: file.map(|f| {
            let f = if f.is_relative() {
                std::env::current_dir().unwrap_or_default().join(f)
            } else {
                f.to_owned()
            };
            std::fs::canonicalize(&f).unwrap_or(f)
        }),
    };
    let sinks_table = match table.remove("sinks") {
        Some(toml::Value::Table(sinks)) => sinks,
        Some(_) => {
            return Err(error(
                "sinks",
                "expected a table of named sinks, such as `[sinks.console]`",
            ));
        }
        None => toml::Table::new(),
    };
    let mut sinks = Vec::new();
    for (name, value) in sinks_table {
        let at = format!("sinks.{name}");
        if let Err(why) = crate::sink_name::check_sink_name(&name) {
            return Err(error(&at, &why));
        }
        let toml::Value::Table(options) = value else {
            return Err(error(
                &at,
                "expected a table with at least `type = \"...\"`",
            ));
        };
        let mut sink = RawSink::new(&name, spot(&at));
        for (key, value) in options {
            let spot = spot(&format!("{at}.{key}"));
            sink.set(&key, RawValue::Toml(value), spot);
        }
        sinks.push(sink);
    }
    Ok((runtime, sinks, secrets, sources))
}

impl Config {
    /// Reads and parses a config file with the built-in sink types, without
    /// environment or command-line overrides.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        ConfigLoader::new(&SinkRegistry::builtin())
            .file(path)
            .load()
    }

    /// Parses TOML text with the built-in sink types; `origin` names it in
    /// errors and relative paths are resolved against `base_dir`.
    pub fn from_toml(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        ConfigLoader::new(&SinkRegistry::builtin())
            .toml(text, origin, base_dir)
            .load()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uris_split_on_commas_that_start_a_uri() {
        assert_eq!(
            super::split_uris("stdout://, tcp://127.0.0.1:9,wasm:///s.wasm?fields=a,b"),
            [
                "stdout://",
                "tcp://127.0.0.1:9",
                "wasm:///s.wasm?fields=a,b"
            ]
        );
    }
}
