//! `nats`: each record published to NATS JetStream, acknowledged, deduped.

pub(crate) mod config;
pub(crate) mod connection;
mod publish;
pub(crate) mod sink;

pub use connection::{NatsAuth, NatsServerOptions};
pub use sink::{NatsSink, NatsSinkOptions, NatsStream};
