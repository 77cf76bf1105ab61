//! The three CloudWatch Logs calls the sink makes (`CreateLogGroup`,
//! `CreateLogStream`, `PutLogEvents`), as SigV4-signed JSON requests over
//! the blocking reqwest client, and what their answers mean.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::credentials::AwsCredentials;
use super::event_batches::EventCall;
use crate::sinks::util::http::response_class::bounded_text;

/// What one call came back with.
#[derive(Debug)]
pub(crate) enum ApiAnswer {
    /// 200, with the body.
    Ok(serde_json::Value),
    /// The service refused: its error type (after `#`) and message.
    Error {
        status: u16,
        kind: String,
        message: String,
    },
}

/// One signed client for one region and endpoint.
pub(crate) struct LogsApi {
    client: reqwest::blocking::Client,
    endpoint: reqwest::Url,
    region: String,
    credentials: AwsCredentials,
}

impl LogsApi {
    /// A client; `ca_file` adds a root certificate.
    pub fn new(
        endpoint: reqwest::Url,
        region: String,
        credentials: AwsCredentials,
        timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, String> {
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sinkbox/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the ca_file `{}`: {e}", path.display()))?;
            builder =
                builder
                    .add_root_certificate(reqwest::Certificate::from_pem(&pem).map_err(|e| {
                        format!("the ca_file `{}` is not PEM: {e}", path.display())
                    })?);
        }
        Ok(Self {
            client: builder
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))?,
            endpoint,
            region,
            credentials,
        })
    }

    /// `CreateLogGroup`; an existing group is fine.
    pub fn create_log_group(&self, group: &str) -> Result<(), String> {
        self.create(
            "CreateLogGroup",
            serde_json::json!({ "logGroupName": group }),
        )
    }

    /// `CreateLogStream`; an existing stream is fine.
    pub fn create_log_stream(&self, group: &str, stream: &str) -> Result<(), String> {
        self.create(
            "CreateLogStream",
            serde_json::json!({ "logGroupName": group, "logStreamName": stream }),
        )
    }

    fn create(&self, action: &str, body: serde_json::Value) -> Result<(), String> {
        match self.call(action, serde_json::to_vec(&body).unwrap_or_default())? {
            ApiAnswer::Ok(_) => Ok(()),
            ApiAnswer::Error { kind, .. } if kind == "ResourceAlreadyExistsException" => Ok(()),
            ApiAnswer::Error {
                status,
                kind,
                message,
            } => Err(format!("{action}: HTTP {status} {kind}: {message}")),
        }
    }

    /// `PutLogEvents` of one call's events.
    pub fn put_log_events(&self, group: &str, call: &EventCall) -> Result<ApiAnswer, String> {
        #[derive(serde::Serialize)]
        struct Event<'a> {
            timestamp: i64,
            message: &'a str,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Put<'a> {
            log_group_name: &'a str,
            log_stream_name: &'a str,
            log_events: Vec<Event<'a>>,
        }
        let body = serde_json::to_vec(&Put {
            log_group_name: group,
            log_stream_name: &call.stream,
            log_events: call
                .events
                .iter()
                .map(|e| Event {
                    timestamp: e.timestamp,
                    message: &e.message,
                })
                .collect(),
        })
        .map_err(|e| e.to_string())?;
        self.call("PutLogEvents", body)
    }

    /// Sends one signed request. `Err` is no answer at all.
    fn call(&self, action: &str, body: Vec<u8>) -> Result<ApiAnswer, String> {
        let target = format!("Logs_20140328.{action}");
        let host = self.endpoint.host_str().unwrap_or_default().to_owned();
        let host = match self.endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
            ("host", host.as_str()),
        ];
        let identity = aws_credential_types::Credentials::new(
            self.credentials.access_key_id.clone(),
            self.credentials.secret_access_key.expose().to_owned(),
            self.credentials
                .session_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            None,
            "sinkbox",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("logs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.endpoint.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| format!("cannot sign the request: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into_parts();
        let mut request = self.client.post(self.endpoint.clone());
        for (name, value) in headers.iter().filter(|(n, _)| *n != "host") {
            request = request.header(*name, *value);
        }
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request
            .body(body)
            .send()
            .map_err(|e| format!("{action}: no answer from {}: {e}", self.endpoint))?;
        let status = response.status().as_u16();
        // Answers are small; a hostile endpoint cannot make us hold more.
        let mut text = Vec::new();
        use std::io::Read;
        response
            .take(64 * 1024)
            .read_to_end(&mut text)
            .map_err(|e| format!("{action}: cannot read the answer: {e}"))?;
        let json: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
        if status == 200 {
            return Ok(ApiAnswer::Ok(json));
        }
        // The service's words reach logs and dead letters: bounded and
        // escaped, as every server's answer is.
        let kind = json["__type"]
            .as_str()
            .map(|t| bounded_text(t.rsplit('#').next().unwrap_or(t).as_bytes()))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = json["message"]
            .as_str()
            .or_else(|| json["Message"].as_str())
            .map_or_else(|| bounded_text(&text), |m| bounded_text(m.as_bytes()));
        Ok(ApiAnswer::Error {
            status,
            kind,
            message,
        })
    }
}

/// Whether an error answer may succeed later: throttling, the service
/// being unavailable, 5xx, and credential problems (which an operator
/// fixes without losing what waits).
pub(crate) fn is_transient(status: u16, kind: &str) -> bool {
    status >= 500
        || status == 429
        || status == 403
        || matches!(
            kind,
            "ThrottlingException"
                | "ServiceUnavailableException"
                | "LimitExceededException"
                | "UnrecognizedClientException"
                | "AccessDeniedException"
                | "ExpiredTokenException"
                | "InvalidSequenceTokenException"
                | "OperationAbortedException"
                | "ResourceNotFoundException"
        )
}
