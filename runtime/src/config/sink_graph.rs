//! Checks the references between sinks: every composite target exists, and
//! no composite reaches itself.

use super::model::SinkConfig;
use crate::registry::config_error::ConfigError;
use crate::registry::suggest::did_you_mean;

/// The option that names a sink's targets, for errors.
fn reference_option(sink: &SinkConfig) -> &'static str {
    ["targets", "rules", "default"]
        .into_iter()
        .find(|o| sink.options.is_set(o))
        .unwrap_or("targets")
}

/// Fails on a target that names no sink, or on a cycle, giving the whole
/// cycle (`a -> b -> c -> a`).
pub(crate) fn check(sinks: &[SinkConfig]) -> Result<(), ConfigError> {
    let index = |name: &str| sinks.iter().position(|s| s.name == name);
    for sink in sinks {
        for target in &sink.targets {
            if index(target).is_none() {
                let names: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
                let mut message = format!(
                    "`{target}` is not a configured sink; configured sinks: {}",
                    names.join(", ")
                );
                if let Some(close) = did_you_mean(target, names.iter().copied()) {
                    message.push_str(&format!(" (did you mean `{close}`?)"));
                }
                return Err(sink.options.invalid(reference_option(sink), message));
            }
        }
    }
    // A composite's target lanes are named `<composite>.<target>` (their
    // dead-letter files too): no configured sink may take such a name.
    for sink in sinks {
        for target in &sink.targets {
            let lane = format!("{}.{target}", sink.name);
            if let Some(clash) = sinks.iter().find(|s| s.name == lane) {
                return Err(clash.options.invalid_sink(format!(
                    "the name `{lane}` is also what target `{target}` of composite `{}` is called inside it (its dead letters go to `{lane}.ndjson`); rename this sink",
                    sink.name
                )));
            }
        }
    }
    // Depth-first search; `state` is 0 unvisited, 1 on the current path, 2 done.
    let mut state = vec![0u8; sinks.len()];
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        node: usize,
        sinks: &[SinkConfig],
        state: &mut [u8],
        path: &mut Vec<usize>,
        index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<(), ConfigError> {
        state[node] = 1;
        path.push(node);
        for target in &sinks[node].targets {
            let next = index(target).expect("checked above");
            if state[next] == 1 {
                let start = path.iter().position(|n| *n == next).expect("on the path");
                let mut names: Vec<&str> = path[start..]
                    .iter()
                    .map(|n| sinks[*n].name.as_str())
                    .collect();
                names.push(&sinks[next].name);
                return Err(sinks[next].options.invalid(
                    reference_option(&sinks[next]),
                    format!(
                        "composite cycle: {}; a composite cannot reach itself through its targets",
                        names.join(" -> ")
                    ),
                ));
            }
            if state[next] == 0 {
                visit(next, sinks, state, path, index)?;
            }
        }
        path.pop();
        state[node] = 2;
        Ok(())
    }
    for node in 0..sinks.len() {
        if state[node] == 0 {
            visit(node, sinks, &mut state, &mut path, &index)?;
        }
    }
    Ok(())
}
