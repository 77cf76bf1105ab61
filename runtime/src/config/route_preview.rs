//! Where a configuration sends one record: the dry run behind
//! `sinkbox route`.

use super::model::{Config, SinkConfig};
use crate::routing::Condition;

/// Where one record goes under a configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutePreview {
    /// The sinks that take it, as paths from the top-level sink
    /// (`router > pager`); a round_robin or failover composite is one
    /// destination (`balanced (one of a, b)`).
    pub destinations: Vec<String>,
    /// Route composites that no rule of took it and that have no default
    /// (the record is counted as unrouted there), or whose default is
    /// `drop`.
    pub unrouted: Vec<String>,
}

/// Where `record` (one JSON record) goes under `config`: every `when` and
/// every route rule decided as the pipeline would.
pub fn route_preview(config: &Config, record: &[u8]) -> RoutePreview {
    let mut preview = RoutePreview::default();
    for root in config.roots() {
        walk(config, root, record, "", &mut preview);
    }
    preview
}

fn walk(config: &Config, sink: &SinkConfig, record: &[u8], above: &str, out: &mut RoutePreview) {
    if sink
        .settings
        .when
        .as_ref()
        .is_some_and(|when| !when.keeps(record))
    {
        return;
    }
    let path = if above.is_empty() {
        sink.name.clone()
    } else {
        format!("{above} > {}", sink.name)
    };
    let target = |name: &str| config.sink(name);
    match sink.type_name.as_str() {
        "composite" => match sink.options.string("pattern").ok().flatten().as_deref() {
            Some("fanout") => {
                for name in &sink.targets {
                    if let Some(t) = target(name) {
                        walk(config, t, record, &path, out);
                    }
                }
            }
            Some(pattern) => out.destinations.push(format!(
                "{path} ({pattern}: one of {})",
                sink.targets.join(", ")
            )),
            None => out.destinations.push(path),
        },
        "route" => {
            let rules = sink.options.rules("rules").unwrap_or_default();
            let all = sink.options.string("mode").ok().flatten().as_deref() == Some("all");
            let mut taken = false;
            let mut names: Vec<&str> = Vec::new();
            for (when, targets) in &rules {
                if Condition::parse(when).is_ok_and(|c| c.keeps(record)) {
                    taken = true;
                    for name in targets {
                        if !names.contains(&name.as_str()) {
                            names.push(name);
                        }
                    }
                    if !all {
                        break;
                    }
                }
            }
            let default = sink.options.string("default").ok().flatten();
            if !taken {
                match default.as_deref() {
                    Some("drop") => out.unrouted.push(format!("{path} (default = \"drop\")")),
                    Some(name) => names.push(name),
                    None => out
                        .unrouted
                        .push(format!("{path} (no rule took it, no default)")),
                }
            }
            for name in names {
                if let Some(t) = target(name) {
                    walk(config, t, record, &path, out);
                }
            }
        }
        _ => out.destinations.push(path),
    }
}
