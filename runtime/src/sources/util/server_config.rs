//! The options every HTTP source's table takes (`address`, `path`,
//! `ack`, `auth`, the limits), read into [`HttpServerOptions`], every
//! mistake a pointed error at its line. A source's own options are read
//! by its `config.rs` from the same table.

use std::time::Duration;

use super::server_options::{AckMode, HttpServerAuth, HttpServerOptions};
use crate::registry::config_error::{ConfigError, SourceSpot};
use crate::secret::Secret;

/// The options every HTTP source takes.
pub(crate) const SERVER_OPTIONS: &[&str] = &[
    "address",
    "path",
    "ack",
    "auth",
    "max_body_bytes",
    "max_records",
    "max_connections",
    "header_timeout",
    "body_timeout",
    "ack_timeout",
];

/// How a source's table is read: its name, where its options sit in the
/// file, and how `${secret:NAME}` is filled.
pub(crate) struct SourceTable<'a> {
    /// The source's name (`sources.<name>`).
    pub name: &'a str,
    /// Its `type`, for messages.
    pub type_name: &'static str,
    /// The table.
    pub table: &'a toml::Table,
    /// Places an option (`sources.<name>.<option>`) in the file.
    pub spot: &'a dyn Fn(&str) -> SourceSpot,
    /// Fills `${secret:NAME}` from `[secrets]`.
    pub expand: &'a dyn Fn(&str) -> Result<String, String>,
}

impl SourceTable<'_> {
    /// A pointed error about `option`.
    pub(crate) fn error(&self, option: &str, message: String) -> ConfigError {
        let at = format!("sources.{}.{option}", self.name);
        (self.spot)(&at).error(at, message)
    }

    /// Refuses any key that is neither `type`, a server option nor one of
    /// `own`, naming what the type takes.
    pub(crate) fn check_keys(&self, own: &[&str]) -> Result<(), ConfigError> {
        for key in self.table.keys() {
            if key != "type"
                && !SERVER_OPTIONS.contains(&key.as_str())
                && !own.contains(&key.as_str())
            {
                let known: Vec<&str> = SERVER_OPTIONS.iter().chain(own).copied().collect();
                return Err(self.error(
                    key,
                    format!(
                        "unknown option `{key}` for a {} source; it takes {}",
                        self.type_name,
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A string option, `None` when absent.
    pub(crate) fn text(&self, option: &str) -> Result<Option<String>, ConfigError> {
        match self.table.get(option) {
            None => Ok(None),
            Some(toml::Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.error(
                option,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }
}

/// The server options of a source's table; `default_path` is the records
/// path when `path` is not given.
pub(crate) fn server_options(
    source: &SourceTable,
    default_path: &str,
) -> Result<HttpServerOptions, ConfigError> {
    let (table, expand) = (source.table, source.expand);
    let error = |option: &str, message: String| source.error(option, message);
    let type_name = source.type_name;
    let text = |option: &str| source.text(option);
    let Some(address) = text("address")? else {
        return Err(error(
            "address",
            format!("a {type_name} source needs `address`, such as \"0.0.0.0:8080\""),
        ));
    };
    let address = address.parse().map_err(|_| {
        error(
            "address",
            format!("`{address}` is not an address and port, such as \"0.0.0.0:8080\""),
        )
    })?;
    let mut options = HttpServerOptions::new(address);
    options.path = default_path.to_owned();
    if let Some(path) = text("path")? {
        if !path.starts_with('/') {
            return Err(error("path", format!("`{path}` must start with `/`")));
        }
        options.path = path;
    }
    if let Some(ack) = text("ack")? {
        options.ack = match ack.as_str() {
            "delivered" => AckMode::Delivered,
            "received" => AckMode::Received,
            other => {
                return Err(error(
                    "ack",
                    format!(
                        "`{other}` is not `delivered` (answer once the records are safe) or `received` (once queued)"
                    ),
                ));
            }
        };
    }
    if let Some(value) = table.get("auth") {
        options.auth = Some(auth(value, &error, expand)?);
    }
    let count = |option: &str| -> Result<Option<usize>, ConfigError> {
        match table.get(option) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) if *n > 0 => Ok(Some(*n as usize)),
            Some(_) => Err(error(option, "expected a whole number above 0".into())),
        }
    };
    if let Some(n) = count("max_records")? {
        options.max_records = n;
    }
    if let Some(n) = count("max_connections")? {
        options.max_connections = n;
    }
    if let Some(size) = text("max_body_bytes")? {
        let bytes = size.parse::<bytesize::ByteSize>().map_err(|_| {
            error(
                "max_body_bytes",
                format!("`{size}` is not a size, such as \"10MiB\""),
            )
        })?;
        options.max_body_bytes = usize::try_from(bytes.as_u64()).unwrap_or(usize::MAX).max(1);
    }
    let duration = |option: &str| -> Result<Option<Duration>, ConfigError> {
        let Some(text) = text(option)? else {
            return Ok(None);
        };
        match humantime::parse_duration(&text) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            _ => Err(error(
                option,
                format!("`{text}` is not a duration above zero, such as \"10s\""),
            )),
        }
    };
    if let Some(d) = duration("header_timeout")? {
        options.header_timeout = d;
    }
    if let Some(d) = duration("body_timeout")? {
        options.body_timeout = d;
    }
    if let Some(d) = duration("ack_timeout")? {
        options.ack_timeout = d;
    }
    Ok(options)
}

/// `auth = { strategy = "bearer", token = "${secret:edge}" }` or
/// `{ strategy = "basic", user = "edge", password = "${secret:edge_pw}" }`
/// (Vector's names).
fn auth(
    value: &toml::Value,
    error: &dyn Fn(&str, String) -> ConfigError,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Result<HttpServerAuth, ConfigError> {
    let usage = "expected `{ strategy = \"bearer\", token = \"${secret:NAME}\" }` or `{ strategy = \"basic\", user = \"…\", password = \"${secret:NAME}\" }`";
    let toml::Value::Table(table) = value else {
        return Err(error("auth", usage.into()));
    };
    let field = |key: &str| -> Result<String, ConfigError> {
        match table.get(key) {
            Some(toml::Value::String(text)) => {
                expand(text).map_err(|why| error(&format!("auth.{key}"), why))
            }
            _ => Err(error("auth", format!("`{key}` is missing; {usage}"))),
        }
    };
    match table.get("strategy").and_then(toml::Value::as_str) {
        Some("bearer") => Ok(HttpServerAuth::Bearer(Secret::new(field("token")?))),
        Some("basic") => Ok(HttpServerAuth::Basic {
            user: field("user")?,
            password: Secret::new(field("password")?),
        }),
        _ => Err(error("auth.strategy", usage.into())),
    }
}
