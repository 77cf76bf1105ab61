//! How a socket sink connects and reconnects: timeouts, back-off, TLS
//! roots; the options `direct` and `relay` share.

use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_options::SinkOptions;
use std::path::PathBuf;
use std::time::Duration;

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
        let ca_file = if options.spec("ca_file").is_some() {
            options.path("ca_file")?
        } else {
            None
        };
        let max_connect_attempts = options.integer_or_default("max_connect_attempts")?;
        Ok(ConnectOptions {
            connect_timeout: options.duration_or_default("connect_timeout")?,
            retry_delay: options.duration_or_default("retry_delay")?,
            max_retry_delay: options.duration_or_default("max_retry_delay")?,
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
