//! Every source type, and a source read from a `[sources.<name>]` table
//! or a `--source` URI by its type's declared options.

use crate::registry::config_error::{ConfigError, SourceSpot};
use crate::sources::SourceKind;
use crate::sources::util::source_options::SourceOptions;
use crate::sources::util::source_type::{SourceType, UriUse};

/// Every source type, in catalog order.
pub fn source_types() -> Vec<SourceType> {
    vec![
        crate::sources::http_server::config::source_type(),
        crate::sources::otlp::config::source_type(),
        crate::sources::nats::config::source_type(),
    ]
}

fn type_names() -> String {
    source_types()
        .iter()
        .map(|t| format!("`{}`", t.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Source `name` from its table. `spot` places an option
/// (`sources.<name>.<option>`) in the file; `expand` fills
/// `${secret:NAME}` from `[secrets]`.
pub fn source_from_table(
    name: &str,
    table: &toml::Table,
    spot: &dyn Fn(&str) -> SourceSpot,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Result<SourceKind, ConfigError> {
    let at = format!("sources.{name}");
    let source_type = match table.get("type") {
        Some(toml::Value::String(type_name)) => source_types()
            .into_iter()
            .find(|t| t.name() == type_name)
            .ok_or_else(|| {
                spot(&format!("{at}.type")).error(
                    format!("{at}.type"),
                    format!(
                        "unknown source type `{type_name}`; known types: {}",
                        type_names()
                    ),
                )
            })?,
        _ => {
            return Err(spot(&at).error(
                at.clone(),
                format!("a source needs a `type`: one of {}", type_names()),
            ));
        }
    };
    let mut options = SourceOptions::new(name, source_type.option_specs(), spot(&at));
    for (option, value) in table {
        if option != "type" {
            options.set_toml(option, value, spot(&format!("{at}.{option}")), expand)?;
        }
    }
    source_type.build(&options)
}

/// A source from a `--source` URI: the scheme names the type (`http`:
/// `http_server`; `otlp`; `nats`), host and port are `address` (for
/// `nats`, the server's `url`), a path other than `/` is `path`, query parameters are options, and the fragment is its
/// name (else the type's). `number` tells apart unnamed sources of one
/// type given twice.
pub fn source_from_uri(uri: &str, spot: SourceSpot) -> Result<(String, SourceKind), ConfigError> {
    let at = format!("--source {uri}");
    let parsed = reqwest::Url::parse(uri).map_err(|e| {
        spot.error(
            at.clone(),
            format!(
                "not a URI ({e}); write it as http://0.0.0.0:8080/ingest or otlp://0.0.0.0:4318"
            ),
        )
    })?;
    let source_type = source_types()
        .into_iter()
        .find(|t| t.schemes().contains(&parsed.scheme()))
        .ok_or_else(|| {
            let schemes: Vec<String> = source_types()
                .iter()
                .flat_map(|t| {
                    t.schemes()
                        .iter()
                        .map(move |s| format!("{s}:// ({})", t.name()))
                })
                .collect();
            spot.error(
                at.clone(),
                format!(
                    "unknown scheme `{}`; sources take {}",
                    parsed.scheme(),
                    schemes.join(", ")
                ),
            )
        })?;
    let name = parsed
        .fragment()
        .filter(|f| !f.is_empty())
        .unwrap_or(source_type.name())
        .to_owned();
    crate::sink_name::check_sink_name(&name).map_err(|why| spot.error(at.clone(), why))?;
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port()) else {
        return Err(spot.error(
            at,
            "give the address to listen on with its port, such as http://0.0.0.0:8080",
        ));
    };
    let mut options = SourceOptions::new(&name, source_type.option_specs(), spot.clone());
    match source_type.uri {
        UriUse::Listen => {
            options.set_text("address", &format!("{host}:{port}"), spot.clone())?;
            if !parsed.path().is_empty() && parsed.path() != "/" {
                options.set_text("path", parsed.path(), spot.clone())?;
            }
        }
        UriUse::ServerUrl => {
            options.set_text(
                "url",
                &format!("{}://{host}:{port}", parsed.scheme()),
                spot.clone(),
            )?;
        }
    }
    for (option, value) in parsed.query_pairs() {
        options.set_text(&option, &value, spot.clone())?;
    }
    Ok((name, source_type.build(&options)?))
}
