//! The `nats` source: a durable pull consumer on a NATS JetStream stream.
//! Each message is one record; a message is acknowledged only once the
//! pipeline's sinks have settled its record (end-to-end
//! acknowledgements), so several sinkbox processes sharing one consumer
//! share the work and a killed one loses nothing: what it had not
//! acknowledged is delivered again after `ack_wait`.

pub(crate) mod config;
mod consumer;
mod invalid_message;
mod message_record;

use std::time::Duration;

pub use consumer::start;

use crate::sinks::nats::NatsServerOptions;

/// How a `nats` source consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsSourceOptions {
    /// The server and how to authenticate.
    pub server: NatsServerOptions,
    /// The stream to consume.
    pub stream: String,
    /// The durable consumer's name: processes with the same name share
    /// the messages.
    pub consumer: String,
    /// Create the consumer when it does not exist (else it must).
    pub create_consumer: bool,
    /// Subjects the consumer takes (all of the stream's when empty); when
    /// it is created.
    pub filter_subjects: Vec<String>,
    /// Most messages delivered and not yet acknowledged, across every
    /// process sharing the consumer; when it is created.
    pub max_ack_pending: i64,
    /// How long the server waits for an acknowledgement before it
    /// delivers the message again; when it is created.
    pub ack_wait: Duration,
    /// Most messages asked for at once.
    pub batch_size: usize,
    /// How long one request for messages waits for them.
    pub batch_expiry: Duration,
    /// How long the server waits before delivering again a message whose
    /// records a sink lost.
    pub nak_delay: Duration,
    /// Add the message's stream, subject, sequence and delivery count to
    /// each record (an object) under this field.
    pub metadata_field: Option<String>,
}
