//! The running `http_server` source: a hyper HTTP/1 server on its own
//! runtime. Each request's body is read within its limits, decoded to
//! records on a blocking thread, emitted with an end-to-end
//! acknowledgement, and answered once that acknowledgement says the
//! records are safe (or once they are queued, with `ack = "received"`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::options::{AckMode, HttpServerAuth, HttpServerOptions};
use super::request_body::{BodyError, decompress, records};
use crate::pipeline::Pipeline;

/// Largest request head (request line and headers) a client may send.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a stopping source waits for requests in flight.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the source has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HttpServerStats {
    /// Requests received on the records path.
    pub requests: u64,
    /// Records taken into the pipeline.
    pub records: u64,
    /// Body bytes taken, as received.
    pub bytes: u64,
    /// Requests answered 200.
    pub accepted: u64,
    /// Requests refused for bad input (400, 413, 415).
    pub bad_requests: u64,
    /// Requests refused for missing or wrong credentials (401).
    pub unauthorized: u64,
    /// Requests answered 503: the pipeline did not settle their records in
    /// time, or lost some.
    pub unavailable: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
    accepted: AtomicU64,
    bad_requests: AtomicU64,
    unauthorized: AtomicU64,
    unavailable: AtomicU64,
}

struct Shared {
    name: String,
    pipeline: Pipeline,
    options: HttpServerOptions,
    counters: Counters,
}

/// A running `http_server` source. Stops when [`Self::stop`] is called or
/// it is dropped.
pub struct HttpServerSource {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServerSource {
    /// Listens on `options.address` (bound before this returns, so a port
    /// in use is an error here) and feeds `pipeline`.
    pub fn start(
        name: &str,
        pipeline: Pipeline,
        options: HttpServerOptions,
    ) -> Result<Self, String> {
        let listener = std::net::TcpListener::bind(options.address)
            .map_err(|e| format!("source `{name}`: cannot listen on {}: {e}", options.address))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("source `{name}`: {e}"))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("source `{name}`: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("source-{name}"))
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("source `{name}`: cannot start its runtime: {e}"))?;
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            pipeline,
            options,
            counters: Counters::default(),
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("source-{name}"))
            .spawn(move || runtime.block_on(serve(listener, serving, stopped)))
            .map_err(|e| format!("source `{name}`: cannot start its thread: {e}"))?;
        tracing::debug!(source = name, "http_server listening on {address}");
        Ok(Self {
            address,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens (the port chosen, when it was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Its counters.
    pub fn stats(&self) -> HttpServerStats {
        self.shared.stats()
    }

    /// Reads its counters from another thread (a metrics endpoint), for as
    /// long as the reader lives.
    pub fn stats_reader(&self) -> impl Fn() -> HttpServerStats + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || shared.stats()
    }
}

impl Shared {
    fn stats(&self) -> HttpServerStats {
        let c = &self.counters;
        let n = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        HttpServerStats {
            requests: n(&c.requests),
            records: n(&c.records),
            bytes: n(&c.bytes),
            accepted: n(&c.accepted),
            bad_requests: n(&c.bad_requests),
            unauthorized: n(&c.unauthorized),
            unavailable: n(&c.unavailable),
        }
    }
}

impl HttpServerSource {
    /// Stops listening, lets requests in flight finish (up to 5 s), and
    /// returns once the server is gone.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServerSource {
    fn drop(&mut self) {
        self.shut();
    }
}

/// Accepts connections until told to stop, at most `max_connections` at
/// once (more wait in the listen backlog).
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(source = %shared.name, "cannot serve: {e}");
            return;
        }
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(
        shared.options.max_connections.max(1),
    ));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(source = %shared.name, "accept failed: {e}");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let shared = shared.clone();
        let header_timeout = shared.options.header_timeout;
        let mut stopping = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&shared, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                // Stopping: an idle keep-alive connection closes now, one
                // with a request in flight once it is answered.
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

/// The answer to one request.
async fn answer(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let options = &shared.options;
    let counters = &shared.counters;
    if request.uri().path() != options.path {
        return reply(StatusCode::NOT_FOUND, "no such path".into());
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    if request.method() != hyper::Method::POST {
        counters.bad_requests.fetch_add(1, Ordering::Relaxed);
        let mut response = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "send records with POST".into(),
        );
        response.headers_mut().insert(
            hyper::header::ALLOW,
            "POST".parse().expect("a header value"),
        );
        return response;
    }
    if !authorized(options.auth.as_ref(), &request) {
        counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        // No detail: a wrong token and a missing one look the same.
        return reply(StatusCode::UNAUTHORIZED, "unauthorized".into());
    }
    let header = |name: hyper::header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let encoding = header(hyper::header::CONTENT_ENCODING);
    let content_type = header(hyper::header::CONTENT_TYPE);
    let limit = options.max_body_bytes;
    let collected = tokio::time::timeout(
        options.body_timeout,
        Limited::new(request.into_body(), limit).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(_)) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::TooLarge(limit).to_string(),
            );
        }
        Err(_) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {:?}", options.body_timeout),
            );
        }
    };
    counters
        .bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    let pipeline = shared.pipeline.clone();
    let (max_records, mode) = (options.max_records, options.ack);
    // Decoding and the pipeline's hand-off block: off the async workers.
    let emitted = tokio::task::spawn_blocking(move || {
        let decoded = decompress(encoding.as_deref(), &body, limit)?;
        let records = records(content_type.as_deref(), &decoded, max_records)?;
        let count = records.len();
        let ack = pipeline
            // `records` checked every record already.
            .try_emit_checked_acknowledged(records)
            .map_err(|e| Emit::Refused(e.to_string()))?;
        Ok::<_, Emit>((count, ack))
    });
    let (count, ack) = match tokio::time::timeout(options.ack_timeout, emitted).await {
        Ok(Ok(Ok(emitted))) => emitted,
        Ok(Ok(Err(Emit::Body(err)))) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            let status = match err {
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::UnknownEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::BAD_REQUEST,
            };
            return reply(status, err.to_string());
        }
        Ok(Ok(Err(Emit::Refused(why)))) => return unavailable(counters, &why),
        Ok(Err(_)) => return unavailable(counters, "the request could not be handled"),
        Err(_) => {
            return unavailable(
                counters,
                "the pipeline did not take the records in time (its queues are full)",
            );
        }
    };
    counters.records.fetch_add(count as u64, Ordering::Relaxed);
    let report = match mode {
        AckMode::Received => None,
        AckMode::Delivered => {
            let wait = options.ack_timeout;
            match tokio::task::spawn_blocking(move || ack.wait(wait)).await {
                Ok(Some(report)) => Some(report),
                _ => {
                    return unavailable(
                        counters,
                        "the records were not settled in time; they stay in the pipeline, and a retry may deliver them twice",
                    );
                }
            }
        }
    };
    if let Some(report) = report
        && report.lost > 0
    {
        return unavailable(
            counters,
            &format!(
                "{} records were lost by a sink; send them again",
                report.lost
            ),
        );
    }
    counters.accepted.fetch_add(1, Ordering::Relaxed);
    let body = match report {
        Some(report) => serde_json::json!({
            "records": count,
            "dead_lettered": report.dead_lettered,
            "dropped": report.dropped,
        }),
        None => serde_json::json!({ "records": count }),
    };
    json_reply(StatusCode::OK, body)
}

/// Why records did not make it into the pipeline.
enum Emit {
    Body(BodyError),
    Refused(String),
}

impl From<BodyError> for Emit {
    fn from(err: BodyError) -> Self {
        Emit::Body(err)
    }
}

/// 503 with `Retry-After`: the client should send the request again.
fn unavailable(counters: &Counters, why: &str) -> Response<Full<Bytes>> {
    counters.unavailable.fetch_add(1, Ordering::Relaxed);
    let mut response = reply(StatusCode::SERVICE_UNAVAILABLE, why.to_owned());
    response.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        "1".parse().expect("a header value"),
    );
    response
}

fn reply(status: StatusCode, error: String) -> Response<Full<Bytes>> {
    json_reply(status, serde_json::json!({ "error": error }))
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "application/json".parse().expect("a header value"),
    );
    response
}

/// Whether the request carries the credentials `auth` asks for.
fn authorized(auth: Option<&HttpServerAuth>, request: &Request<Incoming>) -> bool {
    let Some(auth) = auth else {
        return true;
    };
    let Some(given) = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
    else {
        return false;
    };
    let expected = match auth {
        HttpServerAuth::Bearer(token) => format!("Bearer {}", token.expose()),
        HttpServerAuth::Basic { user, password } => format!(
            "Basic {}",
            data_encoding::BASE64.encode(format!("{user}:{}", password.expose()).as_bytes())
        ),
    };
    same_bytes(given, expected.as_bytes())
}

/// Compares in time that depends only on the lengths, not on where the
/// bytes first differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
