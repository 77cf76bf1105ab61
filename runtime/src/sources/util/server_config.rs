//! The options every HTTP source takes (`address`, `path`, `ack`, `auth`,
//! the limits), declared once for the catalog, the docs and the parser,
//! and read into [`HttpServerOptions`], every mistake a pointed error.

use super::server_options::{AckMode, HttpServerAuth, HttpServerOptions};
use super::source_options::SourceOptions;
use super::tls::TlsFiles;
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::secret::Secret;

/// The server options, `path` defaulting to `default_path`.
pub(crate) fn server_option_specs(default_path: &'static str) -> Vec<OptionSpec> {
    vec![
        OptionSpec::new("address", OptionKind::Text("an address and port, such as \"0.0.0.0:8080\""))
            .required()
            .help("where to listen, such as \"0.0.0.0:8080\"; port 0 picks a free one"),
        OptionSpec::new("path", OptionKind::String)
            .default(default_path)
            .help("the one path that takes records; any other answers 404"),
        OptionSpec::new("ack", OptionKind::Choice(&["delivered", "received"]))
            .default("delivered")
            .help("answer 200 once every sink settled the records (delivered, dead-lettered, dropped by policy or synced to its disk buffer), or once they are queued"),
        OptionSpec::new("auth", OptionKind::Table)
            .help("{ strategy = \"bearer\", token } or { strategy = \"basic\", user, password }; values may be ${secret:NAME}; compared in constant time"),
        OptionSpec::new("tls", OptionKind::Table)
            .help("serve HTTPS: { crt_file = \"server.crt\", key_file = \"server.key\" } (PEM; relative to the config file), read again when either file changes"),
        OptionSpec::new("metadata_field", OptionKind::String)
            .help("add { source, peer } (this source's name, the client's address) to each object record under this field, so an aggregator can tell where records came from"),
        OptionSpec::new("max_body_bytes", OptionKind::Size)
            .default("10MiB")
            .help("most bytes of a request body, as sent and once decompressed"),
        OptionSpec::new("max_records", OptionKind::Integer)
            .default("100000")
            .help("most records in one request"),
        OptionSpec::new("max_connections", OptionKind::Integer)
            .default("1024")
            .help("connections served at once; more wait in the listen backlog"),
        OptionSpec::new("header_timeout", OptionKind::Duration)
            .default("10s")
            .help("time a client has to send its request head"),
        OptionSpec::new("body_timeout", OptionKind::Duration)
            .default("30s")
            .help("time a client has to send its body"),
        OptionSpec::new("ack_timeout", OptionKind::Duration)
            .default("60s")
            .help("time for the records to be taken and settled before the answer is 503"),
    ]
}

/// The server options of a parsed source.
pub(crate) fn server_options(options: &SourceOptions) -> Result<HttpServerOptions, ConfigError> {
    let address = options.string("address").unwrap_or_default();
    let address = address.parse().map_err(|_| {
        options.invalid(
            "address",
            format!("`{address}` is not an address and port, such as \"0.0.0.0:8080\""),
        )
    })?;
    let mut server = HttpServerOptions::new(address);
    let path = options.string("path").unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        return Err(options.invalid("path", format!("`{path}` must start with `/`")));
    }
    server.path = path;
    server.ack = match options.string("ack").as_deref() {
        Some("received") => AckMode::Received,
        _ => AckMode::Delivered,
    };
    if let Some(pairs) = options.table("auth") {
        server.auth = Some(auth(options, &pairs)?);
    }
    server.metadata_field = options.string("metadata_field").filter(|f| !f.is_empty());
    if let Some(pairs) = options.table("tls") {
        server.tls = Some(tls(options, &pairs)?);
    }
    let at_least_one = |option: &str, n: Option<u64>| -> Result<Option<u64>, ConfigError> {
        match n {
            Some(0) => Err(options.invalid(option, "must be above 0")),
            other => Ok(other),
        }
    };
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if let Some(n) = at_least_one("max_records", options.integer("max_records"))? {
        server.max_records = count(n);
    }
    if let Some(n) = at_least_one("max_connections", options.integer("max_connections"))? {
        server.max_connections = count(n);
    }
    if let Some(n) = at_least_one("max_body_bytes", options.size("max_body_bytes"))? {
        server.max_body_bytes = count(n);
    }
    for (option, slot) in [
        ("header_timeout", &mut server.header_timeout),
        ("body_timeout", &mut server.body_timeout),
        ("ack_timeout", &mut server.ack_timeout),
    ] {
        match options.duration(option) {
            Some(d) if d.is_zero() => {
                return Err(
                    options.invalid(option, "must be a duration above zero, such as \"10s\"")
                );
            }
            Some(d) => *slot = d,
            None => {}
        }
    }
    Ok(server)
}

/// `tls = { crt_file = "…", key_file = "…" }`, paths relative to the
/// file the option was written in; both files must exist.
fn tls(options: &SourceOptions, pairs: &[(String, String)]) -> Result<TlsFiles, ConfigError> {
    let usage = "expected `{ crt_file = \"server.crt\", key_file = \"server.key\" }`";
    let mut files = (None, None);
    for (key, value) in pairs {
        let path = options.base_dir("tls").join(value);
        match key.as_str() {
            "crt_file" => files.0 = Some(path),
            "key_file" => files.1 = Some(path),
            other => return Err(options.invalid("tls", format!("unknown key `{other}`; {usage}"))),
        }
    }
    let (Some(crt_file), Some(key_file)) = files else {
        return Err(options.invalid("tls", format!("both files are needed; {usage}")));
    };
    for path in [&crt_file, &key_file] {
        if !path.is_file() {
            return Err(options.invalid("tls", format!("{} is not a file", path.display())));
        }
    }
    Ok(TlsFiles { crt_file, key_file })
}

/// `auth = { strategy = "bearer", token = "${secret:edge}" }` or
/// `{ strategy = "basic", user = "edge", password = "${secret:edge_pw}" }`
/// (Vector's names), secrets already filled in.
fn auth(
    options: &SourceOptions,
    pairs: &[(String, String)],
) -> Result<HttpServerAuth, ConfigError> {
    let usage = "expected `{ strategy = \"bearer\", token = \"${secret:NAME}\" }` or `{ strategy = \"basic\", user = \"…\", password = \"${secret:NAME}\" }`";
    let field = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| options.invalid("auth", format!("`{key}` is missing; {usage}")))
    };
    for (key, _) in pairs {
        if !["strategy", "token", "user", "password"].contains(&key.as_str()) {
            return Err(options.invalid("auth", format!("unknown key `{key}`; {usage}")));
        }
    }
    match field("strategy")?.as_str() {
        "bearer" => Ok(HttpServerAuth::Bearer(Secret::new(field("token")?))),
        "basic" => Ok(HttpServerAuth::Basic {
            user: field("user")?,
            password: Secret::new(field("password")?),
        }),
        other => Err(options.invalid("auth", format!("`{other}` is not a strategy; {usage}"))),
    }
}
