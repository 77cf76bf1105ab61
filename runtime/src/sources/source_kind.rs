//! A configured source: its type with its options, ready to start.

use crate::pipeline::Pipeline;
use crate::sources::RunningSource;
use crate::sources::nats::NatsSourceOptions;
use crate::sources::otlp::OtlpSourceOptions;
use crate::sources::util::server_options::HttpServerOptions;

/// A source's type, with its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// `type = "http_server"`.
    HttpServer(HttpServerOptions),
    /// `type = "otlp"`.
    Otlp(OtlpSourceOptions),
    /// `type = "nats"`.
    Nats(NatsSourceOptions),
}

impl SourceKind {
    /// Its `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::HttpServer(_) => "http_server",
            SourceKind::Otlp(_) => "otlp",
            SourceKind::Nats(_) => "nats",
        }
    }

    /// How it listens, for an HTTP source.
    pub fn server(&self) -> Option<&HttpServerOptions> {
        match self {
            SourceKind::HttpServer(options) => Some(options),
            SourceKind::Otlp(options) => Some(&options.server),
            SourceKind::Nats(_) => None,
        }
    }

    /// Where it takes records from, as `sinkbox validate` prints it:
    /// `http://0.0.0.0:8080/ingest, ack delivered` or `nats://… stream
    /// LOGS, consumer agg`.
    pub fn describe(&self) -> String {
        match (self, self.server()) {
            (SourceKind::Nats(nats), _) => format!(
                "{}, stream {}, consumer {}",
                nats.server.url, nats.stream, nats.consumer
            ),
            (_, Some(server)) => format!(
                "{}://{}{}, ack {}",
                if server.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
                server.address,
                server.path,
                match server.ack {
                    crate::sources::AckMode::Delivered => "delivered",
                    crate::sources::AckMode::Received => "received",
                }
            ),
            (_, None) => String::new(),
        }
    }

    /// Starts it as source `name` feeding `pipeline`.
    pub fn start(&self, name: &str, pipeline: Pipeline) -> Result<RunningSource, String> {
        match self {
            SourceKind::HttpServer(options) => {
                crate::sources::http_server::start(name, pipeline, options.clone())
            }
            SourceKind::Otlp(options) => {
                crate::sources::otlp::start(name, pipeline, options.clone())
            }
            SourceKind::Nats(options) => {
                crate::sources::nats::start(name, pipeline, options.clone())
            }
        }
    }
}
