//! `sinkbox sinks` and `sinkbox sources`: the catalogs of sink and source
//! types.

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

pub fn print_sources(markdown: bool) -> anyhow::Result<ExitCode> {
    for source_type in sinkbox::sources::source_types() {
        let schemes: Vec<String> = source_type
            .schemes()
            .iter()
            .map(|s| format!("{s}://"))
            .collect();
        if markdown {
            println!(
                "### `{}`\n\n{} (`--source {}`)\n",
                source_type.name(),
                source_type.help(),
                schemes.join(", ")
            );
            println!("{}", options_markdown(source_type.option_specs()));
        } else {
            print!(
                "{}",
                sinkbox::registry::options_text(
                    &format!(
                        "{}  (--source {})\n  {}",
                        source_type.name(),
                        schemes.join(", "),
                        source_type.help()
                    ),
                    source_type.option_specs()
                )
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
