//! Reading a named field out of a parsed record: the lookup the sinks used
//! before `record_fields`, kept as the oracle that reader is tested against.

use serde_json::Value;

/// The field `path` of `record`: a top-level key first (`"service.name"`
/// as one key, the way OpenTelemetry names attributes), else the dotted
/// path through nested objects (`service.name` → `{"service":{"name":…}}`).
pub(crate) fn record_field<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    let object = record.as_object()?;
    if let Some(value) = object.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut at = object.get(parts.next()?)?;
    for part in parts {
        at = at.as_object()?.get(part)?;
    }
    Some(at)
}

/// A field's value as text: strings as they are, anything else as JSON.
pub(crate) fn field_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_key_wins_over_a_nested_path() {
        let record = serde_json::json!({"service.name": "flat", "service": {"name": "nested"}, "a": {"b": {"c": 3}}});
        assert_eq!(record_field(&record, "service.name").unwrap(), "flat");
        assert_eq!(record_field(&record, "a.b.c").unwrap(), 3);
        assert!(record_field(&record, "a.x").is_none());
        assert!(record_field(&serde_json::json!("text"), "a").is_none());
        assert_eq!(field_text(&serde_json::json!({"x": 1})), r#"{"x":1}"#);
    }
}
