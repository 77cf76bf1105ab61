//! Names made from a record's fields, such as a NATS subject
//! `logs.{service}.{level}` or a CloudWatch stream `{host}-app`: text with
//! `{field}` holes, each filled with that field's value (a dotted path
//! reads nested objects, as everywhere else).

use serde_json::Value;

use super::record_field::{field_text, record_field};

/// What a hole becomes when the record has no such field.
pub(crate) const MISSING_FIELD: &str = "unknown";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldTemplate {
    parts: Vec<Part>,
}

impl FieldTemplate {
    /// Parses `text`; `{{` and `}}` stand for literal braces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!(
                            "`{{` at character {} has no closing `}}`; write {{field}}, or {{{{ for a brace",
                            at + 1
                        ));
                    };
                    let field = rest[..end].trim();
                    if field.is_empty() || field.contains('{') {
                        return Err(format!(
                            "`{{{}}}` at character {} does not name a field; write {{field}} or {{nested.field}}",
                            &rest[..end],
                            at + 1
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field.to_owned()));
                    for _ in 0..end + 1 {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(format!(
                        "`}}` at character {} closes nothing; write }}}} for a brace",
                        at + 1
                    ));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// Whether any hole reads a field.
    pub fn reads_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field(_)))
    }

    /// The template filled from `record`; each field's value goes through
    /// `clean` (the destination's rules for what a name may hold). A
    /// record without the field gets [`MISSING_FIELD`].
    pub fn render(&self, record: Option<&Value>, clean: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(path) => {
                    let value = record
                        .and_then(|r| record_field(r, path))
                        .filter(|v| !v.is_null())
                        .map(field_text);
                    out.push_str(&clean(value.as_deref().unwrap_or(MISSING_FIELD)));
                }
            }
        }
        out
    }

    /// The template with every hole replaced by `hole` and literal text
    /// kept: a NATS subject filter such as `logs.*.*`.
    pub fn with_holes(&self, hole: &str) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                Part::Field(_) => hole,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_filled_from_fields_and_missing_ones_named() {
        let template = FieldTemplate::parse("logs.{service}.{a.b}.{{x}}").unwrap();
        let record = serde_json::json!({"service": "api", "a": {"b": 3}});
        assert_eq!(
            template.render(Some(&record), str::to_owned),
            "logs.api.3.{x}"
        );
        assert_eq!(
            template.render(Some(&serde_json::json!({})), str::to_owned),
            "logs.unknown.unknown.{x}"
        );
        assert_eq!(template.with_holes("*"), "logs.*.*.{x}");
        assert!(template.reads_fields());
        assert!(!FieldTemplate::parse("plain").unwrap().reads_fields());
    }

    #[test]
    fn malformed_templates_say_where() {
        assert!(
            FieldTemplate::parse("a.{b")
                .unwrap_err()
                .contains("character 3")
        );
        assert!(
            FieldTemplate::parse("a.{}")
                .unwrap_err()
                .contains("does not name")
        );
        assert!(
            FieldTemplate::parse("a}")
                .unwrap_err()
                .contains("closes nothing")
        );
    }
}
