//! The options every HTTP-based sink declares, declared once: endpoint,
//! method, headers, auth, compression, timeouts, request limits, breaker,
//! healthcheck.

use std::path::PathBuf;
use std::time::Duration;

use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_context::SinkContext;
use crate::registry::sink_options::SinkOptions;

/// How request bodies are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Sent as they are.
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
    /// `Content-Encoding: zstd`.
    Zstd,
}

/// Who the sink says it is.
#[derive(Clone, PartialEq, Eq)]
pub enum HttpAuth {
    /// `Authorization: Basic …`.
    Basic {
        /// The user.
        user: String,
        /// The password (never printed).
        password: String,
    },
    /// `Authorization: Bearer …`.
    Bearer(String),
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpAuth::Basic { user, .. } => write!(f, "Basic({user}:***)"),
            HttpAuth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// How an HTTP sink reaches its server. `Debug` shows header names, not
/// their values (they may hold secrets).
#[derive(Clone)]
pub struct HttpOptions {
    /// Where requests go.
    pub endpoint: reqwest::Url,
    /// `POST` (default) or `PUT`.
    pub method: reqwest::Method,
    /// Extra headers on every request.
    pub headers: Vec<(String, String)>,
    /// Credentials, if any.
    pub auth: Option<HttpAuth>,
    /// Request body compression.
    pub compression: Compression,
    /// Whole-request deadline.
    pub timeout: Duration,
    /// Connection deadline.
    pub connect_timeout: Duration,
    /// Most records in one request.
    pub max_events: u32,
    /// Most bytes of records in one request (before compression).
    pub max_bytes: u64,
    /// Consecutive failures that open the circuit breaker (0: never).
    pub breaker_threshold: u32,
    /// How long an open breaker refuses requests before a probe.
    pub breaker_cool_down: Duration,
    /// Whether `start` checks that the endpoint answers (a failure is
    /// logged, not fatal).
    pub healthcheck: bool,
    /// Extra root certificate (PEM) to trust, for a private CA.
    pub ca_file: Option<PathBuf>,
    /// Most requests of one batch in flight at once.
    pub concurrency: u32,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("endpoint", &self.endpoint.as_str())
            .field("method", &self.method)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("auth", &self.auth)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("max_events", &self.max_events)
            .field("max_bytes", &self.max_bytes)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl HttpOptions {
    /// Options for `endpoint` with every other option at its default.
    pub fn new(endpoint: reqwest::Url) -> Self {
        Self {
            endpoint,
            method: reqwest::Method::POST,
            headers: Vec::new(),
            auth: None,
            compression: Compression::None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_events: 1000,
            max_bytes: 10 << 20,
            breaker_threshold: 5,
            breaker_cool_down: Duration::from_secs(10),
            healthcheck: true,
            ca_file: None,
            concurrency: 1,
        }
    }

    /// Reads the options declared by [`HTTP_OPTIONS`]; `${secret:NAME}` in
    /// a header value or in `auth` is replaced by that secret.
    pub(crate) fn from_options(
        options: &SinkOptions,
        context: &dyn SinkContext,
    ) -> Result<Self, ConfigError> {
        let expand = |option: &str, text: &str| {
            context
                .expand_secrets(text)
                .map(|(value, _)| value)
                .map_err(|why| options.invalid(option, why))
        };
        let text = options.require_string("endpoint")?;
        let endpoint = reqwest::Url::parse(&text)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| {
                options.invalid(
                    "endpoint",
                    format!(
                        "`{}` is not an http:// or https:// URL, such as \"https://logs.example.com/ingest\"",
                        crate::sinks::util::uri_redact::redact_uri(&text)
                    ),
                )
            })?;
        if !endpoint.password().unwrap_or("").is_empty() || !endpoint.username().is_empty() {
            return Err(options.invalid(
                "endpoint",
                "put credentials in `auth`, not in the URL, so they are never printed",
            ));
        }
        let method = match options.require_string("method")?.as_str() {
            "PUT" => reqwest::Method::PUT,
            _ => reqwest::Method::POST,
        };
        let auth_table = options.table("auth")?;
        let auth = if auth_table.is_empty() {
            None
        } else {
            let get = |key: &str| {
                auth_table
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            for (key, _) in &auth_table {
                if !matches!(key.as_str(), "strategy" | "user" | "password" | "token") {
                    return Err(options.invalid(
                        "auth",
                        format!("unknown key `{key}`; write {{ strategy = \"basic\", user = \"…\", password = \"…\" }} or {{ strategy = \"bearer\", token = \"…\" }}"),
                    ));
                }
            }
            match get("strategy").as_deref() {
                Some("basic") => Some(HttpAuth::Basic {
                    user: get("user")
                        .ok_or_else(|| options.invalid("auth", "`basic` needs `user`"))?,
                    password: expand("auth", &get("password").unwrap_or_default())?,
                }),
                Some("bearer") => {
                    let token = get("token")
                        .ok_or_else(|| options.invalid("auth", "`bearer` needs `token`"))?;
                    Some(HttpAuth::Bearer(expand("auth", &token)?))
                }
                _ => {
                    return Err(options.invalid(
                        "auth",
                        "set `strategy` to \"basic\" (with `user`, `password`) or \"bearer\" (with `token`)",
                    ));
                }
            }
        };
        let compression = match options.require_string("compression")?.as_str() {
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            _ => Compression::None,
        };
        let max_events = options.integer_or_default("max_events")?;
        if max_events == 0 {
            return Err(options.invalid("max_events", "must be at least 1, such as 1000"));
        }
        let max_bytes = options.size_or_default("max_bytes")?;
        if max_bytes == 0 {
            return Err(options.invalid("max_bytes", "must be more than zero, such as \"10MB\""));
        }
        let concurrency = options.integer_or_default("concurrency")?;
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(options.invalid(
                "concurrency",
                format!("must be from 1 to {MAX_CONCURRENCY}, such as 4"),
            ));
        }
        Ok(Self {
            endpoint,
            method,
            headers: options
                .table("headers")?
                .into_iter()
                .map(|(name, value)| Ok((name, expand("headers", &value)?)))
                .collect::<Result<_, ConfigError>>()?,
            auth,
            compression,
            timeout: options.duration_or_default("timeout")?,
            connect_timeout: options.duration_or_default("connect_timeout")?,
            max_events: u32::try_from(max_events).unwrap_or(u32::MAX),
            max_bytes,
            breaker_threshold: u32::try_from(options.integer_or_default("breaker_threshold")?)
                .unwrap_or(u32::MAX),
            breaker_cool_down: options.duration_or_default("breaker_cool_down")?,
            healthcheck: options.bool("healthcheck")?,
            ca_file: options.path("ca_file")?,
            concurrency: concurrency as u32,
        })
    }
}

/// The most requests one sink keeps in flight.
const MAX_CONCURRENCY: u64 = 64;

/// The options every HTTP-based sink type declares.
pub(crate) const HTTP_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("endpoint", OptionKind::String)
        .required()
        .help("the URL requests go to, http:// or https://"),
    OptionSpec::new("method", OptionKind::Choice(&["POST", "PUT"]))
        .default("POST")
        .help("the request method"),
    OptionSpec::new("headers", OptionKind::Table)
        .help("extra headers on every request, such as { \"X-Source\" = \"app\" }; a value may hold ${secret:NAME}"),
    OptionSpec::new("auth", OptionKind::Table).help(
        "{ strategy = \"basic\", user, password } or { strategy = \"bearer\", token }; password and token may be ${secret:NAME}; never printed",
    ),
    OptionSpec::new("compression", OptionKind::Choice(&["none", "gzip", "zstd"]))
        .default("none")
        .help("request body compression (Content-Encoding)"),
    OptionSpec::new("timeout", OptionKind::Duration)
        .default("30s")
        .help("deadline of one request, connecting included; keep it under the server's own"),
    OptionSpec::new("connect_timeout", OptionKind::Duration)
        .default("5s")
        .help("deadline of opening a connection"),
    OptionSpec::new("max_events", OptionKind::Integer)
        .default("1000")
        .help("most records in one request; a larger batch is sent as several requests"),
    OptionSpec::new("max_bytes", OptionKind::Size)
        .default("10MB")
        .help("most bytes of records in one request, before compression"),
    OptionSpec::new("concurrency", OptionKind::Integer)
        .default("1")
        .help("requests of one batch in flight at once (1 to 64); outcomes are still reported in record order"),
    OptionSpec::new("breaker_threshold", OptionKind::Integer)
        .default("5")
        .help("consecutive failed requests that open the circuit breaker (0 turns it off)"),
    OptionSpec::new("breaker_cool_down", OptionKind::Duration)
        .default("10s")
        .help("how long an open breaker refuses requests before it lets one probe through"),
    OptionSpec::new("healthcheck", OptionKind::Bool)
        .default("true")
        .help("at start, check that the endpoint answers (HEAD); a failure is logged, not fatal"),
    OptionSpec::new("ca_file", OptionKind::Path)
        .help("a PEM root certificate to trust besides the webpki roots, for a private CA"),
];
