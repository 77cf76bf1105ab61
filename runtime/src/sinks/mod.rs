//! Native fast-path sinks: run in-process, behind the same [`Sink`] trait as
//! the sandboxed ones. Each sink is a folder: `config.rs` declares its type
//! for the registry (options, URI form, constructor), `sink.rs` is the
//! running sink; what several share is in `util/`.
//!
//! [`Sink`]: crate::sink::Sink

pub(crate) mod cloudwatch;
pub(crate) mod direct;
pub(crate) mod file;
pub(crate) mod http;
pub(crate) mod loki;
pub(crate) mod mmap;
pub(crate) mod nats;
pub(crate) mod otlp;
pub(crate) mod postgres;
pub(crate) mod relay;
pub(crate) mod rotating_file;
pub(crate) mod stdout;
pub(crate) mod stdout_pretty;
pub(crate) mod util;
pub(crate) mod webhook;

pub use cloudwatch::{AwsCredentials, CloudWatchSink, CloudWatchSinkOptions, OversizedEventAction};
pub use direct::{DirectSink, DirectSinkOptions};
pub use file::{FileSink, FileSinkOptions};
pub use http::{BatchFormat, HttpSink, HttpSinkOptions};
pub use loki::{LineSizeAction, LokiEncoding, LokiSink, LokiSinkOptions, OutOfOrderAction};
pub use mmap::{MmapSink, MmapSinkOptions, MmapWriter, MmapWriterOptions, SyncPolicy};
pub use nats::{NatsAuth, NatsSink, NatsSinkOptions, NatsStream};
pub use otlp::{LogMapping, OtlpEncoding, OtlpSink, OtlpSinkOptions};
pub use postgres::{ExtraColumn, PostgresSink, PostgresSinkOptions, PostgresWriteMode};
pub use relay::{RelaySink, RelaySinkOptions};
pub use rotating_file::{Clock, FileMode, RotatingFileSink, RotatingFileSinkOptions, SystemClock};
pub use stdout::{StdoutSink, StdoutSinkOptions};
pub use stdout_pretty::{ColourChoice, StdoutPrettySink, StdoutPrettySinkOptions};
pub use util::breaker::BreakerState;
pub use util::connection::{ConnectOptions, Endpoint};
pub use util::http::options::{Compression, HttpAuth, HttpOptions};
pub use util::http::signing::{DEFAULT_SIGNATURE_HEADER, Signing};
pub use util::uri_redact::redact_uri;
