//! The `composite` sink type: its options and how they pick a pattern.

use super::failover::FailoverSink;
use super::fanout::FanoutSink;
use super::round_robin::RoundRobinSink;
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::SinkType;

/// The `composite` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "composite",
        "one name in front of other named sinks: fanout to all, round_robin, or failover",
        |options, context| {
            let names = options.list("targets")?;
            if names.is_empty() {
                return Err(options.invalid(
                    "targets",
                    "name at least one sink, such as [\"primary\", \"backup\"]",
                ));
            }
            let mut targets = Vec::new();
            for name in &names {
                targets.push(context.target(name)?);
            }
            let name = options.sink_name().to_owned();
            let pattern = options.require_string("pattern")?;
            if pattern != "fanout"
                && let Some(target) = targets.iter().find(|t| t.settings.when.is_some())
            {
                return Err(options.invalid(
                    "targets",
                    format!(
                        "target `{}` has a `when` condition, but `{pattern}` hands each batch to one target, so the records the condition leaves out would be lost; put the `when` on this composite, or use pattern = \"fanout\" or a `route` sink",
                        target.name
                    ),
                ));
            }
            Ok(match pattern.as_str() {
                "fanout" => Box::new(FanoutSink::new(
                    name,
                    targets,
                    options.duration_or_default("flush_timeout")?,
                )),
                "round_robin" => Box::new(RoundRobinSink::new(name, targets)),
                _ => Box::new(FailoverSink::new(
                    name,
                    targets,
                    options.duration_or_default("probe_interval")?,
                )),
            })
        },
    )
    .option(
        OptionSpec::new(
            "pattern",
            OptionKind::Choice(&["fanout", "round_robin", "failover"]),
        )
        .required()
        .help("fanout to every target, round_robin between them, or failover in order"),
    )
    .option(
        OptionSpec::new("targets", OptionKind::List)
            .required()
            .help("names of other configured sinks; they get records only through this one"),
    )
    .option(
        OptionSpec::new("probe_interval", OptionKind::Duration)
            .default("1s")
            .help("failover: how often a failed target's health is checked to switch back"),
    )
    .option(
        OptionSpec::new("flush_timeout", OptionKind::Duration)
            .default("30s")
            .help("fanout: how long a flush waits for every target"),
    )
    .references("targets")
}
