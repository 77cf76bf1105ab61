//! Sending HTTP requests from a sink, over the host's `wasi:http`.
//!
//! A sink reaches only what the operator granted it (`http_allow` in the
//! sink's config): anything else comes back as [`HttpError::Denied`]
//! before a byte leaves the host. The calls block, which suits the one
//! call per batch a sink gets. Headers the operator injects (an API token
//! from `[secrets]`) are added by the host; the sink never sees them, and
//! where a secret belongs in a URL path the sink writes the placeholder
//! `${secret:NAME}` and the host puts the value in.
//!
//! ```ignore
//! let answer = sinkbox_guest::http::post(
//!     "https://hooks.slack.com/services/${secret:slack}",
//!     &[("content-type", "application/json")],
//!     br#"{"text":"disk almost full"}"#,
//! )?;
//! if answer.status == 429 { /* come back later */ }
//! ```

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

/// An answer from the server.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body (the host caps its size).
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The host's grant refused it (destination, method, a per-call or
    /// size limit): do not retry the same request.
    Denied(String),
    /// The URL could not be used.
    BadUrl(String),
    /// No answer: connection refused, timeout, TLS, a body over a cap.
    Failed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(why) => write!(f, "refused by the host's HTTP grant: {why}"),
            HttpError::BadUrl(why) => write!(f, "bad URL: {why}"),
            HttpError::Failed(why) => write!(f, "request failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// `POST`s `body` to `url` with `headers` and waits for the whole answer.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
    request("POST", url, headers, body)
}

/// Sends one request and waits for the whole answer.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, HttpError> {
    let (scheme, authority, path) = split_url(url)?;
    let fields: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&fields)
        .map_err(|e| HttpError::BadUrl(format!("a header is not valid: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_owned()),
    };
    let bad = |what: &str| HttpError::BadUrl(format!("the host refused the {what}"));
    outgoing.set_method(&method).map_err(|()| bad("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| bad("host"))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| bad("path"))?;
    let outgoing_body = outgoing.body().map_err(|()| bad("body"))?;
    // Sent first, so the host reads the body while it is written.
    let pending = outgoing_handler::handle(outgoing, None).map_err(failure)?;
    if let Ok(stream) = outgoing_body.write() {
        for chunk in body.chunks(4096) {
            // A write fails when the host has already given up on the
            // request (a body over its cap); its reason comes below.
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing_body, None);
    let answer = loop {
        match pending.get() {
            Some(answer) => break answer,
            None => pending.subscribe().block(),
        }
    };
    let incoming = answer
        .map_err(|()| HttpError::Failed("the answer was taken twice".into()))?
        .map_err(failure)?;
    let status = incoming.status();
    let headers = incoming.headers().entries();
    let body = incoming
        .consume()
        .map_err(|()| HttpError::Failed("the body was taken twice".into()))?;
    let mut out = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| HttpError::Failed("the body stream was taken twice".into()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(HttpError::Failed(e.to_debug_string()));
                }
            }
        }
    }
    drop(IncomingBody::finish(body));
    Ok(Response {
        status,
        headers,
        body: out,
    })
}

fn failure(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied("the destination or method is not granted".into())
        }
        ErrorCode::ConnectionLimitReached => {
            HttpError::Denied("the call made more requests than the grant allows".into())
        }
        ErrorCode::HttpRequestBodySize(limit) => HttpError::Denied(format!(
            "the body is over the grant's cap ({limit:?} bytes)"
        )),
        ErrorCode::DestinationIpProhibited => {
            HttpError::Denied("the host name resolves to a private address".into())
        }
        other => HttpError::Failed(format!("{other:?}")),
    }
}

/// `https://host:port/path?query` → scheme, authority, path and query.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(HttpError::BadUrl(format!(
            "`{url}` does not start with http:// or https://"
        )));
    };
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    if authority.is_empty() {
        return Err(HttpError::BadUrl(format!("`{url}` has no host")));
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}
