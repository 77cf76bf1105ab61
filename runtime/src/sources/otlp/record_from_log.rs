//! An OTLP `LogRecord` (with its resource and scope) as a sinkbox record:
//! the inverse of the `otlp` sink's mapping, so otlp → sinkbox → otlp
//! gives back what was sent.

use crate::sinks::LogMapping;
use crate::sinks::otlp::any_value_json::UniqueKeyValues;
use crate::sinks::otlp::proto::{AnyValue, InstrumentationScope, KeyValue, LogRecord, any_value};
use crate::sinks::util::record_time::write_rfc3339;

/// Where an attribute goes whose key a mapped field already uses.
pub(crate) const CLASHING_ATTRIBUTES_FIELD: &str = "attributes";

/// Writes the record for `log` to `out`, reported under `resource` and
/// `scope` (their JSON, written once per group by [`resource_json`] and
/// [`scope_json`]): the mapped fields first (time, severity, body, trace
/// and span ids), then the attributes, then `resource` and `scope`. Keys
/// are unique (a repeated attribute keeps its first place and last
/// value). Nesting stays far below 128 levels: the decoders' own limits
/// (prost's 100 messages, serde_json's 128 levels) bound a value's depth
/// at a third of that.
pub(crate) fn write_record(
    mapping: &LogMapping,
    resource: Option<&[u8]>,
    scope: Option<&[u8]>,
    log: LogRecord,
    out: &mut Vec<u8>,
) {
    let mut fields = FieldWriter::new(out);
    let time = if log.time_unix_nano != 0 {
        log.time_unix_nano
    } else {
        log.observed_time_unix_nano
    };
    if time != 0 && fields.key(&mapping.timestamp_field) {
        fields.out.push(b'"');
        write_rfc3339(time, fields.out);
        fields.out.push(b'"');
    }
    if !log.severity_text.is_empty() {
        if fields.key(&mapping.severity_field) {
            write_json(fields.out, log.severity_text.as_str());
        }
    } else if log.severity_number != 0 && fields.key(&mapping.severity_field) {
        write_json(fields.out, &log.severity_number);
    }
    if let Some(body) = log.body
        && fields.key(&mapping.body_field)
    {
        write_value(body, fields.out);
    }
    if !log.trace_id.is_empty() && fields.key(&mapping.trace_id_field) {
        write_json(fields.out, hex::encode(&log.trace_id).as_str());
    }
    if !log.span_id.is_empty() && fields.key(&mapping.span_id_field) {
        write_json(fields.out, hex::encode(&log.span_id).as_str());
    }
    let (mapped, count) = (fields.written, fields.count);
    let mapped = &mapped[..count];
    let reserved = |key: &str| {
        mapped.contains(&key)
            || key == mapping.resource_field
            || key == mapping.scope_field
            || key == CLASHING_ATTRIBUTES_FIELD
    };
    let mut clashing = Vec::new();
    for KeyValue { key, value } in unique(log.attributes) {
        if reserved(&key) {
            clashing.push(KeyValue { key, value });
            continue;
        }
        fields.other_key(&key);
        write_value(value.unwrap_or_default(), fields.out);
    }
    if !clashing.is_empty() {
        fields.other_key(CLASHING_ATTRIBUTES_FIELD);
        write_object(clashing, fields.out);
    }
    if let Some(resource) = resource {
        fields.other_key(&mapping.resource_field);
        fields.out.extend_from_slice(resource);
    }
    if let Some(scope) = scope {
        fields.other_key(&mapping.scope_field);
        fields.out.extend_from_slice(scope);
    }
    fields.out.push(b'}');
}

/// Writes an object's keys, remembering the mapped ones written.
struct FieldWriter<'o, 'k> {
    out: &'o mut Vec<u8>,
    written: [&'k str; 5],
    count: usize,
}

impl<'o, 'k> FieldWriter<'o, 'k> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Self {
            out,
            written: [""; 5],
            count: 0,
        }
    }

    /// Writes `"key":` (after a comma when needed); `false`, writing
    /// nothing, when a mapped field of that name was written already (two
    /// mapped fields configured with one name: the first keeps it).
    fn key(&mut self, key: &'k str) -> bool {
        if self.written[..self.count].contains(&key) {
            return false;
        }
        self.other_key(key);
        if self.count < self.written.len() {
            self.written[self.count] = key;
            self.count += 1;
        }
        true
    }

    /// Writes `"key":` for a field that is not mapped (its uniqueness is
    /// the caller's).
    fn other_key(&mut self, key: &str) {
        if self.out.last() != Some(&b'{') {
            self.out.push(b',');
        }
        write_json(self.out, key);
        self.out.push(b':');
    }
}

/// The resource's attributes as a JSON object; `None` when there are none.
pub(crate) fn resource_json(attributes: Vec<KeyValue>) -> Option<Vec<u8>> {
    if attributes.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    write_object(attributes, &mut out);
    Some(out)
}

/// The scope as `{name, version, attributes}` with only what it has;
/// `None` for an empty scope.
pub(crate) fn scope_json(scope: Option<InstrumentationScope>) -> Option<Vec<u8>> {
    let scope = scope?;
    if scope.name.is_empty() && scope.version.is_empty() && scope.attributes.is_empty() {
        return None;
    }
    let mut out = vec![b'{'];
    let mut comma = false;
    for (key, text) in [("name", &scope.name), ("version", &scope.version)] {
        if !text.is_empty() {
            if std::mem::replace(&mut comma, true) {
                out.push(b',');
            }
            write_json(&mut out, key);
            out.push(b':');
            write_json(&mut out, text.as_str());
        }
    }
    if !scope.attributes.is_empty() {
        if comma {
            out.push(b',');
        }
        out.extend_from_slice(b"\"attributes\":");
        write_object(scope.attributes, &mut out);
    }
    out.push(b'}');
    Some(out)
}

/// Key-values with each key once: its first place, its last value.
fn unique(values: Vec<KeyValue>) -> Vec<KeyValue> {
    if values.len() < 2 {
        return values;
    }
    let mut unique = UniqueKeyValues::with_capacity(values.len());
    for kv in values {
        unique.insert(kv.key, kv.value.unwrap_or_default());
    }
    unique.into_vec()
}

fn write_object(values: Vec<KeyValue>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, KeyValue { key, value }) in unique(values).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json(out, key.as_str());
        out.push(b':');
        write_value(value.unwrap_or_default(), out);
    }
    out.push(b'}');
}

/// An OTLP value as JSON: bytes as base64 (as OTLP/JSON writes them), a
/// double that is not finite as `null`.
fn write_value(value: AnyValue, out: &mut Vec<u8>) {
    use any_value::Value as V;
    match value.value {
        None => out.extend_from_slice(b"null"),
        Some(V::StringValue(s)) => write_json(out, s.as_str()),
        Some(V::BoolValue(b)) => write_json(out, &b),
        Some(V::IntValue(i)) => write_json(out, &i),
        Some(V::DoubleValue(d)) if d.is_finite() => write_json(out, &d),
        Some(V::DoubleValue(_)) => out.extend_from_slice(b"null"),
        Some(V::BytesValue(b)) => write_json(out, data_encoding::BASE64.encode(&b).as_str()),
        Some(V::ArrayValue(list)) => {
            out.push(b'[');
            for (i, item) in list.values.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Some(V::KvlistValue(list)) => write_object(list.values, out),
    }
}

/// A scalar or string as JSON (strings escaped as JSON requires).
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a string or number into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::otlp::proto::KeyValueList;
    use serde_json::Value;

    fn record(
        mapping: &LogMapping,
        resource: &Option<Vec<u8>>,
        scope: &Option<Vec<u8>>,
        log: LogRecord,
    ) -> String {
        let mut out = Vec::new();
        write_record(
            mapping,
            resource.as_deref(),
            scope.as_deref(),
            log,
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    fn json(value: AnyValue) -> Value {
        let mut out = Vec::new();
        write_value(value, &mut out);
        serde_json::from_slice(&out).unwrap()
    }

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
        let resource = resource_json(vec![KeyValue {
            key: "service.name".into(),
            value: text("checkout"),
        }]);
        let scope = scope_json(Some(InstrumentationScope {
            name: "app".into(),
            ..Default::default()
        }));
        let written = record(&LogMapping::default(), &resource, &scope, log);
        assert_eq!(
            serde_json::from_str::<Value>(&written).unwrap(),
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
            written,
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
        assert_eq!(record, r#"{"level":17}"#);
        // A repeated attribute keeps its first place and last value.
        let repeated = LogRecord {
            attributes: ["a", "b", "a"]
                .iter()
                .enumerate()
                .map(|(i, key)| KeyValue {
                    key: (*key).into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(i as i64)),
                    }),
                })
                .collect(),
            ..LogRecord::default()
        };
        let record = super::tests::record(&LogMapping::default(), &None, &None, repeated);
        assert_eq!(record, r#"{"a":2,"b":1}"#);
    }
}
