//! The `otlp` source: OpenTelemetry SDKs, Collectors and other sinkboxes
//! send logs over OTLP/HTTP (`POST /v1/logs`, protobuf or JSON, gzip or
//! zstd); each `LogRecord` becomes a record whose fields are the inverse
//! of the `otlp` sink's mapping. Answered as the OTLP specification says,
//! after the pipeline's end-to-end acknowledgement.

pub(crate) mod config;
mod log_transcoder;
mod protocol;
// The mapping over decoded messages: the reference the transcoder is held
// to by a property test.
#[cfg(test)]
mod record_from_log;
mod request_json;
mod wire;

use crate::pipeline::Pipeline;
use crate::sinks::LogMapping;
use crate::sources::RunningSource;
use crate::sources::util::server_options::HttpServerOptions;

/// The OTLP/HTTP logs path.
pub const LOGS_PATH: &str = "/v1/logs";

/// How an `otlp` source listens and maps log records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpSourceOptions {
    /// Where it listens, its limits, credentials and acknowledgement mode
    /// (the records path defaults to `/v1/logs`).
    pub server: HttpServerOptions,
    /// Which record fields the time, severity, body and trace context go
    /// to (the `otlp` sink's option names and defaults).
    pub mapping: LogMapping,
}

impl OtlpSourceOptions {
    /// Options for `address` with the defaults: path `/v1/logs`, the
    /// `otlp` sink's field names, and the server defaults of
    /// [`HttpServerOptions::new`].
    pub fn new(address: std::net::SocketAddr) -> Self {
        let mut server = HttpServerOptions::new(address);
        server.path = LOGS_PATH.into();
        Self {
            server,
            mapping: LogMapping::default(),
        }
    }
}

/// Starts an `otlp` source named `name` feeding `pipeline`: it listens on
/// `options.server.address` (bound before this returns) until stopped or
/// dropped.
pub fn start(
    name: &str,
    pipeline: Pipeline,
    options: OtlpSourceOptions,
) -> Result<RunningSource, String> {
    let protocol = protocol::OtlpLogs {
        mapping: options.mapping,
    };
    crate::sources::util::http_listener::start_http_source(
        name,
        pipeline,
        options.server,
        Box::new(protocol),
    )
}
