//! Where a socket sink connects: `tcp://`, `unix://`, `ws://`, `wss://`.

use std::path::PathBuf;
use std::str::FromStr;

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
        let shown = crate::sinks::util::uri_redact::redact_uri(text);
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
            Endpoint::Ws(url) | Endpoint::Wss(url) => {
                f.write_str(&crate::sinks::util::uri_redact::redact_uri(url))
            }
        }
    }
}
