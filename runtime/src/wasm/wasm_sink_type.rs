//! The `wasm` sink type: a sandboxed sink component named in the config.

use super::log_budget::LINE_OVERHEAD_BYTES;
use super::wasm_sink::{DirGrant, WasmSink, WasmSinkOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
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
            let call_timeout = options.duration_or_default("call_timeout")?;
            if call_timeout.is_zero() {
                return Err(options.invalid("call_timeout", "must be more than zero, such as \"2s\""));
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
            let component = context.component(options, "component")?;
            Ok(Box::new(WasmSink::new(
                options.sink_name(),
                component,
                WasmSinkOptions {
                    memory_limit,
                    call_timeout,
                    grant,
                    config: options.table("config")?,
                    log_capture: None,
                    log_budget,
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
            .help("deadline of each call into the guest, CPU or blocked in the host (10 ms granularity); a call past it traps and the instance is replaced"),
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
        OptionSpec::new("config", OptionKind::Table)
            .help("the sink's own options: a flat table of strings, numbers or booleans, passed to its start as strings"),
    )
    .uri(UriForm {
        schemes: &["wasm"],
        target: UriTarget::Path("component"),
        rest_into: Some("config"),
    })
}
