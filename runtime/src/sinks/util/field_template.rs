//! Names made from a record's fields, such as a NATS subject
//! `logs.{service}.{level}` or a CloudWatch stream `{host}-app`: text with
//! `{field}` holes, each filled with that field's value (a dotted path
//! reads nested objects, as everywhere else).

use std::borrow::Cow;

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

    /// The fields the holes read, in hole order (a field read twice is
    /// listed twice).
    pub fn fields(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Field(path) => Some(path.as_str()),
                Part::Text(_) => None,
            })
            .collect()
    }

    /// The template filled in: hole `i` (in [`Self::fields`] order) takes
    /// `value(i)`, through `clean` (the destination's rules for what a name
    /// may hold). A record without the field (or with `null`) gets
    /// [`MISSING_FIELD`].
    pub fn render<'v>(
        &self,
        value: impl Fn(usize) -> Option<Cow<'v, str>>,
        clean: impl Fn(&str) -> String,
    ) -> String {
        let mut out = String::new();
        let mut hole = 0;
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(_) => {
                    let filled = value(hole);
                    hole += 1;
                    out.push_str(&clean(filled.as_deref().unwrap_or(MISSING_FIELD)));
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
        assert_eq!(template.fields(), ["service", "a.b"]);
        let values = ["api", "3"];
        assert_eq!(
            template.render(|i| Some(Cow::Borrowed(values[i])), str::to_owned),
            "logs.api.3.{x}"
        );
        assert_eq!(
            template.render(|_| None, str::to_owned),
            "logs.unknown.unknown.{x}"
        );
        assert_eq!(template.with_holes("*"), "logs.*.*.{x}");
        assert!(FieldTemplate::parse("plain").unwrap().fields().is_empty());
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
