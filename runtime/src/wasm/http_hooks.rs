//! `wasi:http/outgoing-handler` as one sink instance sees it: every request
//! passes the sink's grant before anything is sent; the grant's headers
//! (secrets among them) replace the guest's; the request body is bounded;
//! the instance's requests in flight and per call are bounded. A sink
//! without an HTTP grant gets the same interface, and every request is
//! refused.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::http_egress::SinkEgress;

/// Guest headers never sent: framing the host owns, and headers that make
/// some servers use another method or path than the one the grant checked.
const STRIPPED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "upgrade",
    "forwarded",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
];

/// Requests an instance may have outstanding (waiting for a slot, in
/// flight, or answered with a body the guest has not dropped yet), per
/// slot: what a guest that never reads its answers can pile up on the host.
const OUTSTANDING_PER_SLOT: usize = 4;

/// The HTTP state of one instance.
pub(crate) struct InstanceHttp {
    egress: Option<Arc<SinkEgress>>,
    /// Requests in flight at once; a request waits for a slot.
    slots: Arc<tokio::sync::Semaphore>,
    /// Requests made in the current call.
    this_call: u32,
    /// Requests outstanding (see [`OUTSTANDING_PER_SLOT`]).
    outstanding: Arc<AtomicUsize>,
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
            outstanding: Arc::new(AtomicUsize::new(0)),
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
                return Self::refuse(HttpError::HttpRequestDenied);
            }
        };
        self.this_call = self.this_call.saturating_add(1);
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
        let most = egress.grant.concurrency.max(1) as usize * OUTSTANDING_PER_SLOT;
        if self.outstanding.load(Ordering::Relaxed) >= most {
            egress.refused(
                &method,
                &asked,
                &format_args!(
                    "the instance already has {most} requests outstanding (waiting, in flight, or answered and not yet read)"
                ),
            );
            return Self::refuse(HttpError::ConnectionLimitReached);
        }
        let outstanding = Outstanding::new(&self.outstanding);
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &parts.headers {
            // The host sets the Host header, the length and the framing;
            // headers some servers obey to change the method or the path
            // the grant checked are not passed on.
            if STRIPPED_HEADERS.contains(&name.as_str())
                || name.as_str().starts_with("x-forwarded-")
            {
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
        let timeout = egress.grant.timeout;
        let exchange = async move {
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
            Ok(response)
        };
        Box::new(async move {
            // One deadline for all of it: waiting for a slot, the guest's
            // body, the exchange. Past it the request may have reached the
            // server, so it is a response timeout, not a connect one.
            let response = match tokio::time::timeout(timeout, exchange).await {
                Ok(answer) => answer?,
                Err(_) => return Err(HttpError::HttpResponseTimeout),
            };
            // The answer counts as outstanding until the guest drops its body.
            let response = response.map(|bytes| {
                GuardedBody {
                    inner: http_body_util::Full::new(bytes),
                    _outstanding: outstanding,
                }
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

/// One outstanding request of an instance; counted down when dropped.
struct Outstanding(Arc<AtomicUsize>);

impl Outstanding {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request counted as outstanding until
/// the guest is done with it.
struct GuardedBody {
    inner: http_body_util::Full<Bytes>,
    _outstanding: Outstanding,
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        std::pin::Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map(|frame| frame.map(|frame| frame.map_err(|never| match never {})))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
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
