//! The `webhook` sink type: the `http` options plus the signing secret.

use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::SinkType;
use crate::sinks::http::config::{FORMAT_OPTIONS, batch_format};
use crate::sinks::http::sink::{HttpSink, HttpSinkOptions};
use crate::sinks::util::http::options::{HTTP_OPTIONS, HttpOptions};
use crate::sinks::util::http::signing::{DEFAULT_SIGNATURE_HEADER, Signing};

/// The `webhook` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "webhook",
        "an http sink that signs each request (HMAC-SHA256 over timestamp and body) with a secret from [secrets]",
        |options, context| {
            let http = HttpOptions::from_options(options, &*context)?;
            let name = options.require_string("secret")?;
            let secret = context
                .secret(&name)
                .map_err(|why| options.invalid("secret", why))?;
            if secret.expose().is_empty() {
                return Err(options.invalid("secret", format!("secret `{name}` is empty")));
            }
            let header = options.require_string("signature_header")?;
            if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(options.invalid("signature_header", "not a valid header name"));
            }
            Ok(Box::new(HttpSink::new(HttpSinkOptions {
                http,
                format: batch_format(options)?,
                signing: Some(Signing { secret, header }),
            })))
        },
    )
    .options(HTTP_OPTIONS)
    .options(FORMAT_OPTIONS)
    .option(
        OptionSpec::new("secret", OptionKind::String)
            .required()
            .help("the name of the signing secret in [secrets] (not the secret itself)"),
    )
    .option(
        OptionSpec::new("signature_header", OptionKind::String)
            .default(DEFAULT_SIGNATURE_HEADER)
            .help("the header carrying t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">"),
    )
}
