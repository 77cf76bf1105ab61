//! Which Loki stream a record goes to: static labels plus labels read from
//! record fields, with a guard on how many values a field label may take
//! (each new value is a new stream, and streams are what Loki pays for).

use std::collections::{HashMap, HashSet};

/// Loki's default `max_label_names_per_series`.
pub(crate) const MAX_LABELS_PER_STREAM: usize = 15;

/// Loki's default `max_label_value_length`, in bytes.
const MAX_LABEL_VALUE_BYTES: usize = 2048;

/// The value a field label takes once it has had `max_label_values`
/// distinct values.
pub(crate) const OVERFLOW_VALUE: &str = "_overflow";

/// The label every stream gets when nothing else gives it one (Loki
/// refuses a stream without labels).
pub(crate) const FALLBACK_LABEL: (&str, &str) = ("service", "sinkbox");

/// How records are labelled.
#[derive(Clone, Debug)]
pub(crate) struct LabelRules {
    /// Labels every stream carries.
    fixed: Vec<(String, String)>,
    /// `(field path, label name)` for labels read from records.
    from_fields: Vec<(String, String)>,
    /// Most distinct values one field label may take.
    max_values: usize,
    /// Values seen per field label.
    seen: HashMap<String, HashSet<String>>,
    /// Field labels that hit `max_values` (warned about once).
    overflowed: HashSet<String>,
}

impl LabelRules {
    /// Rules from static labels and field names; `Err` says which name is
    /// not a Loki label name or that there are too many.
    pub fn new(
        fixed: Vec<(String, String)>,
        fields: Vec<String>,
        max_values: usize,
    ) -> Result<Self, String> {
        for (name, value) in &fixed {
            if value.is_empty() {
                return Err(format!(
                    "the label `{name}` is empty; Loki drops empty labels, so leave it out"
                ));
            }
            if !is_label_name(name) {
                return Err(format!(
                    "`{name}` is not a Loki label name: use letters, digits and `_`, not starting with a digit"
                ));
            }
        }
        let from_fields: Vec<(String, String)> = fields
            .into_iter()
            .map(|field| {
                let label = label_name_for(&field);
                (field, label)
            })
            .collect();
        let mut names: Vec<&str> = fixed
            .iter()
            .map(|(name, _)| name.as_str())
            .chain(from_fields.iter().map(|(_, label)| label.as_str()))
            .collect();
        if names.len() > MAX_LABELS_PER_STREAM {
            return Err(format!(
                "{} labels in all; Loki takes at most {MAX_LABELS_PER_STREAM} per stream",
                names.len()
            ));
        }
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!("the label `{}` is given twice", pair[0]));
        }
        Ok(Self {
            fixed,
            from_fields,
            max_values: max_values.max(1),
            seen: HashMap::new(),
            overflowed: HashSet::new(),
        })
    }

    /// The record fields labels are read from, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.from_fields.iter().map(|(field, _)| field.as_str())
    }

    /// The labels of a record whose label fields (in [`Self::fields`]
    /// order) have `values` as text, sorted by name. A field the record
    /// lacks gives no label; a field label past its value budget takes
    /// [`OVERFLOW_VALUE`] (the record's line still holds the real value).
    pub fn labels_from(&mut self, values: &[Option<&str>]) -> Vec<(String, String)> {
        let mut labels = self.fixed.clone();
        for ((_, label), value) in self.from_fields.iter().zip(values) {
            let Some(value) = value else {
                continue;
            };
            let value = cut(value);
            if value.is_empty() {
                // Loki drops a label with an empty value: so does the sink,
                // or the stream would differ from the one Loki stores.
                continue;
            }
            let seen = self.seen.entry(label.clone()).or_default();
            if seen.contains(value) || seen.len() < self.max_values {
                seen.insert(value.to_owned());
                labels.push((label.clone(), value.to_owned()));
            } else {
                if self.overflowed.insert(label.clone()) {
                    tracing::warn!(
                        label = %label,
                        "the label `{label}` has had {} distinct values; further new values are sent as `{OVERFLOW_VALUE}` to keep Loki's stream count bounded (raise max_label_values, or drop the field from label_keys)",
                        self.max_values
                    );
                }
                labels.push((label.clone(), OVERFLOW_VALUE.to_owned()));
            }
        }
        if labels.is_empty() {
            labels.push((FALLBACK_LABEL.0.to_owned(), FALLBACK_LABEL.1.to_owned()));
        }
        labels.sort_unstable();
        labels
    }
}

/// The label set as Loki's protobuf push writes it: `{a="x", b="y"}`.
pub(crate) fn prometheus_form(labels: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// A Loki label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The label a field becomes: `service.name` → `service_name`.
fn label_name_for(field: &str) -> String {
    let mut name: String = field
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    name
}

/// A label value cut to Loki's limit, on a character boundary.
fn cut(value: &str) -> &str {
    if value.len() <= MAX_LABEL_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_LABEL_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_labels_are_bounded_and_the_set_is_sorted() {
        let mut rules = LabelRules::new(
            vec![("job".into(), "api".into())],
            vec!["level".into(), "service.name".into()],
            2,
        )
        .unwrap();
        let labels = rules.labels_from(&[Some("info"), Some("x")]);
        assert_eq!(
            prometheus_form(&labels),
            r#"{job="api", level="info", service_name="x"}"#
        );
        rules.labels_from(&[Some("warn"), None]);
        let third = rules.labels_from(&[Some("error"), None]);
        assert!(third.contains(&("level".into(), OVERFLOW_VALUE.into())));
        // A value seen before keeps its own label.
        assert!(
            rules
                .labels_from(&[Some("info"), None])
                .contains(&("level".into(), "info".into()))
        );
        let mut bare = LabelRules::new(vec![], vec!["level".into()], 10).unwrap();
        assert_eq!(
            bare.labels_from(&[None]),
            vec![("service".into(), "sinkbox".into())]
        );
    }

    #[test]
    fn bad_names_too_many_labels_and_quotes_are_handled() {
        assert!(LabelRules::new(vec![("1x".into(), "v".into())], vec![], 1).is_err());
        let many: Vec<String> = (0..16).map(|i| format!("f{i}")).collect();
        assert!(LabelRules::new(vec![], many, 1).is_err());
        assert!(
            LabelRules::new(vec![("level".into(), "v".into())], vec!["level".into()], 1).is_err()
        );
        assert_eq!(
            prometheus_form(&[("a".into(), "say \"hi\"\\\n".into())]),
            r#"{a="say \"hi\"\\\n"}"#
        );
    }
}
