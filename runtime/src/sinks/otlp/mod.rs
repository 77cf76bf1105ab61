//! `otlp`: exports records as OpenTelemetry log records over OTLP/HTTP
//! (`/v1/logs`, protobuf or JSON), to an OpenTelemetry Collector or any
//! OTLP receiver, over the shared delivery layer (`sinks/util/http`).

pub(crate) mod any_value_json;
pub(crate) mod config;
mod log_mapping;
mod log_record_writer;
mod otlp_json;
pub(crate) mod proto;
pub(crate) mod sink;

pub use log_mapping::LogMapping;
pub use sink::{OtlpEncoding, OtlpSink, OtlpSinkOptions};
