//! The `stdout_pretty` sink type: its options and URI form.

use super::sink::{ColourChoice, StdoutPrettySink, StdoutPrettySinkOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};

/// The `stdout_pretty` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "stdout_pretty",
        "human-readable lines on standard output, coloured on a terminal",
        |options, _context| {
            let color = match options.string("color")?.as_deref() {
                Some("always") => ColourChoice::Always,
                Some("never") => ColourChoice::Never,
                _ => ColourChoice::Auto,
            };
            Ok(Box::new(StdoutPrettySink::new(StdoutPrettySinkOptions {
                color,
            })))
        },
    )
    .option(
        OptionSpec::new("color", OptionKind::Choice(&["auto", "always", "never"]))
            .default("auto")
            .help("ANSI colours: auto colours a terminal when NO_COLOR is unset"),
    )
    .uri(UriForm {
        schemes: &["stdout-pretty"],
        target: UriTarget::Nothing,
        rest_into: None,
    })
}
