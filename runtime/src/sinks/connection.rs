//! A lazily opened, self-healing stream connection, shared by every socket
//! sink: it connects on first use with a timeout, notices a peer that went
//! away, and reconnects with exponential back-off.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::config::ConfigError;
use crate::registry::{OptionKind, OptionSpec, SinkOptions};
use crate::sink::Health;

/// Where a socket sink sends its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp://host:port`: NDJSON over a TCP stream.
    Tcp(String),
    /// `unix:///path/to/socket`: NDJSON over a Unix stream socket.
    Unix(PathBuf),
    /// `ws://host:port/path`: one WebSocket text message per batch, holding
    /// the batch's NDJSON lines.
    Ws(String),
    /// `wss://host:port/path`: the same over TLS (rustls; the web PKI roots
    /// plus an optional `ca_file`).
    Wss(String),
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = "expected tcp://host:port, unix:///path/to/socket, ws://host:port/path or wss://host:port/path";
        // Messages show the URI with any password masked.
        let shown = crate::config::redact_uri(text);
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!("`{shown}` is not an endpoint URI; {expected}"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') && matches!(scheme, "tcp" | "unix") {
            return Err(format!(
                "`{shown}`: a {scheme}:// endpoint takes no user or password; only ws:// and wss:// use them (as HTTP Basic auth)"
            ));
        }
        match scheme {
            "tcp"
                if rest.rsplit_once(':').is_some_and(|(host, port)| {
                    !host.is_empty() && port.parse::<u16>().is_ok()
                }) =>
            {
                Ok(Endpoint::Tcp(rest.to_owned()))
            }
            "tcp" => Err(format!(
                "`{shown}` needs a host and a port, such as tcp://127.0.0.1:9000"
            )),
            "unix" if rest.starts_with('/') => Ok(Endpoint::Unix(PathBuf::from(rest))),
            "unix" => Err(format!(
                "`{shown}` needs an absolute socket path, such as unix:///run/sinkbox.sock"
            )),
            "ws" => Ok(Endpoint::Ws(text.to_owned())),
            "wss" => Ok(Endpoint::Wss(text.to_owned())),
            other => Err(format!("unknown scheme `{other}` in `{shown}`; {expected}")),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Ws(url) | Endpoint::Wss(url) => f.write_str(&crate::config::redact_uri(url)),
        }
    }
}

/// Connection settings shared by the socket sinks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Give up one connection attempt after this long (default 5 s); also
    /// the limit on one blocked write.
    pub connect_timeout: Duration,
    /// Wait this long after a failed attempt before the next (default
    /// 100 ms); doubled each failure.
    pub retry_delay: Duration,
    /// Upper bound of that wait (default 30 s).
    pub max_retry_delay: Duration,
    /// Extra certificate authorities (PEM) trusted for `wss://`, besides the
    /// web PKI roots: for private or self-signed servers.
    pub ca_file: Option<PathBuf>,
    /// Reconnect by itself after an established connection is lost (default
    /// `true`). When `false`, a lost connection answers `fatal`, so each
    /// reconnection is a sink restart, bounded by `max_restarts`.
    pub auto_reconnect: bool,
    /// Failed connection attempts in a row after which writes answer
    /// `fatal` instead of `retryable`, handing the sink to the restart
    /// policy; `0` (the default) keeps trying.
    pub max_connect_attempts: u32,
}

/// The connection options every socket sink declares, from one list.
pub(crate) const CONNECTION_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("connect_timeout", OptionKind::Duration)
        .default("5s")
        .help("limit of one connection attempt and of one blocked write"),
    OptionSpec::new("retry_delay", OptionKind::Duration)
        .default("100ms")
        .help("wait after a failed connection attempt, doubled each failure"),
    OptionSpec::new("max_retry_delay", OptionKind::Duration)
        .default("30s")
        .help("upper bound of that wait"),
    OptionSpec::new("auto_reconnect", OptionKind::Bool)
        .default("true")
        .help("reconnect after a lost connection; false makes each reconnect a restart"),
    OptionSpec::new("max_connect_attempts", OptionKind::Integer)
        .default("0")
        .help("failed attempts in a row before writes answer fatal; 0 keeps trying"),
];

impl ConnectOptions {
    /// Reads [`CONNECTION_OPTIONS`] (and `ca_file`, if the type declares it).
    pub(crate) fn from_options(options: &SinkOptions) -> Result<Self, ConfigError> {
        let defaults = ConnectOptions::default();
        let ca_file = if options.spec("ca_file").is_some() {
            options.path("ca_file")?
        } else {
            None
        };
        let max_connect_attempts = options.integer("max_connect_attempts")?.unwrap_or(0);
        Ok(ConnectOptions {
            connect_timeout: options
                .duration("connect_timeout")?
                .unwrap_or(defaults.connect_timeout),
            retry_delay: options
                .duration("retry_delay")?
                .unwrap_or(defaults.retry_delay),
            max_retry_delay: options
                .duration("max_retry_delay")?
                .unwrap_or(defaults.max_retry_delay),
            ca_file,
            auto_reconnect: options.bool("auto_reconnect")?,
            max_connect_attempts: u32::try_from(max_connect_attempts).map_err(|_| {
                options.invalid("max_connect_attempts", "too large; use 0 to keep trying")
            })?,
        })
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_secs(30),
            ca_file: None,
            auto_reconnect: true,
            max_connect_attempts: 0,
        }
    }
}

/// The TLS client settings for `wss://`: the web PKI roots plus `ca_file`.
fn tls_config(
    ca_file: Option<&std::path::Path>,
) -> io::Result<std::sync::Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
            io::Error::other(format!("cannot read ca_file `{}`: {e}", path.display()))
        })?;
        for cert in certs {
            let cert = cert.map_err(|e| {
                io::Error::other(format!("bad certificate in `{}`: {e}", path.display()))
            })?;
            roots.add(cert).map_err(|e| {
                io::Error::other(format!("unusable certificate in `{}`: {e}", path.display()))
            })?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    Ws(Box<tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>>),
}

impl Transport {
    fn connect(endpoint: &Endpoint, options: &ConnectOptions) -> io::Result<Self> {
        let timeout = options.connect_timeout;
        match endpoint {
            Endpoint::Tcp(addr) => {
                let stream = connect_tcp(addr, timeout)?;
                Ok(Transport::Tcp(stream))
            }
            Endpoint::Unix(path) => {
                // std's connect has no timeout, and blocks while a busy
                // listener's backlog is full.
                let socket =
                    socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
                socket.connect_timeout(&socket2::SockAddr::unix(path)?, timeout)?;
                let stream: UnixStream = socket.into();
                stream.set_write_timeout(Some(timeout))?;
                Ok(Transport::Unix(stream))
            }
            Endpoint::Ws(url) | Endpoint::Wss(url) => {
                let (url, credentials) = split_credentials(url);
                let mut request =
                    tungstenite::client::IntoClientRequest::into_client_request(url.as_str())
                        .map_err(io::Error::other)?;
                if let Some(credentials) = credentials {
                    let value = format!(
                        "Basic {}",
                        data_encoding::BASE64.encode(credentials.as_bytes())
                    );
                    let value = tungstenite::http::HeaderValue::from_str(&value)
                        .map_err(io::Error::other)?;
                    request.headers_mut().insert("authorization", value);
                }
                let tls = matches!(endpoint, Endpoint::Wss(_));
                let host = request.uri().host().unwrap_or_default().to_owned();
                let port = request
                    .uri()
                    .port_u16()
                    .unwrap_or(if tls { 443 } else { 80 });
                let stream = connect_tcp(&format!("{host}:{port}"), options.connect_timeout)?;
                stream.set_read_timeout(Some(options.connect_timeout))?;
                let connector = if tls {
                    tungstenite::Connector::Rustls(tls_config(options.ca_file.as_deref())?)
                } else {
                    tungstenite::Connector::Plain
                };
                let (socket, _) =
                    tungstenite::client_tls_with_config(request, stream, None, Some(connector))
                        .map_err(|e| io::Error::other(e.to_string()))?;
                Ok(Transport::Ws(Box::new(socket)))
            }
        }
    }

    /// Writes `bytes`; on failure also says how many bytes went out first.
    fn send(&mut self, bytes: &[u8]) -> Result<(), (usize, io::Error)> {
        fn write_counted(stream: &mut impl Write, bytes: &[u8]) -> Result<(), (usize, io::Error)> {
            let mut sent = 0;
            while sent < bytes.len() {
                match stream.write(&bytes[sent..]) {
                    Ok(0) => return Err((sent, io::ErrorKind::WriteZero.into())),
                    Ok(n) => sent += n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err((sent, err)),
                }
            }
            Ok(())
        }
        match self {
            Transport::Tcp(stream) => write_counted(stream, bytes),
            Transport::Unix(stream) => write_counted(stream, bytes),
            Transport::Ws(socket) => {
                let text = std::str::from_utf8(bytes).map_err(|e| (0, io::Error::other(e)))?;
                socket
                    .send(tungstenite::Message::text(text))
                    .map_err(|e| (0, io::Error::other(e.to_string())))
            }
        }
    }

    /// Whether the peer has closed its side. Receivers of this protocol never
    /// send data, so any readable byte is discarded, and end-of-stream means
    /// the peer went away: writing now would silently lose the batch.
    fn peer_closed(&mut self) -> bool {
        fn closed(
            stream: &mut (impl Read + ?Sized),
            set_nonblocking: impl Fn(bool) -> io::Result<()>,
        ) -> bool {
            if set_nonblocking(true).is_err() {
                return true;
            }
            let mut buf = [0u8; 512];
            let closed = loop {
                match stream.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(_) => continue,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break false,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break true,
                }
            };
            closed || set_nonblocking(false).is_err()
        }
        match self {
            Transport::Tcp(stream) => {
                let handle = stream.try_clone();
                match handle {
                    Ok(handle) => closed(stream, |on| handle.set_nonblocking(on)),
                    Err(_) => true,
                }
            }
            Transport::Unix(stream) => {
                let handle = stream.try_clone();
                match handle {
                    Ok(handle) => closed(stream, |on| handle.set_nonblocking(on)),
                    Err(_) => true,
                }
            }
            // Read whatever the server sent (pings are answered by
            // tungstenite, a close frame means it is going away).
            Transport::Ws(socket) => {
                let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_ref() else {
                    return ws_closed(socket);
                };
                if tcp.set_nonblocking(true).is_err() {
                    return true;
                }
                let closed = ws_closed(socket);
                let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_ref() else {
                    return true;
                };
                closed || tcp.set_nonblocking(false).is_err()
            }
        }
    }
}

/// Drains the frames a WebSocket server sent; `true` if it closed. Over TLS
/// the socket stays blocking, so only what is already buffered is seen.
fn ws_closed(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
) -> bool {
    if !socket.can_read() {
        return true;
    }
    if !matches!(
        socket.get_ref(),
        tungstenite::stream::MaybeTlsStream::Plain(_)
    ) {
        return false;
    }
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Close(_)) => return true,
            Ok(_) => continue,
            Err(tungstenite::Error::Io(err)) if err.kind() == io::ErrorKind::WouldBlock => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Splits `user:password@` off a WebSocket URL: the URL to connect to, and
/// the credentials for HTTP Basic auth (percent-decoding is left to the
/// user: write them as the server expects them).
fn split_credentials(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((credentials, host)) => (
            format!("{scheme}://{host}{}", &rest[end..]),
            Some(credentials.to_owned()),
        ),
        None => (url.to_owned(), None),
    }
}

fn connect_tcp(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last_error = io::Error::new(
        io::ErrorKind::NotFound,
        format!("`{addr}` resolves to no address"),
    );
    for candidate in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&candidate, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                stream.set_write_timeout(Some(timeout))?;
                return Ok(stream);
            }
            Err(err) => last_error = err,
        }
    }
    Err(last_error)
}

/// Why a send failed, and how many whole records went out before it.
#[derive(Debug)]
pub(crate) struct SendError {
    pub records_sent: u32,
    pub reason: String,
    /// The connection gave up (see `auto_reconnect`, `max_connect_attempts`).
    pub fatal: bool,
}

impl SendError {
    /// The outcome for the pipeline: `partial` if some records went out.
    pub fn outcome(self) -> crate::sink::WriteOutcome {
        use crate::sink::WriteOutcome;
        if self.fatal && self.records_sent == 0 {
            WriteOutcome::Fatal(self.reason)
        } else if self.records_sent > 0 {
            WriteOutcome::Partial {
                accepted: self.records_sent,
                reason: self.reason,
            }
        } else {
            WriteOutcome::Retryable(self.reason)
        }
    }
}

/// A connection opened on first use and reopened after a failure, with
/// exponential back-off between attempts.
pub(crate) struct LazyConnection {
    endpoint: Endpoint,
    options: ConnectOptions,
    transport: Option<Transport>,
    next_attempt: Option<Instant>,
    delay: Duration,
    last_error: Option<String>,
    failed_attempts: u32,
    /// Why the connection gave up; cleared by [`LazyConnection::reset`].
    gave_up: Option<String>,
}

impl LazyConnection {
    pub fn new(endpoint: Endpoint, options: ConnectOptions) -> Self {
        let delay = options.retry_delay;
        Self {
            endpoint,
            options,
            transport: None,
            next_attempt: None,
            delay,
            last_error: None,
            failed_attempts: 0,
            gave_up: None,
        }
    }

    /// Forgets past failures: called when the sink (re)starts.
    pub fn reset(&mut self) {
        self.close();
        self.transport = None;
        self.next_attempt = None;
        self.delay = self.options.retry_delay;
        self.failed_attempts = 0;
        self.gave_up = None;
    }

    /// Records that an established connection was lost.
    fn lost(&mut self) {
        if !self.options.auto_reconnect {
            self.gave_up = Some(format!(
                "the connection to {} was lost and auto_reconnect is off",
                self.endpoint
            ));
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn fail(&mut self, what: &str, err: impl std::fmt::Display) -> String {
        self.transport = None;
        let message = format!("{what} {}: {err}", self.endpoint);
        self.next_attempt = Some(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(self.options.max_retry_delay);
        self.last_error = Some(message.clone());
        message
    }

    /// Whether a transport is connected and its peer still there, connecting
    /// first if needed (unless still backing off from the last failure).
    pub fn ensure_connected(&mut self) -> Result<(), String> {
        if let Some(transport) = &mut self.transport
            && transport.peer_closed()
        {
            self.transport = None;
            self.last_error = Some(format!("{} closed the connection", self.endpoint));
            tracing::info!(endpoint = %self.endpoint, "the peer closed the connection");
            self.lost();
        }
        if self.transport.is_some() {
            return Ok(());
        }
        if let Some(why) = &self.gave_up {
            return Err(why.clone());
        }
        if let Some(at) = self.next_attempt
            && Instant::now() < at
        {
            let why = self.last_error.clone().unwrap_or_default();
            return Err(format!(
                "not connected (next attempt in {:?}): {why}",
                at - Instant::now()
            ));
        }
        match Transport::connect(&self.endpoint, &self.options) {
            Ok(transport) => {
                self.transport = Some(transport);
                self.next_attempt = None;
                self.delay = self.options.retry_delay;
                self.last_error = None;
                self.failed_attempts = 0;
                Ok(())
            }
            Err(err) => {
                let message = self.fail("cannot connect to", err);
                self.failed_attempts += 1;
                let limit = self.options.max_connect_attempts;
                if limit > 0 && self.failed_attempts >= limit {
                    self.gave_up = Some(format!(
                        "gave up after {limit} failed connection attempts: {message}"
                    ));
                }
                Err(message)
            }
        }
    }

    /// Sends `bytes` whole, connecting first if needed. On failure the
    /// connection is dropped, so the next call reconnects; the error says
    /// how many whole records (newline-terminated) went out before it.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.ensure_connected().map_err(|reason| SendError {
            records_sent: 0,
            fatal: self.gave_up.is_some(),
            reason: self.gave_up.clone().unwrap_or(reason),
        })?;
        let transport = self.transport.as_mut().expect("connected above");
        match transport.send(bytes) {
            Ok(()) => Ok(()),
            Err((sent, err)) => {
                let records_sent = memchr::memchr_iter(b'\n', &bytes[..sent]).count() as u32;
                let reason = self.fail("lost the connection to", err);
                self.lost();
                Err(SendError {
                    records_sent,
                    fatal: self.gave_up.is_some(),
                    reason,
                })
            }
        }
    }

    /// The connection's health. After a failure, once the back-off has
    /// passed, it tries to reconnect (bounded by `connect_timeout`), so a
    /// recovered endpoint reports healthy without waiting for a write.
    pub fn health(&mut self) -> Health {
        if let Some(why) = &self.gave_up {
            return Health::Unhealthy(why.clone());
        }
        if self.transport.is_none()
            && self.last_error.is_some()
            && self.next_attempt.is_none_or(|at| Instant::now() >= at)
        {
            let _ = self.ensure_connected();
        }
        match (&self.transport, &self.last_error) {
            (Some(_), _) => Health::Healthy,
            (None, Some(err)) => Health::Unhealthy(err.clone()),
            (None, None) => Health::Degraded(format!(
                "not connected yet to {} (connects on first write)",
                self.endpoint
            )),
        }
    }

    pub fn close(&mut self) {
        if let Some(Transport::Ws(mut socket)) = self.transport.take() {
            let _ = socket.close(None);
            let _ = socket.flush();
        }
    }
}
