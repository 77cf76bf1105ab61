//! `sinkbox inspect`: a component's imports, exports and contract fit.

use std::path::Path;
use std::process::ExitCode;

use sinkbox::wasm::{WasmEngine, inspect_component};

pub fn inspect(path: &Path) -> anyhow::Result<ExitCode> {
    let engine = WasmEngine::new(WasmEngine::default_cache_dir())?;
    let report = match inspect_component(&engine, path) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("component: {}", path.display());
    println!("imports:");
    for (name, kind) in &report.imports {
        println!("  {name} ({kind})");
    }
    println!("exports:");
    for (name, kind) in &report.exports {
        println!("  {name} ({kind})");
    }
    match &report.contract {
        Ok(version) => {
            println!("sink contract: ok ({version})");
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            println!("sink contract: does not fit: {why}");
            Ok(ExitCode::from(1))
        }
    }
}
