//! The URI form of a sink: `file:///var/log/app.log?max_bytes=10MB`,
//! `tcp://127.0.0.1:9000`, `wasm:///path/sink.wasm?key=val`, `stdout://`.

use crate::registry::sink_registry::SinkRegistry;
use crate::registry::sink_type::UriTarget;
use crate::sinks::util::uri_redact::redact_uri as redact;

/// A sink written as a URI, split into its type, its options and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SinkUri {
    /// The sink's name: `name=` in the query, else derived from the type.
    pub name: Option<String>,
    /// The registered sink type the scheme maps to.
    pub type_name: String,
    /// Option name and text value, in the order written.
    pub options: Vec<(String, String)>,
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent-escape at `{}`", &text[i..]))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "a percent-escape does not decode to UTF-8".to_owned())
}

impl SinkUri {
    /// Parses `uri` against the registry's URI schemes.
    pub fn parse(uri: &str, registry: &SinkRegistry) -> Result<SinkUri, String> {
        let schemes = || {
            registry
                .uri_schemes()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(format!(
                "`{}` is not a sink URI; write <scheme>://..., with a scheme among {}",
                redact(uri),
                schemes()
            ));
        };
        let Some((sink_type, form)) = registry.type_for_scheme(scheme) else {
            let mut message = format!(
                "unknown URI scheme `{scheme}://`; known schemes: {}",
                schemes()
            );
            if let Some(close) = crate::registry::suggest::did_you_mean(
                scheme,
                registry.uri_schemes().collect::<Vec<_>>(),
            ) {
                message.push_str(&format!(" (did you mean `{close}://`?)"));
            }
            return Err(message);
        };
        let (location, query) = match rest.split_once('?') {
            Some((location, query)) => (location, Some(query)),
            None => (rest, None),
        };
        let mut options = Vec::new();
        let mut name = None;
        let mut config_keys = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                format!("query parameter `{pair}` has no value; write `{pair}=<value>`")
            })?;
            let key = percent_decode(key)?;
            let value = percent_decode(value)?;
            if key == "name" {
                crate::sink_name::check_sink_name(&value)
                    .map_err(|why| format!("`name=`: {why}"))?;
                name = Some(value);
            } else if key == "type" {
                return Err(format!(
                    "`type` cannot be set in a URI; the scheme `{scheme}://` sets it"
                ));
            } else if let Some(table) = form.rest_into.filter(|table| {
                !sink_type.declares(&key)
                    && !crate::registry::common_options::is_common_option(&key)
                    && !key.starts_with(&format!("{table}."))
            }) {
                config_keys.push((format!("{table}.{key}"), value));
            } else {
                options.push((key, value));
            }
        }
        options.extend(config_keys);
        let location = percent_decode(location)?;
        match form.target {
            UriTarget::Path(option) => {
                let path = location
                    .split_once('/')
                    .map(|(host, path)| (host, format!("/{path}")));
                match path {
                    Some(("", path)) if path.len() > 1 => options.insert(0, (option.into(), path)),
                    Some(("localhost", path)) if path.len() > 1 => {
                        options.insert(0, (option.into(), path))
                    }
                    _ => {
                        return Err(format!(
                            "`{}` needs an absolute path after `{scheme}://`, such as {scheme}:///var/log/app.log (three slashes)",
                            redact(uri)
                        ));
                    }
                }
            }
            UriTarget::WholeUri(option) => {
                let whole = match query {
                    Some(_) => uri.split_once('?').map_or(uri, |(head, _)| head),
                    None => uri,
                };
                options.insert(0, (option.into(), whole.to_owned()));
            }
            UriTarget::Nothing => {
                if !location.is_empty() && location != "/" {
                    return Err(format!(
                        "`{scheme}://` takes no location, only options: such as {scheme}://?name=console"
                    ));
                }
            }
        }
        Ok(SinkUri {
            name,
            type_name: sink_type.name().to_owned(),
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("wss://bob:hunter2@logs.example:443/in?x=1"),
            "wss://bob:***@logs.example:443/in?x=1"
        );
        assert_eq!(redact("tcp://127.0.0.1:9000"), "tcp://127.0.0.1:9000");
        assert_eq!(redact("file:///a@b"), "file:///a@b");
    }
}
