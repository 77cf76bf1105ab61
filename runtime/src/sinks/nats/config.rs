//! The `nats` sink type: its options and URI form.

use super::connection::{CONNECTION_OPTIONS, NatsAuth, check_url};
use super::sink::{NatsSink, NatsSinkOptions, NatsStream};
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_context::{SinkContext, string_with_secrets};
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::secret::Secret;
use crate::sinks::util::field_template::FieldTemplate;

/// The `nats` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "nats",
        "publishes each record to NATS JetStream and waits for the stream's acks; subject from record fields, Nats-Msg-Id dedupe",
        |options, context| {
            Ok(Box::new(NatsSink::new(
                options.sink_name(),
                sink_options(options, &*context)?,
            )))
        },
    )
    .options(OPTIONS)
    .options(CONNECTION_OPTIONS)
    .uri(UriForm {
        schemes: &["nats"],
        target: UriTarget::WholeUri("url"),
        rest_into: None,
    })
}

fn sink_options(
    options: &SinkOptions,
    context: &dyn SinkContext,
) -> Result<NatsSinkOptions, ConfigError> {
    let secret = |option: &str| -> Result<Option<Secret>, ConfigError> {
        Ok(string_with_secrets(options, context, option)?.map(Secret::new))
    };
    let url = options.require_string("url")?;
    check_url(&url).map_err(|why| options.invalid("url", why))?;
    let subject_text = options.require_string("subject")?;
    let subject =
        FieldTemplate::parse(&subject_text).map_err(|why| options.invalid("subject", why))?;
    let literal = subject.with_holes("x");
    if literal.is_empty()
        || literal.split('.').any(|token| token.is_empty())
        || literal.contains([' ', '*', '>'])
    {
        return Err(options.invalid(
            "subject",
            format!("`{subject_text}` is not a NATS subject: dot-separated tokens without spaces or wildcards, such as \"logs.{{service}}.{{level}}\""),
        ));
    }
    let auth = NatsAuth::from_options(
        secret("token")?,
        options.string("user")?,
        secret("password")?,
        secret("nkey_seed")?,
        options.path("credentials_file")?,
    )
    .map_err(|why| options.invalid_sink(why))?;
    let stream = match options.string("stream")? {
        Some(name) => {
            if name.is_empty() || name.contains(['.', '*', '>', ' ', '/', '\\']) {
                return Err(options.invalid(
                    "stream",
                    "a stream name has no spaces, dots, wildcards or slashes, such as \"LOGS\"",
                ));
            }
            options.bool("create_stream")?.then(|| NatsStream {
                name,
                subjects: vec![subject.with_holes("*")],
            })
        }
        None => None,
    };
    let max_in_flight = options.integer_or_default("max_in_flight")?;
    if !(1..=65_536).contains(&max_in_flight) {
        return Err(options.invalid("max_in_flight", "must be from 1 to 65536, such as 1024"));
    }
    Ok(NatsSinkOptions {
        url,
        subject,
        auth,
        tls_required: options.bool("tls_required")?,
        ca_file: options.path("ca_file")?,
        stream,
        dedupe: options.bool("dedupe")?,
        ack_timeout: options.duration_or_default("ack_timeout")?,
        max_in_flight: max_in_flight as usize,
        connect_timeout: options.duration_or_default("connect_timeout")?,
        timeout: options.duration_or_default("timeout")?,
    })
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("url", OptionKind::String)
        .default("nats://127.0.0.1:4222")
        .help("the server, nats://host:4222 or tls://host:4222; several comma-separated"),
    OptionSpec::new("subject", OptionKind::String)
        .default("logs")
        .help("the subject each record goes to; {field} takes a record field, such as \"logs.{service}.{level}\" (dots, spaces and wildcards in values become _; a missing field is `unknown`)"),
    OptionSpec::new("stream", OptionKind::String)
        .help("the JetStream stream that captures the subject; with create_stream, made when missing (file storage, subjects from `subject` with each {field} as *)"),
    OptionSpec::new("create_stream", OptionKind::Bool)
        .default("true")
        .help("create `stream` when it does not exist"),
    OptionSpec::new("dedupe", OptionKind::Bool)
        .default("true")
        .help("send Nats-Msg-Id (this run and the record's sequence) so the server drops a retried message it already stored, within the stream's duplicate window (2 minutes by default)"),
    OptionSpec::new("ack_timeout", OptionKind::Duration)
        .default("5s")
        .help("how long to wait for the stream to acknowledge a publish; past it the record is retried"),
    OptionSpec::new("max_in_flight", OptionKind::Integer)
        .default("1024")
        .help("most publishes awaiting an ack at once (1 to 65536)"),
    OptionSpec::new("connect_timeout", OptionKind::Duration)
        .default("5s")
        .help("deadline of opening a connection"),
    OptionSpec::new("timeout", OptionKind::Duration)
        .default("30s")
        .help("deadline of publishing one batch; past it the unacknowledged rest is retried"),
];
