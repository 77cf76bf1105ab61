//! A configured source: its type with its options, ready to start.

use crate::pipeline::Pipeline;
use crate::sources::RunningSource;
use crate::sources::otlp::OtlpSourceOptions;
use crate::sources::util::server_options::HttpServerOptions;

/// A source's type, with its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// `type = "http_server"`.
    HttpServer(HttpServerOptions),
    /// `type = "otlp"`.
    Otlp(OtlpSourceOptions),
}

impl SourceKind {
    /// Its `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::HttpServer(_) => "http_server",
            SourceKind::Otlp(_) => "otlp",
        }
    }

    /// How it listens.
    pub fn server(&self) -> &HttpServerOptions {
        match self {
            SourceKind::HttpServer(options) => options,
            SourceKind::Otlp(options) => &options.server,
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
        }
    }
}
