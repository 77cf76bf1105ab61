//! One open connection: TCP, Unix socket or WebSocket (with TLS for `wss`).

use super::connect_options::ConnectOptions;
use super::endpoint::Endpoint;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The TLS client settings for `wss://`: the web PKI roots plus `ca_file`.
pub(crate) fn tls_config(
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

pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    Ws(Box<tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>>),
}

impl Transport {
    pub(crate) fn connect(endpoint: &Endpoint, options: &ConnectOptions) -> io::Result<Self> {
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
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<(), (usize, io::Error)> {
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
    pub(crate) fn peer_closed(&mut self) -> bool {
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
pub(crate) fn ws_closed(
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
pub(crate) fn split_credentials(url: &str) -> (String, Option<String>) {
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

pub(crate) fn connect_tcp(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
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
