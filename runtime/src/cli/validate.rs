//! `sinkbox validate`: load the configuration and build every sink without
//! starting anything.

use std::process::ExitCode;

use sinkbox::config::Config;
use sinkbox::registry::SinkRegistry;

use super::ConfigArgs;

pub fn validate(sources: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let config = match sources.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let problems = config.problems(&SinkRegistry::builtin());
    if !problems.is_empty() {
        for problem in problems {
            eprintln!("error: {problem}");
        }
        return Ok(ExitCode::from(1));
    }
    let origin = sources
        .config
        .as_ref()
        .map_or_else(|| "configuration".to_owned(), |p| p.display().to_string());
    if config.sources.is_empty() {
        println!("{origin}: ok, {} sink(s)", config.sinks.len());
    } else {
        println!(
            "{origin}: ok, {} source(s), {} sink(s)",
            config.sources.len(),
            config.sinks.len()
        );
        for source in &config.sources {
            println!(
                "  {} ({} source, {})",
                source.name,
                source.kind.type_name(),
                source.kind.describe()
            );
        }
    }
    for root in config.roots() {
        print_tree(&config, &root.name, 1);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a sink and, for a composite, its targets indented below it.
fn print_tree(config: &Config, name: &str, depth: usize) {
    let Some(sink) = config.sink(name) else {
        return;
    };
    let pattern = if sink.targets.is_empty() {
        String::new()
    } else {
        sink.options
            .string("pattern")
            .ok()
            .flatten()
            .map(|p| format!(", {p}"))
            .unwrap_or_default()
    };
    let when = sink
        .settings
        .when
        .as_ref()
        .map(|w| format!(" when {w}"))
        .unwrap_or_default();
    let indent = "  ".repeat(depth);
    println!("{indent}{} ({}{pattern}){when}", sink.name, sink.type_name);
    if sink.type_name == "route" {
        let mode = sink
            .options
            .string("mode")
            .ok()
            .flatten()
            .unwrap_or_default();
        for (n, (when, targets)) in sink
            .options
            .rules("rules")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            println!(
                "{indent}  rule {} ({mode}): when {when} -> {}",
                n + 1,
                targets.join(", ")
            );
        }
        let default = sink.options.string("default").ok().flatten();
        println!(
            "{indent}  default -> {}",
            default
                .as_deref()
                .unwrap_or("(none: unrouted records are counted)")
        );
    }
    for target in &sink.targets {
        print_tree(config, target, depth + 1);
    }
}
