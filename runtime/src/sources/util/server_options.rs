//! How an HTTP source listens and what it takes, with Vector's names
//! where it has them (`address`, `path`, `auth`).

use std::net::SocketAddr;
use std::time::Duration;

use super::tls::TlsFiles;
use crate::secret::Secret;

/// When a request is answered 200.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AckMode {
    /// Once every sink that takes the records has settled them: delivered,
    /// dead-lettered, dropped by its policy, or synced into its disk
    /// buffer. The default: a client's 200 means the records are safe.
    #[default]
    Delivered,
    /// Once the records are queued for the sinks: faster, and a crash of
    /// sinkbox before delivery loses them.
    Received,
}

/// Credentials a client must send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpServerAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic …` with this user and password.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
}

/// How the source listens and what it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpServerOptions {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub address: SocketAddr,
    /// The one path that takes records (`/` for `http_server`, `/v1/logs`
    /// for `otlp`); any other answers 404.
    pub path: String,
    /// When a request is answered 200.
    pub ack: AckMode,
    /// Credentials every request must carry; `None`: none.
    pub auth: Option<HttpServerAuth>,
    /// Most bytes of a request body, as sent and once decompressed
    /// (a gzip bomb stops there).
    pub max_body_bytes: usize,
    /// Most records in one request.
    pub max_records: usize,
    /// Most connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long a client may take to send its request headers.
    pub header_timeout: Duration,
    /// How long a client may take to send its body.
    pub body_timeout: Duration,
    /// How long a request waits for its records to be settled before it
    /// is answered 503 (the records stay in the pipeline).
    pub ack_timeout: Duration,
    /// Serve HTTPS with this certificate and key (read again when they
    /// change); `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Add `{source, peer}` (this source's name, the client's address) to
    /// each object record under this field.
    pub metadata_field: Option<String>,
}

impl HttpServerOptions {
    /// Options for `address` with the defaults: path `/`, `ack =
    /// "delivered"`, no auth, bodies up to 10 MiB, 100,000 records per
    /// request, 1,024 connections, 10 s for headers, 30 s for the body,
    /// 60 s for the acknowledgement.
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            path: "/".into(),
            ack: AckMode::Delivered,
            auth: None,
            max_body_bytes: 10 << 20,
            max_records: 100_000,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            ack_timeout: Duration::from_secs(60),
            tls: None,
            metadata_field: None,
        }
    }
}
