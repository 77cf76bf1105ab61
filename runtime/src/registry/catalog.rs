//! The catalog of sink types, printed by `sinkbox sinks` and embedded in
//! `docs/sinks.md` (a test keeps the two identical).

use super::common_options::COMMON_OPTIONS;
use super::option_spec::OptionSpec;
use super::sink_registry::SinkRegistry;
use super::sink_type::SinkType;

fn default_cell(spec: &OptionSpec) -> String {
    match (spec.default, spec.required) {
        (_, true) => "required".to_owned(),
        (Some(default), _) => format!("`{default}`"),
        (None, _) => "unset".to_owned(),
    }
}

/// The Markdown table of `options`: option, type, default, description.
pub fn options_markdown(options: &[OptionSpec]) -> String {
    let mut out =
        String::from("| option | type | default | description |\n| --- | --- | --- | --- |\n");
    for spec in options {
        let mut help = spec.help.to_owned();
        if let super::OptionKind::Choice(words) = spec.kind {
            help.push_str(&format!(
                " ({})",
                words
                    .iter()
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            spec.name,
            spec.kind.label(),
            default_cell(spec),
            help.replace('|', "\\|")
        ));
    }
    out
}

/// The Markdown table of one type's options (or a line saying it has none).
pub fn type_markdown(sink_type: &SinkType) -> String {
    if sink_type.option_specs().is_empty() {
        return "No options of its own.\n".to_owned();
    }
    options_markdown(sink_type.option_specs())
}

/// A titled list of `options` as plain text, one line each: name, type,
/// default, help (how `sinkbox sources` prints a source type).
pub fn options_text(title: &str, options: &[OptionSpec]) -> String {
    let width = options.iter().map(|s| s.name.len()).max().unwrap_or(8);
    options_section(title, options, width)
}

/// `options_text` with the name column `width` wide.
fn options_section(title: &str, options: &[OptionSpec], width: usize) -> String {
    let mut out = format!("{title}\n");
    for spec in options {
        out.push_str(&format!(
            "    {:width$}  {:8}  {:12}  {}\n",
            spec.name,
            spec.kind.label(),
            default_cell(spec).replace('`', ""),
            spec.help,
        ));
    }
    out.push('\n');
    out
}

/// The catalog as plain text: each type, its URI schemes, its options.
pub fn catalog_text(registry: &SinkRegistry) -> String {
    let mut out = String::new();
    let width = registry
        .types()
        .iter()
        .flat_map(|t| t.option_specs().iter().map(|s| s.name.len()))
        .chain(COMMON_OPTIONS.iter().map(|s| s.name.len()))
        .max()
        .unwrap_or(8);
    let mut section = |title: String, options: &[OptionSpec]| {
        out.push_str(&options_section(&title, options, width));
    };
    for sink_type in registry.types() {
        let schemes = sink_type
            .uri_form()
            .map(|form| {
                format!(
                    "  [{}]",
                    form.schemes
                        .iter()
                        .map(|s| format!("{s}://"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })
            .unwrap_or_default();
        section(
            format!("{}  {}{schemes}", sink_type.name(), sink_type.help()),
            sink_type.option_specs(),
        );
    }
    section("every sink also accepts:".to_owned(), COMMON_OPTIONS);
    out
}
