//! The `nats` source type: the server and credentials as the `nats` sink
//! names them, the stream and durable consumer, and how messages are
//! fetched and acknowledged.

use super::NatsSourceOptions;
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::secret::Secret;
use crate::sinks::nats::connection::{CONNECTION_OPTIONS, check_url};
use crate::sinks::nats::{NatsAuth, NatsServerOptions};
use crate::sources::SourceKind;
use crate::sources::util::source_options::SourceOptions;
use crate::sources::util::source_type::{SourceType, UriUse};

/// The `nats` source type for the catalog and the loader.
pub(crate) fn source_type() -> SourceType {
    SourceType {
        name: "nats",
        help: "consumes a NATS JetStream stream with a durable pull consumer, each message one record, acknowledged once its record is delivered (several processes share one consumer)",
        schemes: &["nats"],
        uri: UriUse::ServerUrl,
        options: options(),
        build: |options| Ok(SourceKind::Nats(nats_options(options)?)),
    }
}

fn options() -> Vec<OptionSpec> {
    let mut options = vec![
        OptionSpec::new("url", OptionKind::String)
            .default("nats://127.0.0.1:4222")
            .help("the server, nats://host:4222 or tls://host:4222; several comma-separated"),
        OptionSpec::new("stream", OptionKind::String)
            .required()
            .help("the JetStream stream to consume, such as \"LOGS\""),
        OptionSpec::new("consumer", OptionKind::String)
            .required()
            .help("the durable consumer's name; every process with the same name shares the messages"),
        OptionSpec::new("create_consumer", OptionKind::Bool)
            .default("false")
            .help("create the consumer when it does not exist, with the options below; otherwise it must exist and ask for explicit acks"),
        OptionSpec::new("filter_subjects", OptionKind::List)
            .help("subjects the created consumer takes (every subject of the stream when unset; more than one needs nats-server 2.10)"),
        OptionSpec::new("max_ack_pending", OptionKind::Integer)
            .default("10000")
            .help("most messages delivered and not yet acknowledged, across every process (the created consumer's); bounds the duplicates a killed process can cause"),
        OptionSpec::new("ack_wait", OptionKind::Duration)
            .default("30s")
            .help("how long the server waits for an acknowledgement before delivering a message again (the created consumer's); sinkbox extends it while a delivery is in progress"),
        OptionSpec::new("batch_size", OptionKind::Integer)
            .default("500")
            .help("most messages asked for at once"),
        OptionSpec::new("batch_expiry", OptionKind::Duration)
            .default("1s")
            .help("how long one request for messages waits for them"),
        OptionSpec::new("nak_delay", OptionKind::Duration)
            .default("5s")
            .help("when a sink lost records, how long before the server delivers their messages again"),
        OptionSpec::new("metadata_field", OptionKind::String)
            .help("add { stream, subject, stream_sequence, delivered } to each object record under this field (what a destination needs to drop a redelivered message)"),
        OptionSpec::new("connect_timeout", OptionKind::Duration)
            .default("5s")
            .help("deadline of connecting and finding the consumer when the source starts"),
    ];
    options.extend_from_slice(CONNECTION_OPTIONS);
    options
}

fn nats_options(options: &SourceOptions) -> Result<NatsSourceOptions, ConfigError> {
    let url = options.string("url").unwrap_or_default();
    check_url(&url).map_err(|why| options.invalid("url", why))?;
    let auth = NatsAuth::from_options(
        options.string("token").map(Secret::new),
        options.string("user"),
        options.string("password").map(Secret::new),
        options.string("nkey_seed").map(Secret::new),
        options.path("credentials_file"),
    )
    .map_err(|why| options.invalid("token", why))?;
    let name = |option: &str| -> Result<String, ConfigError> {
        let name = options.string(option).unwrap_or_default();
        if name.is_empty() || name.contains(['.', '*', '>', ' ', '/', '\\']) {
            return Err(options.invalid(
                option,
                format!("`{name}` is not a name: no spaces, dots, wildcards or slashes, such as \"LOGS\""),
            ));
        }
        Ok(name)
    };
    let positive = |option: &str| -> Result<u64, ConfigError> {
        match options.integer(option) {
            Some(0) | None => Err(options.invalid(option, "must be above 0")),
            Some(n) => Ok(n),
        }
    };
    let batch_size = positive("batch_size")?;
    if batch_size > 10_000 {
        return Err(options.invalid("batch_size", "must be at most 10000"));
    }
    let duration = |option: &str| -> Result<std::time::Duration, ConfigError> {
        match options.duration(option) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(options.invalid(option, "must be a duration above zero, such as \"5s\"")),
        }
    };
    Ok(NatsSourceOptions {
        server: NatsServerOptions {
            url,
            auth,
            tls_required: options.bool("tls_required").unwrap_or(false),
            ca_file: options.path("ca_file"),
            connect_timeout: duration("connect_timeout")?,
        },
        stream: name("stream")?,
        consumer: name("consumer")?,
        create_consumer: options.bool("create_consumer").unwrap_or(false),
        filter_subjects: options.list("filter_subjects").unwrap_or_default(),
        max_ack_pending: i64::try_from(positive("max_ack_pending")?).unwrap_or(i64::MAX),
        ack_wait: duration("ack_wait")?,
        batch_size: batch_size as usize,
        batch_expiry: duration("batch_expiry")?,
        nak_delay: duration("nak_delay")?,
        metadata_field: options.string("metadata_field").filter(|f| !f.is_empty()),
    })
}
