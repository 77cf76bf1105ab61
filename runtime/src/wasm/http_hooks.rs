//! `wasi:http/outgoing-handler` as one sink instance sees it: every request
//! passes the sink's grant before anything is sent; the grant's headers
//! (secrets among them) replace the guest's; the request body is bounded;
//! the instance's requests in flight and per call are bounded. A sink
//! without an HTTP grant gets the same interface, and every request is
//! refused.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::http_egress::{SinkEgress, refusal_error};

/// The HTTP state of one instance.
pub(crate) struct InstanceHttp {
    egress: Option<Arc<SinkEgress>>,
    /// Requests in flight at once; a request waits for a slot.
    slots: Arc<tokio::sync::Semaphore>,
    /// Requests made in the current call.
    this_call: u32,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl InstanceHttp {
    /// The HTTP state of a new instance of a sink with `egress` (or none).
    pub fn new(egress: Option<Arc<SinkEgress>>) -> Self {
        let slots = egress.as_ref().map_or(1, |e| e.grant.concurrency.max(1));
        Self {
            egress,
            slots: Arc::new(tokio::sync::Semaphore::new(slots as usize)),
            this_call: 0,
        }
    }

    /// A new call into the guest starts: its request count starts over.
    pub fn begin_call(&mut self) {
        self.this_call = 0;
    }

    fn refuse(error: HttpError) -> SendFuture {
        Box::new(async move { Err(error) })
    }
}

impl WasiHttpHooks for InstanceHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let Some(egress) = self.egress.clone() else {
            // No grant: no network, as before wasi:http was linked.
            return Self::refuse(HttpError::HttpRequestDenied);
        };
        let (parts, body) = request.into_parts();
        let method = parts.method.as_str().to_owned();
        let asked = parts.uri.to_string();
        let url = match reqwest::Url::parse(&asked) {
            Ok(url) => url,
            Err(_) => {
                egress.refused(&method, &asked, &"it is not a URL");
                return Self::refuse(HttpError::HttpRequestUriInvalid);
            }
        };
        let url = match egress.grant.permit(&method, &url) {
            Ok(url) => url,
            Err(why) => {
                egress.refused(&method, &asked, &why);
                return Self::refuse(refusal_error(why));
            }
        };
        self.this_call += 1;
        if self.this_call > egress.grant.max_requests_per_call {
            egress.refused(
                &method,
                &asked,
                &format_args!(
                    "the call already made http_max_requests_per_call ({}) requests",
                    egress.grant.max_requests_per_call
                ),
            );
            return Self::refuse(HttpError::ConnectionLimitReached);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &parts.headers {
            // The host sets the Host header, the length and the framing.
            if matches!(
                name.as_str(),
                "host" | "content-length" | "transfer-encoding"
            ) {
                continue;
            }
            headers.append(name.clone(), value.clone());
        }
        for (name, value) in &egress.grant.headers {
            // The grant's headers win over anything the guest set.
            let (Ok(name), Ok(mut value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value.expose()),
            ) else {
                continue;
            };
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let method = parts.method.clone();
        let slots = self.slots.clone();
        let cap = egress.grant.max_request_bytes;
        Box::new(async move {
            let _slot = slots
                .acquire_owned()
                .await
                .map_err(|_| HttpError::ConnectionLimitReached)?;
            let body = match read_capped(body, cap).await {
                Ok(body) => body,
                Err(error) => {
                    egress.refused(
                        method.as_str(),
                        &asked,
                        &format_args!("its body is over http_max_request_size ({cap} bytes)"),
                    );
                    return Err(error);
                }
            };
            let response = egress
                .clone()
                .send(method, &asked, url, headers, body)
                .await?;
            let response = response.map(|bytes| {
                http_body_util::Full::new(bytes)
                    .map_err(|never| match never {})
                    .boxed_unsync()
            });
            Ok((
                response,
                Box::new(async { Ok(()) })
                    as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// The whole request body, or an error once it passes `cap` bytes.
async fn read_capped(mut body: WasiBody, cap: u64) -> Result<Bytes, HttpError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(data) = frame.into_data() {
            if out.len() as u64 + data.len() as u64 > cap {
                return Err(HttpError::HttpRequestBodySize(Some(cap)));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.into())
}
