//! `sinkbox sinks`: the catalog of sink types.

use std::process::ExitCode;

use sinkbox::config::COMMON_OPTIONS;
use sinkbox::registry::{SinkRegistry, catalog_text, options_markdown, type_markdown};

pub fn print(markdown: bool) -> anyhow::Result<ExitCode> {
    let registry = SinkRegistry::builtin();
    if !markdown {
        print!("{}", catalog_text(&registry));
        return Ok(ExitCode::SUCCESS);
    }
    for sink_type in registry.types() {
        println!("### `{}`\n\n{}\n", sink_type.name(), sink_type.help());
        println!("{}", type_markdown(sink_type));
    }
    println!("### Every sink\n\n{}", options_markdown(COMMON_OPTIONS));
    Ok(ExitCode::SUCCESS)
}
