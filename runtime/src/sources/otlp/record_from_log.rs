//! An OTLP `LogRecord` (with its resource and scope) as a sinkbox record:
//! the inverse of the `otlp` sink's mapping, so otlp → sinkbox → otlp
//! gives back what was sent.

use serde_json::{Map, Value};

use crate::sinks::LogMapping;
use crate::sinks::otlp::proto::{AnyValue, InstrumentationScope, KeyValue, LogRecord, any_value};

/// Where an attribute goes whose key a mapped field already uses.
pub(crate) const CLASHING_ATTRIBUTES_FIELD: &str = "attributes";

/// The record for `log`, reported under `resource` and `scope`: the
/// mapped fields first (time, severity, body, trace and span ids), then
/// the attributes, then `resource` and `scope` when they say anything.
pub(crate) fn record(
    mapping: &LogMapping,
    resource: &Option<Value>,
    scope: &Option<Value>,
    log: LogRecord,
) -> Map<String, Value> {
    let mut record = Map::new();
    let time = if log.time_unix_nano != 0 {
        log.time_unix_nano
    } else {
        log.observed_time_unix_nano
    };
    if time != 0 {
        record.insert(mapping.timestamp_field.clone(), rfc3339(time).into());
    }
    if !log.severity_text.is_empty() {
        record.insert(mapping.severity_field.clone(), log.severity_text.into());
    } else if log.severity_number != 0 {
        record.insert(mapping.severity_field.clone(), log.severity_number.into());
    }
    if let Some(body) = log.body {
        record.insert(mapping.body_field.clone(), json(body));
    }
    if !log.trace_id.is_empty() {
        record.insert(
            mapping.trace_id_field.clone(),
            hex::encode(&log.trace_id).into(),
        );
    }
    if !log.span_id.is_empty() {
        record.insert(
            mapping.span_id_field.clone(),
            hex::encode(&log.span_id).into(),
        );
    }
    let reserved = |key: &str| {
        record.contains_key(key)
            || key == mapping.resource_field
            || key == mapping.scope_field
            || key == CLASHING_ATTRIBUTES_FIELD
    };
    let mut clashing = Map::new();
    let mut attributes = Vec::with_capacity(log.attributes.len());
    for KeyValue { key, value } in log.attributes {
        let value = value.map(json).unwrap_or(Value::Null);
        if reserved(&key) {
            clashing.insert(key, value);
        } else {
            attributes.push((key, value));
        }
    }
    record.extend(attributes);
    if !clashing.is_empty() {
        record.insert(CLASHING_ATTRIBUTES_FIELD.into(), Value::Object(clashing));
    }
    if let Some(resource) = resource {
        record.insert(mapping.resource_field.clone(), resource.clone());
    }
    if let Some(scope) = scope {
        record.insert(mapping.scope_field.clone(), scope.clone());
    }
    record
}

/// The resource's attributes as an object; `None` when there are none.
pub(crate) fn resource_value(attributes: Vec<KeyValue>) -> Option<Value> {
    (!attributes.is_empty()).then(|| object(attributes))
}

/// The scope as `{name, version, attributes}` with only what it has;
/// `None` for an empty scope.
pub(crate) fn scope_value(scope: Option<InstrumentationScope>) -> Option<Value> {
    let scope = scope?;
    let mut out = Map::new();
    if !scope.name.is_empty() {
        out.insert("name".into(), scope.name.into());
    }
    if !scope.version.is_empty() {
        out.insert("version".into(), scope.version.into());
    }
    if !scope.attributes.is_empty() {
        out.insert("attributes".into(), object(scope.attributes));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn object(values: Vec<KeyValue>) -> Value {
    Value::Object(
        values
            .into_iter()
            .map(|kv| (kv.key, kv.value.map(json).unwrap_or(Value::Null)))
            .collect(),
    )
}

/// An OTLP value as JSON: bytes as base64 (as OTLP/JSON writes them), a
/// double that is not finite as `null`.
fn json(value: AnyValue) -> Value {
    use any_value::Value as V;
    match value.value {
        None => Value::Null,
        Some(V::StringValue(s)) => s.into(),
        Some(V::BoolValue(b)) => b.into(),
        Some(V::IntValue(i)) => i.into(),
        Some(V::DoubleValue(d)) => {
            serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
        }
        Some(V::BytesValue(b)) => data_encoding::BASE64.encode(&b).into(),
        Some(V::ArrayValue(list)) => Value::Array(list.values.into_iter().map(json).collect()),
        Some(V::KvlistValue(list)) => object(list.values),
    }
}

/// Nanoseconds since the epoch as RFC 3339 in UTC, with as many fraction
/// digits as it needs.
fn rfc3339(nanos: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::otlp::proto::KeyValueList;

    fn text(s: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(s.into())),
        })
    }

    #[test]
    fn a_log_record_becomes_the_fields_the_sink_reads_back() {
        let log = LogRecord {
            time_unix_nano: 1_764_583_200_123_456_789,
            severity_number: 13,
            severity_text: "WARN".into(),
            body: text("disk low"),
            attributes: vec![
                KeyValue {
                    key: "free".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(12)),
                    }),
                },
                KeyValue {
                    key: "message".into(),
                    value: text("clash"),
                },
            ],
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..LogRecord::default()
        };
        let resource = resource_value(vec![KeyValue {
            key: "service.name".into(),
            value: text("checkout"),
        }]);
        let scope = scope_value(Some(InstrumentationScope {
            name: "app".into(),
            ..Default::default()
        }));
        let record = Value::Object(record(&LogMapping::default(), &resource, &scope, log));
        assert_eq!(
            record,
            serde_json::json!({
                "timestamp": "2025-12-01T10:00:00.123456789Z",
                "level": "WARN",
                "message": "disk low",
                "trace_id": "01010101010101010101010101010101",
                "span_id": "0202020202020202",
                "free": 12,
                "attributes": {"message": "clash"},
                "resource": {"service.name": "checkout"},
                "scope": {"name": "app"}
            })
        );
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"timestamp":"2025-12-01T10:00:00.123456789Z","level":"WARN","message":"disk low","trace_id":"01010101010101010101010101010101","span_id":"0202020202020202","free":12,"attributes":{"message":"clash"},"resource":{"service.name":"checkout"},"scope":{"name":"app"}}"#
        );
    }

    #[test]
    fn values_of_every_kind_become_json() {
        let nested = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "raw".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::BytesValue(b"hi".to_vec())),
                    }),
                }],
            })),
        };
        assert_eq!(json(nested), serde_json::json!({"raw": "aGk="}));
        let nan = AnyValue {
            value: Some(any_value::Value::DoubleValue(f64::NAN)),
        };
        assert_eq!(json(nan), Value::Null);
        let severity_only = LogRecord {
            severity_number: 17,
            ..LogRecord::default()
        };
        let record = record(&LogMapping::default(), &None, &None, severity_only);
        assert_eq!(Value::Object(record), serde_json::json!({"level": 17}));
    }
}
