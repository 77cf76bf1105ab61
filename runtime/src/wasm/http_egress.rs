//! The host half of a sandboxed sink's HTTP: one client per sink (rustls,
//! no redirects, the grant's timeouts), a resolver that refuses private
//! addresses for names the operator did not mark as private, the counters,
//! and sending one request that the grant has already admitted.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use wasmtime_wasi_http::Error as HttpError;

use super::http_grant::HttpGrant;

/// What a sandboxed sink did over HTTP, for stats and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HttpStats {
    /// Requests the grant admitted and the host sent.
    pub requests: u64,
    /// Requests refused by the grant (destination, method, per-call cap,
    /// body size) before any byte left.
    pub refused: u64,
    /// Admitted requests that got no answer (connection, TLS, timeout, a
    /// private address) or whose answer was over the size cap.
    pub failed: u64,
    /// Request body bytes sent.
    pub bytes_out: u64,
    /// Response body bytes handed to the guest.
    pub bytes_in: u64,
    /// Answers by class.
    pub status_2xx: u64,
    /// 3xx answers (never followed by the host).
    pub status_3xx: u64,
    /// 4xx answers.
    pub status_4xx: u64,
    /// 5xx answers.
    pub status_5xx: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    classes: [AtomicU64; 4],
}

/// One request a guest made, as `sinkbox check` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// The method.
    pub method: String,
    /// The URL as the guest wrote it (placeholders, never secret values),
    /// cut to 256 bytes and escaped.
    pub url: String,
    /// `HTTP <status>`, `refused: <why>` or `failed: <error>`.
    pub outcome: String,
}

/// Requests remembered for [`SinkEgress::recent_requests`].
const MAX_RECENT: usize = 100;

/// Most refused targets remembered for "logged once per target".
const MAX_LOGGED_TARGETS: usize = 1024;

/// A sink's HTTP egress: what it may send and the client that sends it,
/// shared by every instance of the sink, so its
/// counters survive restarts.
pub struct SinkEgress {
    sink: String,
    pub(crate) grant: HttpGrant,
    client: reqwest::Client,
    counters: Counters,
    logged: parking_lot::Mutex<HashSet<String>>,
    /// Every secret value the grant can send, masked in answers (worked
    /// out once: the grant does not change).
    secrets: Vec<String>,
    recent: parking_lot::Mutex<std::collections::VecDeque<RequestRecord>>,
}

impl std::fmt::Debug for SinkEgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkEgress")
            .field("sink", &self.sink)
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

impl SinkEgress {
    /// The egress of sink `sink` under `grant`; fails on an unreadable
    /// `ca_file`.
    pub fn new(sink: &str, grant: HttpGrant) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would resolve names itself and
            // get around the private-address check (and see the secrets).
            .no_proxy()
            .connect_timeout(grant.connect_timeout)
            .timeout(grant.timeout)
            .user_agent(concat!(
                "sinkbox/",
                env!("CARGO_PKG_VERSION"),
                " (sandboxed sink)"
            ))
            .dns_resolver(Arc::new(GuardedResolver {
                private_hosts: grant.private_hosts.clone().into(),
            }));
        if let Some(path) = &grant.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read http_ca_file `{}`: {e}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("http_ca_file `{}` is not PEM: {e}", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let secrets = grant.secret_values();
        Ok(Self {
            sink: sink.to_owned(),
            grant,
            client,
            counters: Counters::default(),
            logged: parking_lot::Mutex::new(HashSet::new()),
            secrets,
            recent: parking_lot::Mutex::new(std::collections::VecDeque::new()),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> HttpStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        HttpStats {
            requests: get(&c.requests),
            refused: get(&c.refused),
            failed: get(&c.failed),
            bytes_out: get(&c.bytes_out),
            bytes_in: get(&c.bytes_in),
            status_2xx: get(&c.classes[0]),
            status_3xx: get(&c.classes[1]),
            status_4xx: get(&c.classes[2]),
            status_5xx: get(&c.classes[3]),
        }
    }

    /// The last requests the guest made (at most 100), oldest first.
    pub fn recent_requests(&self) -> Vec<RequestRecord> {
        self.recent.lock().iter().cloned().collect()
    }

    fn remember(&self, method: &str, url: &str, outcome: String) {
        let mut recent = self.recent.lock();
        if recent.len() == MAX_RECENT {
            recent.pop_front();
        }
        recent.push_back(RequestRecord {
            method: crate::untrusted_text::bound_and_escape(method, 32),
            url: crate::untrusted_text::bound_and_escape(url, 256),
            outcome,
        });
    }

    /// Counts a refusal and logs it the first time for its target. The
    /// target is what the guest asked for (it never holds a secret value).
    pub(crate) fn refused(&self, method: &str, url: &str, why: &dyn std::fmt::Display) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        self.remember(method, url, format!("refused: {why}"));
        let target = crate::untrusted_text::bound_and_escape(&format!("{method} {url}"), 256);
        // Remembered by method and origin, so junk paths cannot use up the set.
        let origin = reqwest::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "(not a URL)".into());
        let key = crate::untrusted_text::bound_and_escape(&format!("{method} {origin}"), 256);
        let mut logged = self.logged.lock();
        if logged.len() < MAX_LOGGED_TARGETS && logged.insert(key) {
            tracing::warn!(
                sink = %self.sink,
                "refused the guest's HTTP request {target}: {why} (further refusals of this target are only counted)"
            );
        }
    }

    /// Sends an admitted request and reads the answer up to the cap.
    pub(crate) async fn send(
        self: Arc<Self>,
        method: reqwest::Method,
        asked: &str,
        url: reqwest::Url,
        headers: reqwest::header::HeaderMap,
        body: Bytes,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let method_name = method.as_str().to_owned();
        let answer = self.exchange(method, url, headers, body).await;
        let outcome = match &answer {
            Ok(response) => format!("HTTP {}", response.status().as_u16()),
            Err(err) => format!("failed: {err}"),
        };
        self.remember(&method_name, asked, outcome);
        answer
    }

    async fn exchange(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
        headers: reqwest::header::HeaderMap,
        body: Bytes,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let sent = body.len() as u64;
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .client
            .request(method, url)
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut response = match answer {
            Ok(response) => response,
            Err(err) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                return Err(transport_error(&err));
            }
        };
        self.counters.bytes_out.fetch_add(sent, Ordering::Relaxed);
        let status = response.status();
        let class = match status.as_u16() {
            200..=299 => Some(0),
            300..=399 => Some(1),
            400..=499 => Some(2),
            500..=599 => Some(3),
            _ => None,
        };
        if let Some(class) = class {
            self.counters.classes[class].fetch_add(1, Ordering::Relaxed);
        }
        let cap = self.grant.max_response_bytes;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > cap {
                        self.counters.failed.fetch_add(1, Ordering::Relaxed);
                        return Err(HttpError::HttpResponseBodySize(Some(cap)));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(transport_error(&err));
                }
            }
        }
        self.counters
            .bytes_in
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        // A server may echo what the host put in (a redirect's Location, an
        // error page repeating the path): the guest gets `***` instead.
        let body = mask(body, &self.secrets);
        let mut out = http::Response::builder().status(status.as_u16());
        for (name, value) in response.headers() {
            out = out.header(
                name.as_str(),
                mask(value.as_bytes().to_vec(), &self.secrets),
            );
        }
        out.body(Bytes::from(body))
            .map_err(|e| HttpError::InternalError(Some(e.to_string())))
    }
}

/// `bytes` with every occurrence of a secret replaced by `***`.
fn mask(bytes: Vec<u8>, secrets: &[String]) -> Vec<u8> {
    let mut bytes = bytes;
    for secret in secrets {
        let finder = memchr::memmem::Finder::new(secret.as_bytes());
        if finder.find(&bytes).is_none() {
            continue;
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = &bytes[..];
        while let Some(at) = finder.find(rest) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(b"***");
            rest = &rest[at + secret.len()..];
        }
        out.extend_from_slice(rest);
        bytes = out;
    }
    bytes
}

/// What a transport failure is called in wasi:http.
fn transport_error(err: &reqwest::Error) -> HttpError {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<PrivateAddressRefused>().is_some() {
            return HttpError::DestinationIpProhibited;
        }
        source = e.source();
    }
    // A timeout while connecting sent nothing; one later may follow a
    // request the server read, and the guest should know the difference.
    if err.is_timeout() && err.is_connect() {
        HttpError::ConnectionTimeout
    } else if err.is_timeout() {
        HttpError::HttpResponseTimeout
    } else if err.is_connect() {
        HttpError::ConnectionRefused
    } else {
        HttpError::HttpProtocolError
    }
}

/// Resolves host names and keeps only the addresses the grant allows: a
/// name not in `http_private_hosts` may only reach public addresses, so a
/// listed name that resolves (or is rebound) to a loopback, private or
/// link-local address is refused. The addresses it returns are the ones
/// connected to: there is no second lookup to race.
struct GuardedResolver {
    private_hosts: Arc<[String]>,
}

#[derive(Debug)]
struct PrivateAddressRefused(String);

impl std::fmt::Display for PrivateAddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` resolves only to loopback, private or link-local addresses; list it in http_private_hosts to allow that",
            self.0
        )
    }
}

impl std::error::Error for PrivateAddressRefused {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let private_ok = self.private_hosts.contains(&host);
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| private_ok || is_public(addr.ip()))
                .collect();
            if kept.is_empty() {
                return Err(Box::new(PrivateAddressRefused(host)) as Box<_>);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared (CGNAT), unspecified, broadcast or unique-local.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a == 0
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped().or_else(|| v6.to_ipv4()) {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002::/16)
            // carry an IPv4 address a gateway will forward to.
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            if s[0] == 0x64 && s[1] == 0xff9b {
                return is_public(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "224.0.0.1",
            "240.0.0.1",
            "198.18.0.1",
            "ff02::1",
            "fec0::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
