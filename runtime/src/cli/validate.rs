//! `sinkbox validate`: parse the config and check every wasm component.

use std::path::Path;
use std::process::ExitCode;

use sinkbox::config::{Config, SinkKind};

pub fn validate(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::from_file(path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut problems = 0;
    let mut engine = None;
    for sink in &config.sinks {
        if let SinkKind::Wasm(wasm) = &sink.kind {
            let engine = match &engine {
                Some(engine) => engine,
                None => engine.insert(config.runtime.wasm_engine()?),
            };
            if let Err(err) = engine.load(&wasm.component) {
                eprintln!(
                    "error: {}: sinks.{}.component: {err}",
                    path.display(),
                    sink.name
                );
                problems += 1;
            }
        }
    }
    if problems > 0 {
        return Ok(ExitCode::from(1));
    }
    let names: Vec<String> = config
        .sinks
        .iter()
        .map(|sink| format!("{} ({})", sink.name, sink.kind.type_name()))
        .collect();
    println!(
        "{}: ok, {} sink(s): {}",
        path.display(),
        names.len(),
        names.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
