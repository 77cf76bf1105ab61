//! `nats`: each record published to NATS JetStream, acknowledged, deduped.

pub(crate) mod config;
pub(crate) mod sink;

pub use sink::{NatsAuth, NatsServerOptions, NatsSink, NatsSinkOptions, NatsStream};
