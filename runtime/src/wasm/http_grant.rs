//! What a sandboxed sink may send over HTTP: the operator's allow-list,
//! methods, injected headers and limits. Every request a guest makes is
//! checked against it before any byte leaves the host.

use std::time::Duration;

use crate::secret::Secret;

/// One allowed destination: scheme, host, port and a path (a prefix when
/// it ends in `*`, else exact).
#[derive(Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case host name or IP address, as written.
    pub host: String,
    /// The port (the scheme's default when not written).
    pub port: u16,
    /// The path, exact or (with `prefix`) a prefix.
    pub path: String,
    /// Whether `path` is a prefix (`/services/*`).
    pub prefix: bool,
    /// Secrets named in the path (`/services/${secret:slack}`): the guest
    /// writes the placeholder, the host puts the value in, on this entry only.
    pub path_secrets: Vec<(String, Secret)>,
}

impl std::fmt::Debug for AllowEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl AllowEntry {
    /// The entry as the operator wrote it (placeholders, not values).
    pub fn display(&self) -> String {
        format!(
            "{}://{}:{}{}{}",
            self.scheme,
            self.host,
            self.port,
            self.path,
            if self.prefix { "*" } else { "" }
        )
    }

    /// Whether a request to `url` is allowed by this entry.
    fn admits(&self, url: &reqwest::Url) -> bool {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        url.scheme() == self.scheme
            && host == self.host
            && url.port_or_known_default() == Some(self.port)
            && if self.prefix {
                url.path().starts_with(&self.path) && !smuggles_a_segment(url.path())
            } else {
                url.path() == self.path
            }
    }

    /// The URL with this entry's path placeholders replaced by their values.
    fn with_secrets(&self, url: &reqwest::Url) -> reqwest::Url {
        if self.path_secrets.is_empty() {
            return url.clone();
        }
        let mut path = url.path().to_owned();
        for (placeholder, secret) in &self.path_secrets {
            path = path.replace(placeholder, secret.expose());
        }
        let mut out = url.clone();
        out.set_path(&path);
        out
    }
}

/// Whether a path carries what some servers decode into another segment
/// after the check (`..%2fadmin`, `..;/admin`, `..%5cadmin`): refused under
/// a prefix entry, whose point is that nothing escapes the prefix.
fn smuggles_a_segment(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ["%2f", "%5c", "\\", ";", "%3b", "%2e%2e", "%00"]
        .iter()
        .any(|bad| lower.contains(bad))
}

/// A sink's HTTP grant.
#[derive(Clone, Debug)]
pub struct HttpGrant {
    /// Where requests may go.
    pub allow: Vec<AllowEntry>,
    /// Methods allowed, upper case.
    pub methods: Vec<String>,
    /// Headers the host sets on every allowed request, overriding the
    /// guest's (values may hold secrets; never shown to the guest).
    pub headers: Vec<(String, Secret)>,
    /// Host names that may resolve to loopback, private or link-local
    /// addresses.
    pub private_hosts: Vec<String>,
    /// Largest request body, in bytes.
    pub max_request_bytes: u64,
    /// Largest response body the guest may read, in bytes.
    pub max_response_bytes: u64,
    /// Requests of one instance in flight at once.
    pub concurrency: u32,
    /// Requests one call into the guest may make.
    pub max_requests_per_call: u32,
    /// Connection deadline.
    pub connect_timeout: Duration,
    /// Whole-request deadline, the response body included.
    pub timeout: Duration,
    /// An extra root certificate (PEM) to trust.
    pub ca_file: Option<std::path::PathBuf>,
}

impl HttpGrant {
    /// A grant for `allow` with every limit at its default.
    pub fn new(allow: Vec<AllowEntry>) -> Self {
        Self {
            allow,
            methods: vec!["POST".into()],
            headers: Vec::new(),
            private_hosts: Vec::new(),
            max_request_bytes: 10 << 20,
            max_response_bytes: 1 << 20,
            concurrency: 4,
            max_requests_per_call: 1000,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            ca_file: None,
        }
    }

    /// Checks a request; `Ok` is the URL to send (with path secrets put in).
    pub fn permit(&self, method: &str, url: &reqwest::Url) -> Result<reqwest::Url, Refusal> {
        if !self.methods.iter().any(|m| m == method) {
            return Err(Refusal::Method);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        // An entry with a path secret is the more specific one: it wins
        // over a prefix entry that also admits the URL.
        let mut admitting = self.allow.iter().filter(|entry| entry.admits(url));
        let first = admitting.next().ok_or(Refusal::Destination)?;
        let entry = std::iter::once(first)
            .chain(admitting)
            .find(|entry| !entry.path_secrets.is_empty())
            .unwrap_or(first);
        Ok(entry.with_secrets(url))
    }

    /// Every secret value the grant can put into a request, as sent (path
    /// secrets also percent-encoded): what an answer must not echo back to
    /// the guest.
    pub fn secret_values(&self) -> Vec<String> {
        let mut values = Vec::new();
        for (_, secret) in &self.headers {
            values.push(secret.expose().to_owned());
        }
        for entry in &self.allow {
            for (_, secret) in &entry.path_secrets {
                let plain = secret.expose().to_owned();
                let mut encoded = reqwest::Url::parse("http://x/").expect("a valid URL");
                encoded.set_path(&plain);
                let encoded = encoded.path().trim_start_matches('/').to_owned();
                if encoded != plain {
                    values.push(encoded);
                }
                values.push(plain);
            }
        }
        values.retain(|v| v.len() >= 4);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        values
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The method is not in `http_methods`.
    Method,
    /// No `http_allow` entry matches.
    Destination,
    /// The URL carries a user or password.
    Credentials,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Method => "its method is not in http_methods",
            Refusal::Destination => "no http_allow entry matches it",
            Refusal::Credentials => "it carries credentials in the URL",
        })
    }
}

/// Parses one `http_allow` entry, such as `https://hooks.slack.com/services/*`
/// or `http://127.0.0.1:9200/_bulk`. `secret` looks up a `${secret:NAME}`.
pub fn parse_allow_entry(
    text: &str,
    secret: &dyn Fn(&str) -> Result<Secret, String>,
) -> Result<AllowEntry, String> {
    let (body, prefix) = match text.strip_suffix('*') {
        Some(body) => (body, true),
        None => (text, false),
    };
    // Placeholders are kept literally: the guest writes them.
    let mut path_secrets = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("${secret:") {
        let Some(len) = rest[start..].find('}') else {
            return Err(format!("`{text}`: `${{secret:` without its closing `}}`"));
        };
        let placeholder = &rest[start..start + len + 1];
        let name = &placeholder["${secret:".len()..placeholder.len() - 1];
        path_secrets.push((placeholder.to_owned(), secret(name)?));
        rest = &rest[start + len + 1..];
    }
    let url = reqwest::Url::parse(body).map_err(|e| {
        format!("`{text}` is not a URL ({e}); write scheme, host and path, such as \"https://hooks.slack.com/services/*\"")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{text}`: only http:// and https:// can be allowed"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{text}`: an entry names a path, not a query"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{text}`: put credentials in http_headers, not in the URL"
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("`{text}` has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.contains('*') {
        return Err(format!(
            "`{text}`: wildcard hosts are not allowed; list each host"
        ));
    }
    // The path is compared as the URL parser writes it, so `%7B` and `{`
    // cannot tell two entries apart.
    let path = url.path().to_owned();
    let path_secrets = path_secrets
        .into_iter()
        .map(|(placeholder, secret)| {
            let written = reqwest::Url::parse(&format!("http://x/{placeholder}"))
                .map(|u| u.path()[1..].to_owned())
                .unwrap_or(placeholder);
            (written, secret)
        })
        .collect();
    Ok(AllowEntry {
        scheme: url.scheme().to_owned(),
        port: url.port_or_known_default().unwrap_or(80),
        host,
        path,
        prefix,
        path_secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_secret(name: &str) -> Result<Secret, String> {
        Ok(Secret::new(format!("value-of-{name}")))
    }

    fn grant(entries: &[&str]) -> HttpGrant {
        HttpGrant::new(
            entries
                .iter()
                .map(|e| parse_allow_entry(e, &no_secret).unwrap())
                .collect(),
        )
    }

    #[test]
    fn scheme_host_port_and_path_must_all_match() {
        let g = grant(&[
            "https://hooks.slack.com/services/*",
            "http://127.0.0.1:9200/_bulk",
        ]);
        let ok = |u: &str| g.permit("POST", &u.parse().unwrap()).is_ok();
        assert!(ok("https://hooks.slack.com/services/T0/B0/x"));
        assert!(ok("https://HOOKS.slack.com:443/services/"));
        assert!(ok("http://127.0.0.1:9200/_bulk"));
        assert!(!ok("http://hooks.slack.com/services/x"), "scheme");
        assert!(!ok("https://hooks.slack.com:8443/services/x"), "port");
        assert!(
            !ok("https://hooks.slack.com/servicesX"),
            "prefix is a path prefix"
        );
        assert!(!ok("https://hooks.slack.com.evil.net/services/x"), "host");
        assert!(!ok("http://127.0.0.1:9200/_bulk/more"), "exact path");
        assert!(!ok("https://u:p@hooks.slack.com/services/x"), "credentials");
        assert!(!ok("http://127.0.0.1:9200/%5Fbulk"), "no decoding tricks");
        for smuggled in [
            "..%2fadmin",
            "..;/admin",
            "..%5cadmin",
            "%2e%2e/admin",
            "x%2F..%2F..%2Fadmin",
        ] {
            assert!(
                !ok(&format!("https://hooks.slack.com/services/{smuggled}")),
                "{smuggled}"
            );
        }
        assert_eq!(
            g.permit("GET", &"http://127.0.0.1:9200/_bulk".parse().unwrap()),
            Err(Refusal::Method)
        );
    }

    #[test]
    fn a_path_secret_is_put_in_only_for_its_own_entry() {
        let g = grant(&[
            "https://hooks.slack.com/services/${secret:slack}",
            "https://other.example/*",
        ]);
        let sent = g
            .permit(
                "POST",
                &"https://hooks.slack.com/services/${secret:slack}"
                    .parse()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(sent.path(), "/services/value-of-slack");
        let elsewhere = g
            .permit(
                "POST",
                &"https://other.example/${secret:slack}".parse().unwrap(),
            )
            .unwrap();
        assert!(!elsewhere.as_str().contains("value-of"), "{elsewhere}");
        assert!(
            format!("{g:?}").contains("${secret:slack}") || !format!("{g:?}").contains("value-of")
        );
    }

    #[test]
    fn bad_entries_say_what_to_write() {
        for bad in [
            "hooks.slack.com",
            "ftp://x/",
            "https://*.example.com/",
            "https://x/?q=1",
        ] {
            assert!(parse_allow_entry(bad, &no_secret).is_err(), "{bad}");
        }
    }
}
