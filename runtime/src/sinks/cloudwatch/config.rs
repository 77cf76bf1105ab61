//! The `cloudwatch` sink type: its options.

use super::credentials::AwsCredentials;
use super::sink::{CloudWatchSink, CloudWatchSinkOptions, OversizedEventAction};
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_context::{SinkContext, string_with_secrets};
use crate::registry::sink_options::SinkOptions;
use crate::registry::sink_type::SinkType;
use crate::secret::Secret;
use crate::sinks::util::field_template::FieldTemplate;

/// The `cloudwatch` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "cloudwatch",
        "sends records to AWS CloudWatch Logs (PutLogEvents, SigV4), split within the service's limits; rejected events are dead-lettered alone",
        |options, context| Ok(Box::new(CloudWatchSink::new(sink_options(options, &*context)?))),
    )
    .options(OPTIONS)
}

fn sink_options(
    options: &SinkOptions,
    context: &dyn SinkContext,
) -> Result<CloudWatchSinkOptions, ConfigError> {
    let secret = |option: &str| string_with_secrets(options, context, option);
    let region = match options.string("region")? {
        Some(region) => region,
        None => std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .map_err(|_| {
                options.invalid(
                    "region",
                    "is not set and neither is AWS_REGION or AWS_DEFAULT_REGION; set region = \"us-east-1\" (or the region of the log group)",
                )
            })?,
    };
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(options.invalid(
            "region",
            format!("`{region}` is not a region, such as \"eu-west-1\""),
        ));
    }
    let endpoint_text = options
        .string("endpoint")?
        .unwrap_or_else(|| format!("https://logs.{region}.amazonaws.com/"));
    let endpoint = reqwest::Url::parse(&endpoint_text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.username().is_empty())
        .ok_or_else(|| {
            options.invalid(
                "endpoint",
                format!("`{endpoint_text}` is not an http:// or https:// URL without credentials, such as \"http://127.0.0.1:5000\""),
            )
        })?;
    let credentials = match (
        secret("access_key_id")?,
        secret("secret_access_key")?,
        secret("session_token")?,
    ) {
        (None, None, None) => None,
        (Some(id), Some(key), token) => Some(AwsCredentials {
            access_key_id: id,
            secret_access_key: Secret::new(key),
            session_token: token.map(Secret::new),
        }),
        _ => {
            return Err(options.invalid_sink(
                "set access_key_id and secret_access_key together (session_token is optional), or none of them to use the environment and ~/.aws/credentials",
            ));
        }
    };
    let group = options.require_string("log_group_name")?;
    if group.is_empty() || group.len() > 512 {
        return Err(options.invalid(
            "log_group_name",
            "must be 1 to 512 characters, such as \"/myapp/production\"",
        ));
    }
    let stream_text = match options.string("log_stream_name")? {
        Some(text) => text,
        None => format!("{}-sinkbox", host_name()),
    };
    let log_stream_name = FieldTemplate::parse(&stream_text)
        .map_err(|why| options.invalid("log_stream_name", why))?;
    if log_stream_name.with_holes("x").contains([':', '*']) || stream_text.is_empty() {
        return Err(options.invalid(
            "log_stream_name",
            "a stream name has no `:` or `*` and is not empty, such as \"api-{host}\"",
        ));
    }
    Ok(CloudWatchSinkOptions {
        region,
        endpoint,
        log_group_name: group,
        log_stream_name,
        create_log_group: options.bool("create_log_group")?,
        create_log_stream: options.bool("create_log_stream")?,
        credentials,
        oversized: match options.require_string("oversized_event_action")?.as_str() {
            "reject" => OversizedEventAction::Reject,
            _ => OversizedEventAction::Truncate,
        },
        timestamp_field: options.require_string("timestamp_field")?,
        timeout: options.duration_or_default("timeout")?,
        ca_file: options.path("ca_file")?,
    })
}

/// This machine's name, for the default stream.
fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    let name = String::from_utf8_lossy(&buffer[..end]).replace([':', '*'], "_");
    if ok && !name.is_empty() {
        name
    } else {
        "localhost".into()
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("region", OptionKind::String)
        .help("the AWS region, such as \"us-east-1\"; default: AWS_REGION, then AWS_DEFAULT_REGION"),
    OptionSpec::new("endpoint", OptionKind::String)
        .help("another endpoint than https://logs.<region>.amazonaws.com, such as a VPC endpoint, LocalStack or moto"),
    OptionSpec::new("log_group_name", OptionKind::String)
        .default("/sinkbox/default")
        .help("the log group"),
    OptionSpec::new("log_stream_name", OptionKind::String)
        .help("the log stream; {field} takes a record field, such as \"api-{host}\"; default: \"<host name>-sinkbox\""),
    OptionSpec::new("create_log_group", OptionKind::Bool)
        .default("true")
        .help("create the group when it does not exist"),
    OptionSpec::new("create_log_stream", OptionKind::Bool)
        .default("true")
        .help("create each stream when it does not exist"),
    OptionSpec::new("access_key_id", OptionKind::String)
        .help("an access key id; unset, credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then ~/.aws/credentials (AWS_PROFILE)"),
    OptionSpec::new("secret_access_key", OptionKind::String)
        .help("the secret key, best as ${secret:NAME}; never printed"),
    OptionSpec::new("session_token", OptionKind::String)
        .help("a session token for temporary credentials, best as ${secret:NAME}"),
    OptionSpec::new("oversized_event_action", OptionKind::Choice(&["truncate", "reject"]))
        .default("truncate")
        .help("a record longer than one event holds (1 MiB less 26 bytes): truncate cuts it, reject dead-letters it"),
    OptionSpec::new("timestamp_field", OptionKind::String)
        .default("timestamp")
        .help("the field holding the record's time (RFC 3339 or epoch seconds/ms/µs/ns); records without it get the time they are sent"),
    OptionSpec::new("timeout", OptionKind::Duration)
        .default("30s")
        .help("deadline of one call"),
    OptionSpec::new("ca_file", OptionKind::Path)
        .help("a PEM root certificate to trust besides the webpki roots"),
];
