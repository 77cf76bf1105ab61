//! `loki`: pushes records to Grafana Loki's push API, grouped into streams
//! by labels (static ones and ones read from record fields, with a guard on
//! their cardinality), as snappy-compressed protobuf or JSON, over the
//! shared delivery layer (`sinks/util/http`).

pub(crate) mod config;
mod labels;
#[cfg(test)]
mod logproto;
mod push_answer;
mod push_writer;
pub(crate) mod sink;

pub use sink::{LineSizeAction, LokiEncoding, LokiSink, LokiSinkOptions, OutOfOrderAction};
