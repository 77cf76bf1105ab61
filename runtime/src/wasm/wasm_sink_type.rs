//! The `wasm` sink type: a sandboxed sink component named in the config.

use super::http_egress::SinkEgress;
use super::http_grant::{HttpGrant, parse_allow_entry};
use super::log_budget::LINE_OVERHEAD_BYTES;
use super::wasm_sink::{DirGrant, WasmSink, WasmSinkOptions};
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_context::SinkContext;
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};

/// The `wasm` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "wasm",
        "a sandboxed sink component (.wasm), with its own memory cap, CPU deadline and grants",
        |options, context| {
            let memory_limit = options.size_or_default("memory_limit")?;
            if memory_limit < 64 * 1024 {
                return Err(options.invalid(
                    "memory_limit",
                    "must be at least 64KiB (one wasm page); the default is \"64MiB\"",
                ));
            }
            let http = http_grant(options, &*context)?;
            // A sink that waits on servers gets a longer wall budget unless
            // the operator set one.
            let call_timeout = if http.is_some() && !options.is_set("call_timeout") {
                HTTP_CALL_TIMEOUT
            } else {
                options.duration_or_default("call_timeout")?
            };
            if call_timeout.is_zero() {
                return Err(options.invalid("call_timeout", "must be more than zero, such as \"2s\""));
            }
            let cpu_limit = options.duration_or_default("cpu_limit")?;
            if cpu_limit.is_zero() {
                return Err(options.invalid("cpu_limit", "must be more than zero, such as \"2s\""));
            }
            let grant = options.table("grant")?;
            let grant = if grant.is_empty() {
                None
            } else {
                let mut host_path = None;
                let mut guest_path = "/data".to_owned();
                let mut read_only = false;
                for (key, value) in grant {
                    match key.as_str() {
                        "path" => host_path = Some(options.resolve("grant", &value)),
                        "guest_path" => guest_path = value,
                        "read_only" => {
                            read_only = value.parse().map_err(|_| {
                                options.invalid("grant", format!("`read_only = {value}`: expected true or false"))
                            })?
                        }
                        other => {
                            return Err(options.invalid(
                                "grant",
                                format!("unknown key `{other}`; a grant takes `path`, `guest_path` (default \"/data\") and `read_only` (default false)"),
                            ));
                        }
                    }
                }
                let host_path = host_path.ok_or_else(|| {
                    options.invalid("grant", "missing `path`: the host directory to grant, such as { path = \"out\" }")
                })?;
                context.check_grant(options, "grant", &host_path)?;
                Some(DirGrant {
                    host_path,
                    guest_path,
                    read_only,
                })
            };
            let log_rate = options.size_or_default("log_rate")?;
            let log_burst = options.size_or_default("log_burst")?;
            if log_burst < LINE_OVERHEAD_BYTES {
                return Err(options.invalid(
                    "log_burst",
                    format!("must be at least {LINE_OVERHEAD_BYTES} bytes (what one line costs); the default is \"256KiB\""),
                ));
            }
            let log_budget = context.log_budget(options.sink_name(), log_rate, log_burst);
            let merge_max_bytes = options.size_or_default("merge_max_bytes")?;
            let component = context.component(options, "component")?;
            Ok(Box::new(WasmSink::new(
                options.sink_name(),
                component,
                WasmSinkOptions {
                    memory_limit,
                    call_timeout,
                    cpu_limit,
                    grant,
                    config: options.table("config")?,
                    log_capture: None,
                    log_budget,
                    merge_max_bytes,
                    http: match http {
                        Some(grant) => Some(std::sync::Arc::new(
                            SinkEgress::new(options.sink_name(), grant)
                                .map_err(|why| options.invalid("http_ca_file", why))?,
                        )),
                        None => None,
                    },
                },
            )))
        },
    )
    .option(
        OptionSpec::new("component", OptionKind::Path)
            .required()
            .help("the sink component file (.wasm)"),
    )
    .option(
        OptionSpec::new("memory_limit", OptionKind::Size)
            .default("64MiB")
            .help("cap on the instance's linear memory; growing past it traps and the instance is replaced"),
    )
    .option(
        OptionSpec::new("call_timeout", OptionKind::Duration)
            .default("2s")
            .help("wall-clock deadline of each call into the guest, waiting in the host included (10 ms granularity); a call past it is stopped and the instance replaced; 30s when http_allow is set and this is not"),
    )
    .option(
        OptionSpec::new("cpu_limit", OptionKind::Duration)
            .default("2s")
            .help("CPU time each call into the guest may burn (10 ms granularity); a call past it traps and the instance is replaced; call_timeout bounds the wall time"),
    )
    .option(
        OptionSpec::new("grant", OptionKind::Table)
            .help("one directory the guest may use: { path, guest_path = \"/data\", read_only = false }"),
    )
    .option(
        OptionSpec::new("log_rate", OptionKind::Size)
            .default("64KiB")
            .help("bytes per second the sink may log (host.log, stdout and stderr together; each line costs 128 bytes more than its text); lines past it are dropped and counted"),
    )
    .option(
        OptionSpec::new("log_burst", OptionKind::Size)
            .default("256KiB")
            .help("bytes of log the sink may spend at once, saved up at log_rate; the budget is kept across restarts and reloads"),
    )
    .option(
        OptionSpec::new("merge_max_bytes", OptionKind::Size)
            .default("1MiB")
            .help("when several batches wait in the sink's queue, the guest gets them as one merged batch (consecutive sequence numbers) of up to this size; what that call does not accept goes back as the original batches, one by one; \"0\" hands over every batch on its own"),
    )
    .options(HTTP_GRANT_OPTIONS)
    .option(
        OptionSpec::new("config", OptionKind::Table)
            .help("the sink's own options: a flat table of strings, numbers or booleans, passed to its start as strings"),
    )
    .uri(UriForm {
        schemes: &["wasm"],
        target: UriTarget::Path("component"),
        rest_into: Some("config"),
    })
}

/// The wall budget of a call when the sink may use HTTP and the operator
/// did not set `call_timeout`: servers are slower than files.
const HTTP_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What a wasm sink may send over HTTP; none of it unless `http_allow` is set.
const HTTP_GRANT_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("http_allow", OptionKind::List).help(
        "URLs the guest may request: scheme, host, port and path, a prefix when it ends in `*` (\"https://hooks.slack.com/services/*\"); a path may hold ${secret:NAME}, which the host fills in; unset: no network",
    ),
    OptionSpec::new("http_methods", OptionKind::List)
        .default("POST")
        .help("methods the guest may use"),
    OptionSpec::new("http_headers", OptionKind::Table).help(
        "headers the host sets on every allowed request, replacing the guest's, such as { Authorization = \"Bearer ${secret:slack}\" }; the guest never sees them",
    ),
    OptionSpec::new("http_private_hosts", OptionKind::List).help(
        "host names in http_allow that may resolve to loopback, private or link-local addresses (otherwise refused); an IP address written in http_allow needs no entry",
    ),
    OptionSpec::new("http_max_request_size", OptionKind::Size)
        .default("10MiB")
        .help("largest request body; a larger one is refused before it is sent"),
    OptionSpec::new("http_max_response_size", OptionKind::Size)
        .default("1MiB")
        .help("largest response body the guest may read; reading past it is an error to the guest"),
    OptionSpec::new("http_concurrency", OptionKind::Integer)
        .default("4")
        .help("requests of one instance in flight at once; more wait for a slot"),
    OptionSpec::new("http_max_requests_per_call", OptionKind::Integer)
        .default("1000")
        .help("requests one call into the guest may make; later ones are refused"),
    OptionSpec::new("http_connect_timeout", OptionKind::Duration)
        .default("5s")
        .help("deadline of opening a connection"),
    OptionSpec::new("http_timeout", OptionKind::Duration)
        .default("10s")
        .help("deadline of one request, the response body included (the call's own call_timeout still applies)"),
    OptionSpec::new("http_ca_file", OptionKind::Path)
        .help("a PEM root certificate to trust besides the webpki roots"),
];

/// The sink's HTTP grant, or `None` when `http_allow` is unset.
fn http_grant(
    options: &SinkOptions,
    context: &dyn SinkContext,
) -> Result<Option<HttpGrant>, ConfigError> {
    let allow = options.list("http_allow")?;
    if allow.is_empty() {
        for option in ["http_headers", "http_private_hosts", "http_methods"] {
            if options.is_set(option) {
                return Err(options.invalid(
                    option,
                    "has no effect without http_allow; list the URLs the sink may request",
                ));
            }
        }
        return Ok(None);
    }
    let secret = |name: &str| context.secret(name);
    let allow = allow
        .iter()
        .map(|entry| parse_allow_entry(entry, &secret))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| options.invalid("http_allow", why))?;
    let mut grant = HttpGrant::new(allow);
    grant.methods = options
        .list("http_methods")?
        .into_iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    for (name, value) in options.table("http_headers")? {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(options.invalid("http_headers", format!("`{name}` is not a header name")));
        }
        let (value, _) = context
            .expand_secrets(&value)
            .map_err(|why| options.invalid("http_headers", why))?;
        if reqwest::header::HeaderValue::from_str(&value).is_err() {
            return Err(options.invalid(
                "http_headers",
                format!("the value of `{name}` is not valid in an HTTP header"),
            ));
        }
        grant
            .headers
            .push((name, crate::secret::Secret::new(value)));
    }
    grant.private_hosts = options
        .list("http_private_hosts")?
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    grant.max_request_bytes = options.size_or_default("http_max_request_size")?;
    grant.max_response_bytes = options.size_or_default("http_max_response_size")?;
    let whole = |option: &str| -> Result<u32, ConfigError> {
        let n = options.integer_or_default(option)?;
        if n == 0 {
            return Err(options.invalid(option, "must be at least 1"));
        }
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    };
    grant.concurrency = whole("http_concurrency")?;
    grant.max_requests_per_call = whole("http_max_requests_per_call")?;
    grant.connect_timeout = options.duration_or_default("http_connect_timeout")?;
    grant.timeout = options.duration_or_default("http_timeout")?;
    grant.ca_file = options.path("http_ca_file")?;
    Ok(Some(grant))
}
