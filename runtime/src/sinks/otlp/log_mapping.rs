//! How a record becomes an OTLP `LogRecord`: which fields fill the time,
//! severity, body and trace context, and the rest as attributes.

use serde_json::Value;

use super::proto::{AnyValue, ArrayValue, KeyValue, KeyValueList, LogRecord, any_value};
use crate::sinks::util::record_time::unix_nanos;

/// The fields a record's OTLP slots come from.
#[derive(Clone, Debug)]
pub struct LogMapping {
    /// Field for `time_unix_nano`.
    pub timestamp_field: String,
    /// Field for `severity_text` and `severity_number`.
    pub severity_field: String,
    /// Field for `body`; a record without it has the whole record (as a
    /// map) for its body and no attributes.
    pub body_field: String,
    /// Field holding the trace id, 32 hex digits.
    pub trace_id_field: String,
    /// Field holding the span id, 16 hex digits.
    pub span_id_field: String,
}

impl Default for LogMapping {
    fn default() -> Self {
        Self {
            timestamp_field: "timestamp".into(),
            severity_field: "level".into(),
            body_field: "message".into(),
            trace_id_field: "trace_id".into(),
            span_id_field: "span_id".into(),
        }
    }
}

impl LogMapping {
    /// The log record for one record, observed at `observed` (ns).
    pub(crate) fn log_record(&self, record: Value, observed: u64) -> LogRecord {
        let mut log = LogRecord {
            observed_time_unix_nano: observed,
            ..LogRecord::default()
        };
        let Value::Object(mut fields) = record else {
            log.body = Some(any_value(record));
            return log;
        };
        if let Some(at) = fields.get(&self.timestamp_field).and_then(unix_nanos) {
            fields.shift_remove(&self.timestamp_field);
            log.time_unix_nano = at;
        }
        match fields.get(&self.severity_field) {
            Some(Value::String(text)) => {
                log.severity_number = severity_number(text);
                log.severity_text = text.clone();
                fields.shift_remove(&self.severity_field);
            }
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=24).contains(&n)) => {
                log.severity_number = n.as_u64().unwrap_or(0) as i32;
                fields.shift_remove(&self.severity_field);
            }
            _ => {}
        }
        if let Some(id) = hex_id(fields.get(&self.trace_id_field), 16) {
            log.trace_id = id;
            fields.shift_remove(&self.trace_id_field);
        }
        if let Some(id) = hex_id(fields.get(&self.span_id_field), 8) {
            log.span_id = id;
            fields.shift_remove(&self.span_id_field);
        }
        match fields.shift_remove(&self.body_field) {
            Some(body) => {
                log.body = Some(any_value(body));
                log.attributes = key_values(fields);
            }
            None => log.body = Some(any_value(Value::Object(fields))),
        }
        log
    }
}

/// The OpenTelemetry severity number for a level name, as the log data
/// model maps common names (0: unspecified).
pub(crate) fn severity_number(level: &str) -> i32 {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" | "information" => 9,
        "notice" => 10,
        "warn" | "warning" => 13,
        "error" | "err" => 17,
        "critical" | "crit" => 18,
        "alert" => 19,
        "fatal" | "emerg" | "emergency" | "panic" => 21,
        _ => 0,
    }
}

/// Exactly `bytes` bytes from hex text, or `None` (the field is then left
/// as an attribute).
fn hex_id(value: Option<&Value>, bytes: usize) -> Option<Vec<u8>> {
    let text = value?.as_str()?;
    let id = hex::decode(text).ok()?;
    (id.len() == bytes && id.iter().any(|b| *b != 0)).then_some(id)
}

pub(crate) fn any_value(value: Value) -> AnyValue {
    use any_value::Value as V;
    let value = match value {
        Value::Null => None,
        Value::Bool(b) => Some(V::BoolValue(b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::String(s) => Some(V::StringValue(s)),
        Value::Array(items) => Some(V::ArrayValue(ArrayValue {
            values: items.into_iter().map(any_value).collect(),
        })),
        Value::Object(fields) => Some(V::KvlistValue(KeyValueList {
            values: key_values(fields),
        })),
    };
    AnyValue { value }
}

fn key_values(fields: serde_json::Map<String, Value>) -> Vec<KeyValue> {
    fields
        .into_iter()
        .map(|(key, value)| KeyValue {
            key,
            value: Some(any_value(value)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_fill_their_slots_and_the_rest_are_attributes() {
        let record = json!({
            "timestamp": "2025-12-01T10:00:00Z", "level": "WARN", "message": "disk low",
            "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
            "free": 12, "host": {"name": "a"}
        });
        let log = LogMapping::default().log_record(record, 7);
        assert_eq!(log.time_unix_nano, 1_764_583_200_000_000_000);
        assert_eq!(log.observed_time_unix_nano, 7);
        assert_eq!(
            (log.severity_number, log.severity_text.as_str()),
            (13, "WARN")
        );
        assert_eq!(log.trace_id.len(), 16);
        assert_eq!(log.span_id.len(), 8);
        assert_eq!(
            log.body.unwrap().value,
            Some(any_value::Value::StringValue("disk low".into()))
        );
        let keys: Vec<&str> = log.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["free", "host"]);
    }

    #[test]
    fn a_record_without_a_message_is_the_body_and_bad_ids_stay() {
        let log = LogMapping::default().log_record(json!({"trace_id": "xyz", "n": 1}), 0);
        assert!(log.trace_id.is_empty());
        assert!(log.attributes.is_empty());
        let Some(any_value::Value::KvlistValue(list)) = log.body.unwrap().value else {
            panic!()
        };
        assert_eq!(list.values.len(), 2);
        assert_eq!(severity_number("nonsense"), 0);
    }
}
