//! The `route` sink type: its options and how they become a [`RouteSink`].

use std::sync::Arc;

use super::route::{RouteDefault, RouteMode, RouteRule, RouteSink};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::SinkType;
use crate::routing::Condition;

/// The `route` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "route",
        "ordered rules, each a `when` condition and its targets; records no rule takes go to `default`",
        |options, context| {
            let rules = options.rules("rules")?;
            let mut names: Vec<String> = Vec::new();
            let index_of = |name: &str, names: &mut Vec<String>| match names
                .iter()
                .position(|n| n == name)
            {
                Some(i) => i,
                None => {
                    names.push(name.to_owned());
                    names.len() - 1
                }
            };
            let mut built = Vec::new();
            for (when, targets) in &rules {
                let when = Condition::parse(when).map_err(|e| options.invalid("rules", e.to_string()))?;
                built.push(RouteRule {
                    when: Arc::new(when),
                    targets: targets.iter().map(|t| index_of(t, &mut names)).collect(),
                });
            }
            let default = match options.string("default")?.as_deref() {
                None => RouteDefault::Unset,
                Some("drop") => RouteDefault::Drop,
                Some(name) => RouteDefault::Target(index_of(name, &mut names)),
            };
            let mut targets = Vec::new();
            for name in &names {
                targets.push(context.target(name)?);
            }
            let mode = match options.require_string("mode")?.as_str() {
                "all" => RouteMode::All,
                _ => RouteMode::FirstMatch,
            };
            Ok(Box::new(RouteSink::new(
                options.sink_name().to_owned(),
                targets,
                built,
                mode,
                default,
                options.duration_or_default("flush_timeout")?,
            )))
        },
    )
    .option(
        OptionSpec::new("rules", OptionKind::Rules)
            .required()
            .help("in order: each `{ when = \"<condition>\", targets = [\"<sink>\", ...] }`"),
    )
    .option(
        OptionSpec::new("mode", OptionKind::Choice(&["first_match", "all"]))
            .default("first_match")
            .help("first_match: a record goes to the first rule that takes it; all: to every rule that does"),
    )
    .option(
        OptionSpec::new("default", OptionKind::String).help(
            "the sink for records no rule takes, or \"drop\"; unset, they are counted as unrouted (and a warning says so once)",
        ),
    )
    .option(
        OptionSpec::new("flush_timeout", OptionKind::Duration)
            .default("30s")
            .help("how long a flush waits for every target"),
    )
    .references("rules")
    .references("default")
}
