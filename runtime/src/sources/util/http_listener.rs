//! An HTTP source's server: hyper HTTP/1 (over TLS when configured) on a
//! runtime and thread of its own, at most `max_connections` connections at
//! once, each request handled by `request_flow` with the source's
//! protocol.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};

use super::request_flow::answer;
use super::request_protocol::RequestProtocol;
use super::server_options::HttpServerOptions;
use super::stats::Counters;
use super::tls::TlsReloader;
use crate::pipeline::Pipeline;
use crate::sources::running_source::{RunningSource, Serving, source_runtime};

/// Largest request head (request line and headers) a client may send.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a stopping source waits for requests in flight.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) pipeline: Pipeline,
    pub(crate) options: HttpServerOptions,
    pub(crate) protocol: Box<dyn RequestProtocol>,
    pub(crate) counters: Arc<Counters>,
}

/// Listens on `options.address` (bound before this returns, so a port in
/// use is an error here) and feeds `pipeline` what `protocol` reads from
/// each request.
pub(crate) fn start_http_source(
    name: &str,
    pipeline: Pipeline,
    options: HttpServerOptions,
    protocol: Box<dyn RequestProtocol>,
) -> Result<RunningSource, String> {
    let listener = listen(options.address, options.max_connections)
        .map_err(|e| format!("source `{name}`: cannot listen on {}: {e}", options.address))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("source `{name}`: {e}"))?;
    let runtime = source_runtime(name)?;
    let tls = match &options.tls {
        Some(files) => {
            Some(TlsReloader::new(files.clone()).map_err(|why| format!("source `{name}`: {why}"))?)
        }
        None => None,
    };
    let shared = Arc::new(Shared {
        name: name.to_owned(),
        pipeline,
        options,
        protocol,
        counters: Arc::new(Counters::default()),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let serving = shared.clone();
    let thread = std::thread::Builder::new()
        .name(format!("source-{name}"))
        .spawn(move || runtime.block_on(serve(listener, serving, tls, stopped)))
        .map_err(|e| format!("source `{name}`: cannot start its thread: {e}"))?;
    tracing::debug!(source = name, "listening on {address}");
    let listening = Serving::Listening {
        address,
        path: shared.options.path.clone(),
        tls: shared.options.tls.is_some(),
    };
    Ok(RunningSource::new(
        name,
        listening,
        shared.counters.clone(),
        stop,
        thread,
    ))
}

/// A listening socket whose backlog holds as many connections as the
/// source serves at once (the standard library's 128 makes a burst of
/// clients wait seconds for SYN retries), with `SO_REUSEADDR` so a source
/// restarted by a reload gets its port back at once.
fn listen(address: SocketAddr, max_connections: usize) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(max_connections.clamp(128, 65_535)).unwrap_or(1024))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Accepts connections until told to stop, at most `max_connections` at
/// once (more wait in the listen backlog).
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsReloader>,
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
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(source = %shared.name, "accept failed: {e}");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let shared = shared.clone();
        let stopping = stop.clone();
        let tls = tls
            .as_ref()
            .map(|tls| tokio_rustls::TlsAcceptor::from(tls.current()));
        connections.spawn(async move {
            let _permit = permit;
            let Some(tls) = tls else {
                return serve_connection(stream, peer, shared, stopping).await;
            };
            // The handshake is part of the head: a client gets as long for
            // both as for the head alone.
            let header_timeout = shared.options.header_timeout;
            match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => serve_connection(stream, peer, shared, stopping).await,
                Ok(Err(e)) => tracing::debug!(source = %shared.name, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(source = %shared.name, "TLS handshake timed out"),
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

/// Serves one connection's requests until the client closes it, or, once
/// the source is stopping, until the request in flight is answered.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header_timeout = shared.options.header_timeout;
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(answer(shared, request, peer).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        // Stopping: an idle keep-alive connection closes now, one with a
        // request in flight once it is answered.
        _ = stopping.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
