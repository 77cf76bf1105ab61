//! How to reach a NATS server, as the `nats` sink and the `nats` source
//! both do: the URL, the credentials, TLS, and the connection itself.

use std::time::Duration;

use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::secret::Secret;

/// The credential and TLS options of the `nats` sink and source.
pub(crate) const CONNECTION_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("token", OptionKind::String)
        .help("an auth token, best as ${secret:NAME}; never printed"),
    OptionSpec::new("user", OptionKind::String).help("a user name, with `password`"),
    OptionSpec::new("password", OptionKind::String)
        .help("the user's password, best as ${secret:NAME}; never printed"),
    OptionSpec::new("nkey_seed", OptionKind::String)
        .help("an NKey seed (SU…), best as ${secret:NAME}; never printed"),
    OptionSpec::new("credentials_file", OptionKind::Path)
        .help("a .creds file (JWT and NKey seed) as nsc writes it"),
    OptionSpec::new("tls_required", OptionKind::Bool)
        .default("false")
        .help("refuse a connection without TLS"),
    OptionSpec::new("ca_file", OptionKind::Path)
        .help("a PEM root certificate to trust, for a private CA"),
];

/// Who the sink says it is to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials.
    None,
    /// A token.
    Token(Secret),
    /// A user and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
    /// An NKey seed (`SU…`).
    NKey(Secret),
    /// A `.creds` file (JWT and seed), as `nsc` writes it.
    CredentialsFile(std::path::PathBuf),
}

impl NatsAuth {
    /// The credentials the options name, or what is wrong: at most one
    /// way to authenticate.
    pub(crate) fn from_options(
        token: Option<Secret>,
        user: Option<String>,
        password: Option<Secret>,
        nkey_seed: Option<Secret>,
        credentials_file: Option<std::path::PathBuf>,
    ) -> Result<Self, &'static str> {
        match (token, user, password, nkey_seed, credentials_file) {
            (None, None, None, None, None) => Ok(NatsAuth::None),
            (Some(token), None, None, None, None) => Ok(NatsAuth::Token(token)),
            (None, Some(user), Some(password), None, None) => {
                Ok(NatsAuth::UserPassword { user, password })
            }
            (None, None, None, Some(seed), None) => Ok(NatsAuth::NKey(seed)),
            (None, None, None, None, Some(path)) => Ok(NatsAuth::CredentialsFile(path)),
            _ => Err(
                "set one way to authenticate: token, user with password, nkey_seed, or credentials_file",
            ),
        }
    }
}

/// Checks a `url` option: comma-separated servers, none empty, none with
/// credentials in it (they would be printed).
pub(crate) fn check_url(url: &str) -> Result<(), &'static str> {
    for server in url.split(',') {
        if server.contains('@') {
            return Err(
                "put credentials in token, user/password, nkey_seed or credentials_file, not in the URL, so they are never printed",
            );
        }
        if server.trim().is_empty() {
            return Err("is empty; write \"nats://127.0.0.1:4222\"");
        }
    }
    Ok(())
}

/// How to reach a NATS server: what the `nats` sink and source share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsServerOptions {
    /// Server URLs, `nats://host:4222` (or `tls://`), comma-separated.
    pub url: String,
    /// Credentials.
    pub auth: NatsAuth,
    /// Refuse a connection without TLS.
    pub tls_required: bool,
    /// A PEM root certificate to trust.
    pub ca_file: Option<std::path::PathBuf>,
    /// Deadline of opening the connection.
    pub connect_timeout: Duration,
}

/// A client connected to `server` as `sinkbox`; with `retry_at_start`,
/// returned at once and connecting in the background while the server is
/// down.
pub(crate) async fn connect(
    server: &NatsServerOptions,
    retry_at_start: bool,
) -> Result<async_nats::Client, String> {
    let mut connect = async_nats::ConnectOptions::new()
        .name("sinkbox")
        .connection_timeout(server.connect_timeout)
        .require_tls(server.tls_required);
    if retry_at_start {
        connect = connect.retry_on_initial_connect();
    }
    if let Some(ca) = &server.ca_file {
        connect = connect.add_root_certificates(ca.clone());
    }
    connect = match &server.auth {
        NatsAuth::None => connect,
        NatsAuth::Token(token) => connect.token(token.expose().to_owned()),
        NatsAuth::UserPassword { user, password } => {
            connect.user_and_password(user.clone(), password.expose().to_owned())
        }
        NatsAuth::NKey(seed) => connect.nkey(seed.expose().to_owned()),
        NatsAuth::CredentialsFile(path) => connect
            .credentials_file(path)
            .await
            .map_err(|e| format!("cannot read credentials_file `{}`: {e}", path.display()))?,
    };
    connect
        .connect(server.url.as_str())
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", server.url))
}
