//! The declared options of a sink type: name, kind, default and help. The
//! parser, the `sinkbox sinks` catalog and the docs tables all read these.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What values an option takes. Each kind has one parser, used alike for
/// TOML values, URI query parameters, environment variables and `--set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// Any string.
    String,
    /// A file or directory; relative paths are resolved against the config
    /// file's directory (or the working directory for env and CLI values).
    Path,
    /// `true` or `false`.
    Bool,
    /// A whole number of zero or more.
    Integer,
    /// A number such as `2.0`.
    Float,
    /// A size: a number of bytes or a string with a unit (`"10MB"`, `"64MiB"`).
    Size,
    /// A duration such as `"250ms"` or `"5s"`; a bare number means seconds.
    Duration,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A list of strings: a TOML array, or comma-separated in URIs and env.
    List,
    /// Flat key/value pairs: a TOML table, or `option.key=value` in URIs,
    /// env and `--set`.
    Table,
    /// A string (or number) in a form of its own, checked by the sink type;
    /// the text says which form.
    Text(&'static str),
    /// A `route`'s rules: an array of tables, each with a `when` condition
    /// and its `targets` (written in the config file only).
    Rules,
}

impl OptionKind {
    /// The expected form, for error messages and the catalog.
    pub fn expected(&self) -> String {
        match self {
            OptionKind::String => "a string".into(),
            OptionKind::Path => "a path".into(),
            OptionKind::Bool => "true or false".into(),
            OptionKind::Integer => "a whole number".into(),
            OptionKind::Float => "a number such as 2.0".into(),
            OptionKind::Size => {
                "a size: a number of bytes or a string such as \"64MiB\" or \"10 MB\"".into()
            }
            OptionKind::Duration => {
                "a duration such as \"250ms\", \"5s\" or \"1m\" (a bare number is seconds)".into()
            }
            OptionKind::Choice(words) => format!(
                "one of {}",
                words
                    .iter()
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            OptionKind::List => "a list of strings, such as [\"a\", \"b\"]".into(),
            OptionKind::Table => {
                "a table of keys to strings, numbers or booleans, such as { key = \"value\" }"
                    .into()
            }
            OptionKind::Text(form) => (*form).into(),
            OptionKind::Rules => {
                "an array of tables, such as [{ when = 'level >= \"error\"', targets = [\"pager\"] }]"
                    .into()
            }
        }
    }

    /// The short name shown in the catalog's type column.
    pub fn label(&self) -> &'static str {
        match self {
            OptionKind::String => "string",
            OptionKind::Path => "path",
            OptionKind::Bool => "bool",
            OptionKind::Integer => "integer",
            OptionKind::Float => "float",
            OptionKind::Size => "size",
            OptionKind::Duration => "duration",
            OptionKind::Choice(_) => "choice",
            OptionKind::List => "list",
            OptionKind::Table => "table",
            OptionKind::Text(_) => "string",
            OptionKind::Rules => "rules",
        }
    }

    /// Parses `text` as this kind, as a URI, env or `--set` value would be
    /// (a relative path stays relative to the working directory).
    pub fn parse(&self, text: &str) -> Result<OptionValue, String> {
        self.parse_text(text, Path::new(""))
    }

    /// Checks a TOML value and turns it into its canonical form.
    pub(crate) fn parse_toml(
        &self,
        value: &toml::Value,
        base_dir: &Path,
    ) -> Result<OptionValue, String> {
        let wrong = || format!("expected {}", self.expected());
        match (self, value) {
            (OptionKind::String, toml::Value::String(s)) => Ok(OptionValue::Str(s.clone())),
            (OptionKind::Text(_), toml::Value::String(s)) => Ok(OptionValue::Str(s.clone())),
            (OptionKind::Text(_), toml::Value::Integer(i)) => Ok(OptionValue::Str(i.to_string())),
            (OptionKind::Path, toml::Value::String(s)) if !s.is_empty() => {
                Ok(OptionValue::Path(resolve(base_dir, s)))
            }
            (OptionKind::Bool, toml::Value::Boolean(b)) => Ok(OptionValue::Bool(*b)),
            (OptionKind::Integer, toml::Value::Integer(i)) => u64::try_from(*i)
                .map(OptionValue::Int)
                .map_err(|_| format!("{i} is negative; expected {}", self.expected())),
            (OptionKind::Float, toml::Value::Float(f)) => Ok(OptionValue::Float(*f)),
            (OptionKind::Float, toml::Value::Integer(i)) => Ok(OptionValue::Float(*i as f64)),
            (OptionKind::Size, toml::Value::Integer(i)) => u64::try_from(*i)
                .map(OptionValue::Size)
                .map_err(|_| wrong()),
            (OptionKind::Duration, toml::Value::Integer(i)) => u64::try_from(*i)
                .map(|secs| OptionValue::Duration(Duration::from_secs(secs)))
                .map_err(|_| wrong()),
            (OptionKind::List, toml::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.clone()),
                    _ => Err(wrong()),
                })
                .collect::<Result<_, _>>()
                .map(OptionValue::List),
            (OptionKind::Table, toml::Value::Table(table)) => table
                .iter()
                .map(|(key, value)| match value {
                    toml::Value::String(s) => Ok((key.clone(), s.clone())),
                    toml::Value::Integer(i) => Ok((key.clone(), i.to_string())),
                    toml::Value::Float(f) => Ok((key.clone(), f.to_string())),
                    toml::Value::Boolean(b) => Ok((key.clone(), b.to_string())),
                    toml::Value::Datetime(d) => Ok((key.clone(), d.to_string())),
                    _ => Err(format!(
                        "`{key}`: expected a string, number or boolean; this table is flat key/value pairs"
                    )),
                })
                .collect::<Result<_, _>>()
                .map(OptionValue::Table),
            (OptionKind::Rules, toml::Value::Array(items)) => parse_rules(items),
            (_, toml::Value::String(text)) => self.parse_text(text, base_dir),
            _ => Err(wrong()),
        }
    }

    /// Parses a value written as text: a URI query parameter, an environment
    /// variable, a `--set` value or a declared default.
    pub(crate) fn parse_text(&self, text: &str, base_dir: &Path) -> Result<OptionValue, String> {
        let wrong = || format!("`{text}` is not valid here; expected {}", self.expected());
        match self {
            OptionKind::String | OptionKind::Text(_) => Ok(OptionValue::Str(text.to_owned())),
            OptionKind::Path if text.is_empty() => Err(wrong()),
            OptionKind::Path => Ok(OptionValue::Path(resolve(base_dir, text))),
            OptionKind::Bool => match text {
                "true" => Ok(OptionValue::Bool(true)),
                "false" => Ok(OptionValue::Bool(false)),
                _ => Err(wrong()),
            },
            OptionKind::Integer => text.parse().map(OptionValue::Int).map_err(|_| wrong()),
            OptionKind::Float => text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(OptionValue::Float)
                .ok_or_else(wrong),
            OptionKind::Size => crate::registry::byte_size::parse(text).map(OptionValue::Size),
            OptionKind::Duration => parse_duration(text)
                .map(OptionValue::Duration)
                .ok_or_else(wrong),
            OptionKind::Choice(words) => {
                if words.contains(&text) {
                    Ok(OptionValue::Str(text.to_owned()))
                } else {
                    let mut message = format!("`{text}` is not {}", self.expected());
                    if let Some(close) =
                        crate::registry::suggest::did_you_mean(text, words.iter().copied())
                    {
                        message.push_str(&format!(" (did you mean `{close}`?)"));
                    }
                    Err(message)
                }
            }
            OptionKind::List => Ok(OptionValue::List(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            OptionKind::Table => Err(format!(
                "a table cannot be one string; set its keys one by one as `<option>.<key>=value`, such as `config.min_level=warn` ({})",
                self.expected()
            )),
            OptionKind::Rules => Err(format!(
                "rules cannot be one string; write them in the config file as {}",
                self.expected()
            )),
        }
    }
}

/// A `route`'s rules from TOML: each `{ when = "...", targets = [...] }`
/// (a single target may be a string), every condition checked.
fn parse_rules(items: &[toml::Value]) -> Result<OptionValue, String> {
    let example = r#"{ when = 'level >= "error"', targets = ["pager"] }"#;
    if items.is_empty() {
        return Err(format!("no rules; give at least one, such as [{example}]"));
    }
    let mut rules = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let rule = index + 1;
        let toml::Value::Table(table) = item else {
            return Err(format!("rule {rule} is not a table; write it as {example}"));
        };
        if let Some(key) = table.keys().find(|k| *k != "when" && *k != "targets") {
            return Err(format!(
                "rule {rule}: unknown key `{key}`; a rule has `when` and `targets`, such as {example}"
            ));
        }
        let when = match table.get("when") {
            Some(toml::Value::String(when)) => when.clone(),
            Some(_) => {
                return Err(format!(
                    "rule {rule}: `when` must be a string, such as {example}"
                ));
            }
            None => {
                return Err(format!(
                    "rule {rule}: missing `when`; write it as {example}"
                ));
            }
        };
        crate::routing::Condition::parse(&when).map_err(|e| format!("rule {rule}: `when`: {e}"))?;
        let targets = match table.get("targets") {
            Some(toml::Value::String(one)) => vec![one.clone()],
            Some(toml::Value::Array(names)) if !names.is_empty() => names
                .iter()
                .map(|n| match n {
                    toml::Value::String(s) => Ok(s.clone()),
                    _ => Err(format!("rule {rule}: `targets` holds sink names (strings)")),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(format!(
                    "rule {rule}: `targets` must name one sink or a list of them, such as {example}"
                ));
            }
        };
        rules.push((when, targets));
    }
    Ok(OptionValue::Rules(rules))
}

fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_relative() {
        base_dir.join(path)
    } else {
        path
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).ok()
}

/// An option's value after its kind's parser accepted it.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    /// `String`, `Choice` and `Text` options.
    Str(String),
    /// A resolved path.
    Path(PathBuf),
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(u64),
    /// A number.
    Float(f64),
    /// Bytes.
    Size(u64),
    /// A duration.
    Duration(Duration),
    /// A list of strings.
    List(Vec<String>),
    /// Key/value pairs, in the order written.
    Table(Vec<(String, String)>),
    /// A `route`'s rules: each condition and its targets, in order.
    Rules(Vec<(String, Vec<String>)>),
}

/// One declared option of a sink type.
#[derive(Clone, Debug)]
pub struct OptionSpec {
    /// The option's name as written in TOML, URIs and env.
    pub name: &'static str,
    /// What values it takes.
    pub kind: OptionKind,
    /// The default, written as a user would write it; `None` if the option
    /// is unset by default.
    pub default: Option<&'static str>,
    /// Whether the sink cannot be built without it.
    pub required: bool,
    /// One line for the catalog.
    pub help: &'static str,
    /// For a path: sinkbox creates and writes the file there, so
    /// `validate` checks that it can.
    pub written: bool,
}

impl OptionSpec {
    /// An optional option without a default; chain [`Self::default`],
    /// [`Self::required`] and [`Self::help`].
    pub const fn new(name: &'static str, kind: OptionKind) -> Self {
        Self {
            name,
            kind,
            default: None,
            required: false,
            help: "",
            written: false,
        }
    }

    /// Marks a path option as a file sinkbox creates and writes.
    pub const fn written(mut self) -> Self {
        self.written = true;
        self
    }

    /// Sets the default, written as text (`"10MB"`, `"5"`, `"true"`).
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    /// Marks the option as required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Checks that the declared default parses as the option's kind.
    pub fn check_default(&self) -> Result<(), String> {
        match self.default {
            Some(default) => self
                .kind
                .parse_text(default, Path::new("."))
                .map(|_| ())
                .map_err(|e| format!("option `{}`: default `{default}`: {e}", self.name)),
            None => Ok(()),
        }
    }

    /// Sets the one-line help.
    pub const fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }
}
