//! One HTTP client per sink: connection reuse, timeouts, TLS (rustls with
//! the webpki roots, plus an optional private CA), headers, auth and body
//! compression.

use std::io::Write;
use std::time::Duration;

use super::options::{Compression, HttpAuth, HttpOptions};
use super::signing::Signing;

/// The longest a start-up healthcheck waits for an answer: it only decides
/// what is logged (the sink starts either way), and it holds up pipeline
/// construction (a Python `Pipeline(...)` call) while it waits.
pub(crate) const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What came back from one request.
#[derive(Debug)]
pub(crate) struct HttpAnswer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Most bytes of a response body kept (the reason of a dead letter is cut
/// from it); the rest is not read.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendFailure {
    /// It never went out (no connection, TLS refused, a body that could
    /// not be compressed): safe to send again.
    NotSent(String),
    /// It went out, and then the connection failed or timed out before an
    /// answer: the server may have stored it.
    Unanswered(String),
}

pub(crate) struct HttpClient {
    client: reqwest::blocking::Client,
    options: HttpOptions,
    signing: Option<Signing>,
}

impl HttpClient {
    /// A client for `options`; fails on an unreadable `ca_file` or a header
    /// that is not valid HTTP.
    pub fn new(options: &HttpOptions, signing: Option<Signing>) -> Result<Self, String> {
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sinkbox/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the ca_file `{}`: {e}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                format!(
                    "the ca_file `{}` is not a PEM certificate: {e}",
                    path.display()
                )
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &options.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header `{name}` is not valid in HTTP"))?;
            headers.insert(name, value);
        }
        builder = builder.default_headers(headers);
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Self {
            client,
            options: options.clone(),
            signing,
        })
    }

    /// Sends `body` (compressed as configured) with `content_type`.
    /// `Err` is a failure to get any answer, saying whether the request
    /// went out.
    pub fn send(&self, body: bytes::Bytes, content_type: &str) -> Result<HttpAnswer, SendFailure> {
        let mut request = self
            .client
            .request(self.options.method.clone(), self.options.endpoint.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type);
        request = match &self.options.auth {
            Some(HttpAuth::Basic { user, password }) => request.basic_auth(user, Some(password)),
            Some(HttpAuth::Bearer(token)) => request.bearer_auth(token),
            None => request,
        };
        let body = match self.options.compression {
            Compression::None => body,
            Compression::Gzip => {
                request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder
                    .write_all(&body)
                    .and_then(|()| encoder.finish())
                    .map_err(|e| SendFailure::NotSent(format!("gzip failed: {e}")))?
                    .into()
            }
            Compression::Zstd => {
                request = request.header(reqwest::header::CONTENT_ENCODING, "zstd");
                zstd::bulk::compress(&body, 3)
                    .map_err(|e| SendFailure::NotSent(format!("zstd failed: {e}")))?
                    .into()
            }
        };
        if let Some(signing) = &self.signing {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            request = request.header(signing.header.as_str(), signing.signature(now, &body));
        }
        let response = request.body(body).send().map_err(|e| {
            // A failure to connect happens before any byte of the request
            // is sent; anything later may follow a request the server read.
            if e.is_connect() || e.is_builder() {
                SendFailure::NotSent(self.describe(e))
            } else {
                SendFailure::Unanswered(self.describe(e))
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut kept = Vec::new();
        // A server's answer is read up to a bound: it is only a reason.
        let _ = std::io::Read::read_to_end(
            &mut std::io::Read::take(response, MAX_RESPONSE_BYTES),
            &mut kept,
        );
        Ok(HttpAnswer {
            status,
            retry_after,
            body: kept,
        })
    }

    /// Asks the endpoint for its headers (HEAD): whether a server answers,
    /// within [`HEALTHCHECK_TIMEOUT`] (or the sink's `timeout`, if shorter).
    pub fn healthcheck(&self) -> Result<u16, String> {
        self.client
            .head(self.options.endpoint.clone())
            .timeout(self.options.timeout.min(HEALTHCHECK_TIMEOUT))
            .send()
            .map(|r| r.status().as_u16())
            .map_err(|e| self.describe(e))
    }

    fn describe(&self, err: reqwest::Error) -> String {
        let what = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        // Without the URL: reqwest's message would repeat it, and the
        // endpoint is named once by the caller.
        format!(
            "request to {} {what}: {}",
            self.options.endpoint,
            err.without_url()
        )
    }
}
