//! How a record becomes an OTLP `LogRecord`: which fields fill the time,
//! severity, body and trace context, and the rest as attributes.

use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::any_value_json::{AnyValueSeed, FieldName, UniqueKeyValues, key_values};
use super::proto::{AnyValue, InstrumentationScope, KeyValue, KeyValueList, LogRecord, any_value};

/// A record mapped: its log record, and the resource and scope it names
/// (empty and `None` when it names none).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MappedLog {
    pub(crate) log: LogRecord,
    pub(crate) resource: Vec<KeyValue>,
    pub(crate) scope: Option<InstrumentationScope>,
}

impl MappedLog {
    fn new(observed: u64) -> Self {
        MappedLog {
            log: LogRecord {
                observed_time_unix_nano: observed,
                ..LogRecord::default()
            },
            ..MappedLog::default()
        }
    }
}
use crate::sinks::util::record_time::{nanos_from_number, nanos_from_text};

/// The fields a record's OTLP slots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Field holding the resource's attributes as an object (what the
    /// `otlp` source writes); records are grouped by it.
    pub resource_field: String,
    /// Field holding the instrumentation scope as `{name, version,
    /// attributes}` (what the `otlp` source writes).
    pub scope_field: String,
}

impl Default for LogMapping {
    fn default() -> Self {
        Self {
            timestamp_field: "timestamp".into(),
            severity_field: "level".into(),
            body_field: "message".into(),
            trace_id_field: "trace_id".into(),
            span_id_field: "span_id".into(),
            resource_field: "resource".into(),
            scope_field: "scope".into(),
        }
    }
}

impl LogMapping {
    /// The mapping whose field names `field(option)` gives, by the option
    /// names the `otlp` sink and source share (`timestamp_field`, …).
    pub(crate) fn read<E>(mut field: impl FnMut(&str) -> Result<String, E>) -> Result<Self, E> {
        Ok(Self {
            timestamp_field: field("timestamp_field")?,
            severity_field: field("severity_field")?,
            body_field: field("body_field")?,
            trace_id_field: field("trace_id_field")?,
            span_id_field: field("span_id_field")?,
            resource_field: field("resource_field")?,
            scope_field: field("scope_field")?,
        })
    }

    /// The log record for one raw JSON record, observed at `observed`
    /// (ns), read in one pass straight into OTLP values (no
    /// `serde_json::Value` in between; the mapped fields' names are not
    /// even copied). Bytes that are not JSON give an empty body.
    pub(crate) fn log_record(&self, raw: &[u8], observed: u64) -> MappedLog {
        let with_body = |body| {
            let mut mapped = MappedLog::new(observed);
            mapped.log.body = Some(body);
            mapped
        };
        let is_object = raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let mut reader = serde_json::Deserializer::from_slice(raw);
        if !is_object {
            return match AnyValueSeed.deserialize(&mut reader) {
                Ok(body) if reader.end().is_ok() => with_body(body),
                _ => with_body(AnyValue { value: None }),
            };
        }
        let seed = RecordSeed {
            mapping: self,
            observed,
        };
        match reader.deserialize_map(seed) {
            Ok(Some(mapped)) if reader.end().is_ok() => mapped,
            // A mapped field named twice: which value counts is settled
            // over the whole object.
            Ok(None) => self.log_record_of_repeated_fields(raw, observed),
            _ => with_body(AnyValue { value: None }),
        }
    }

    /// Whether the seven fields are seven different names (the direct
    /// writer's condition: one field never fills two slots).
    pub(crate) fn has_distinct_fields(&self) -> bool {
        let names = self.slots().map(|(name, _)| name);
        names
            .iter()
            .enumerate()
            .all(|(i, name)| !names[i + 1..].contains(name))
    }

    /// The slots in the order they claim a field, each with what it takes.
    pub(crate) fn slots(&self) -> [(&str, Slot); SLOTS] {
        [
            (&self.timestamp_field, Slot::Time),
            (&self.severity_field, Slot::Severity),
            (&self.trace_id_field, Slot::TraceId),
            (&self.span_id_field, Slot::SpanId),
            (&self.resource_field, Slot::Resource),
            (&self.scope_field, Slot::Scope),
            (&self.body_field, Slot::Body),
        ]
    }

    /// The same mapping for a record that names a mapped field more than
    /// once: the object is read whole first (a repeated key keeps its
    /// first place and last value, as a parsed object would), then each
    /// slot takes its field.
    fn log_record_of_repeated_fields(&self, raw: &[u8], observed: u64) -> MappedLog {
        let mut mapped = MappedLog::new(observed);
        let mut fields = match serde_json::from_slice::<KeyValues>(raw) {
            Ok(KeyValues(fields)) => fields,
            Err(_) => {
                mapped.log.body = Some(AnyValue { value: None });
                return mapped;
            }
        };
        for (name, slot) in self.slots() {
            if let Some(at) = fields.iter().position(|kv| kv.key == name) {
                let value = fields[at].value.take().unwrap_or_default();
                match slot.fill(&mut mapped, value) {
                    None => {
                        fields.remove(at);
                    }
                    Some(refused) => fields[at].value = Some(refused),
                }
            }
        }
        if mapped.log.body.is_none() {
            mapped.log.body = Some(kvlist(std::mem::take(&mut fields)));
        } else {
            mapped.log.attributes = fields;
        }
        mapped
    }
}

/// How many slots a record's fields can fill.
const SLOTS: usize = 7;

/// An OTLP slot a record field can fill.
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    Time,
    Severity,
    TraceId,
    SpanId,
    Resource,
    Scope,
    Body,
}

impl Slot {
    /// Fills this slot of `mapped` from `value`; the value back when it
    /// does not fit (it then stays an attribute).
    fn fill(self, mapped: &mut MappedLog, value: AnyValue) -> Option<AnyValue> {
        let log = &mut mapped.log;
        match self {
            Slot::Time => match timestamp_nanos(&value) {
                Some(at) => log.time_unix_nano = at,
                None => return Some(value),
            },
            Slot::Severity => match severity(value) {
                Ok((number, text)) => (log.severity_number, log.severity_text) = (number, text),
                Err(value) => return Some(value),
            },
            Slot::TraceId => match hex_id_of(&value, 16) {
                Some(id) => log.trace_id = id,
                None => return Some(value),
            },
            Slot::SpanId => match hex_id_of(&value, 8) {
                Some(id) => log.span_id = id,
                None => return Some(value),
            },
            Slot::Resource => match value.value {
                Some(any_value::Value::KvlistValue(list)) => mapped.resource = list.values,
                other => return Some(AnyValue { value: other }),
            },
            Slot::Scope => match scope(value) {
                Ok(scope) => mapped.scope = Some(scope),
                Err(value) => return Some(value),
            },
            Slot::Body => log.body = Some(value),
        }
        None
    }
}

/// `{name, version, attributes}` (each optional, nothing else) as a scope;
/// the value back for any other shape.
fn scope(value: AnyValue) -> Result<InstrumentationScope, AnyValue> {
    use any_value::Value as V;
    let fits = |list: &KeyValueList| {
        list.values.iter().all(|kv| {
            let inner = kv.value.as_ref().and_then(|v| v.value.as_ref());
            match kv.key.as_str() {
                "name" | "version" => matches!(inner, Some(V::StringValue(_))),
                "attributes" => matches!(inner, Some(V::KvlistValue(_))),
                _ => false,
            }
        })
    };
    match value.value {
        Some(V::KvlistValue(list)) if fits(&list) => {
            let mut scope = InstrumentationScope::default();
            for kv in list.values {
                match (kv.key.as_str(), kv.value.and_then(|v| v.value)) {
                    ("name", Some(V::StringValue(name))) => scope.name = name,
                    ("version", Some(V::StringValue(version))) => scope.version = version,
                    ("attributes", Some(V::KvlistValue(list))) => scope.attributes = list.values,
                    _ => {}
                }
            }
            Ok(scope)
        }
        other => Err(AnyValue { value: other }),
    }
}

fn kvlist(values: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList { values })),
    }
}

/// A JSON object read as unique key-values.
struct KeyValues(Vec<KeyValue>);

impl<'de> Deserialize<'de> for KeyValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = KeyValues;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeyValues, A::Error> {
                key_values(map).map(KeyValues)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Reads a record object into a log record as it goes: a mapped field
/// fills its slot on sight and only the other fields become attributes.
/// `None` when a mapped field's name comes twice.
struct RecordSeed<'a> {
    mapping: &'a LogMapping,
    observed: u64,
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Option<MappedLog>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<MappedLog>, A::Error> {
        let mut mapped = MappedLog::new(self.observed);
        let slots = self.mapping.slots();
        let mut rest = UniqueKeyValues::with_capacity(8);
        let mut seen = [false; SLOTS];
        while let Some(key) = map.next_key_seed(FieldName)? {
            let mut value = Some(map.next_value_seed(AnyValueSeed)?);
            for (at, (name, slot)) in slots.iter().enumerate() {
                if *name != key.as_ref() {
                    continue;
                }
                if std::mem::replace(&mut seen[at], true) {
                    // The rest is read (and let go) so the reader ends
                    // where the object does.
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    return Ok(None);
                }
                // A refused value may fit the next slot of that name, and
                // is an attribute if none takes it.
                value = value.and_then(|value| slot.fill(&mut mapped, value));
            }
            if let Some(value) = value {
                rest.insert(key.into_owned(), value);
            }
        }
        let rest = rest.into_vec();
        if mapped.log.body.is_none() {
            mapped.log.body = Some(kvlist(rest));
        } else {
            mapped.log.attributes = rest;
        }
        Ok(Some(mapped))
    }
}

/// A time as `record_time::unix_nanos` reads one: RFC 3339 text or a
/// number of seconds to nanoseconds since the epoch.
pub(crate) fn timestamp_nanos(value: &AnyValue) -> Option<u64> {
    match value.value.as_ref()? {
        any_value::Value::StringValue(text) => nanos_from_text(text),
        any_value::Value::IntValue(n) => nanos_from_number(*n as f64, u64::try_from(*n).ok()),
        any_value::Value::DoubleValue(n) => nanos_from_number(*n, None),
        _ => None,
    }
}

/// A level name (with its number) or a severity number 1–24; the value
/// back for anything else.
pub(crate) fn severity(value: AnyValue) -> Result<(i32, String), AnyValue> {
    match value.value {
        Some(any_value::Value::StringValue(text)) => Ok((severity_number(&text), text)),
        Some(any_value::Value::IntValue(n)) if (1..=24).contains(&n) => {
            Ok((n as i32, String::new()))
        }
        other => Err(AnyValue { value: other }),
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

/// Exactly `bytes` bytes from a string of hex text, not all zero, or
/// `None` (the field is then left as an attribute).
fn hex_id_of(value: &AnyValue, bytes: usize) -> Option<Vec<u8>> {
    let Some(any_value::Value::StringValue(text)) = &value.value else {
        return None;
    };
    hex_id(text, bytes)
}

/// Exactly `bytes` bytes from hex text, not all zero.
pub(crate) fn hex_id(text: &str, bytes: usize) -> Option<Vec<u8>> {
    let id = hex::decode(text).ok()?;
    (id.len() == bytes && id.iter().any(|b| *b != 0)).then_some(id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sinks::util::record_time::unix_nanos;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn log_record(mapping: &LogMapping, record: Value, observed: u64) -> LogRecord {
        mapping
            .log_record(&serde_json::to_vec(&record).unwrap(), observed)
            .log
    }

    /// The mapping as it was written over a parsed record: the oracle the
    /// one-pass reader is held to.
    fn parsed_log_record(mapping: &LogMapping, record: Value, observed: u64) -> MappedLog {
        let mut mapped = MappedLog::new(observed);
        let log = &mut mapped.log;
        let Value::Object(mut fields) = record else {
            log.body = Some(parsed_any_value(record));
            return mapped;
        };
        if let Some(at) = fields.get(&mapping.timestamp_field).and_then(unix_nanos) {
            fields.shift_remove(&mapping.timestamp_field);
            log.time_unix_nano = at;
        }
        match fields.get(&mapping.severity_field) {
            Some(Value::String(text)) => {
                log.severity_number = severity_number(text);
                log.severity_text = text.clone();
                fields.shift_remove(&mapping.severity_field);
            }
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=24).contains(&n)) => {
                log.severity_number = n.as_u64().unwrap() as i32;
                fields.shift_remove(&mapping.severity_field);
            }
            _ => {}
        }
        let id = |value: Option<&Value>, bytes| {
            let id = hex::decode(value?.as_str()?).ok()?;
            (id.len() == bytes && id.iter().any(|b| *b != 0)).then_some(id)
        };
        if let Some(id) = id(fields.get(&mapping.trace_id_field), 16) {
            log.trace_id = id;
            fields.shift_remove(&mapping.trace_id_field);
        }
        if let Some(id) = id(fields.get(&mapping.span_id_field), 8) {
            log.span_id = id;
            fields.shift_remove(&mapping.span_id_field);
        }
        if let Some(Value::Object(resource)) = fields.get(&mapping.resource_field) {
            mapped.resource = parsed_key_values(resource.clone());
            fields.shift_remove(&mapping.resource_field);
        }
        if let Some(Value::Object(scope)) = fields.get(&mapping.scope_field)
            && scope.iter().all(|(key, value)| match key.as_str() {
                "name" | "version" => value.is_string(),
                "attributes" => value.is_object(),
                _ => false,
            })
        {
            let text = |key: &str| {
                scope
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            mapped.scope = Some(InstrumentationScope {
                name: text("name"),
                version: text("version"),
                attributes: match scope.get("attributes") {
                    Some(Value::Object(attributes)) => parsed_key_values(attributes.clone()),
                    _ => Vec::new(),
                },
            });
            fields.shift_remove(&mapping.scope_field);
        }
        let log = &mut mapped.log;
        match fields.shift_remove(&mapping.body_field) {
            Some(body) => {
                log.body = Some(parsed_any_value(body));
                log.attributes = parsed_key_values(fields);
            }
            None => log.body = Some(parsed_any_value(Value::Object(fields))),
        }
        mapped
    }

    fn parsed_any_value(value: Value) -> AnyValue {
        use any_value::Value as V;
        let value = match value {
            Value::Null => None,
            Value::Bool(b) => Some(V::BoolValue(b)),
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => V::IntValue(i),
                None => V::DoubleValue(n.as_f64().unwrap()),
            }),
            Value::String(s) => Some(V::StringValue(s)),
            Value::Array(items) => Some(V::ArrayValue(super::super::proto::ArrayValue {
                values: items.into_iter().map(parsed_any_value).collect(),
            })),
            Value::Object(fields) => Some(V::KvlistValue(KeyValueList {
                values: parsed_key_values(fields),
            })),
        };
        AnyValue { value }
    }

    fn parsed_key_values(fields: serde_json::Map<String, Value>) -> Vec<KeyValue> {
        fields
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value: Some(parsed_any_value(value)),
            })
            .collect()
    }

    /// Values the mapped fields might hold: good and bad times, levels and
    /// ids, and nested values.
    fn field_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // Past i64 a number is a double in OTLP, so such a time (after
            // the year 2262) is read to a double's precision.
            (i64::MAX as u64 + 1..).prop_map(|n| Value::from(n as f64)),
            (-1e20f64..1e20).prop_map(Value::from),
            Just(json!("2025-12-01T10:00:00.123Z")),
            Just(json!("2025-13-01T10:00:00Z")),
            Just(json!("warn")),
            Just(json!(9)),
            Just(json!(30)),
            Just(json!("5b8efff798038103d269b633813fc60c")),
            Just(json!("eee19b7ec3c1b174")),
            Just(json!("00000000000000000000000000000000")),
            Just(json!({"service.name": "a", "n": 1})),
            Just(json!({"name": "lib", "version": "1", "attributes": {"k": true}})),
            Just(json!({"name": "lib", "other": 1})),
            "[a-z\\\"\\\\\\té\u{1F600}]{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec(("[a-c]{1,2}", inner), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("timestamp".to_owned()),
            Just("level".to_owned()),
            Just("message".to_owned()),
            Just("trace_id".to_owned()),
            Just("span_id".to_owned()),
            Just("resource".to_owned()),
            Just("scope".to_owned()),
            "[a-z]{1,3}",
        ]
    }

    /// Record text, keys possibly repeated (as JSON allows), or now and
    /// then a value that is not an object.
    pub(crate) fn record_text() -> impl Strategy<Value = String> {
        prop_oneof![
            9 => prop::collection::vec((key(), field_value()), 0..8).prop_map(|pairs| {
                let fields: Vec<String> = pairs
                    .iter()
                    .map(|(key, value)| format!("{}:{value}", Value::from(key.as_str())))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
            1 => field_value().prop_map(|value| value.to_string()),
        ]
    }

    /// Mappings whose slots may share a field name.
    pub(crate) fn mapping() -> impl Strategy<Value = LogMapping> {
        let name = || prop_oneof![3 => key(), 1 => Just("level".to_owned())];
        prop_oneof![
            3 => Just(LogMapping::default()),
            1 => (name(), name(), name(), name(), name(), name(), name()).prop_map(
                |(t, s, b, tr, sp, r, sc)| LogMapping {
                    timestamp_field: t,
                    severity_field: s,
                    body_field: b,
                    trace_id_field: tr,
                    span_id_field: sp,
                    resource_field: r,
                    scope_field: sc,
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn the_one_pass_reader_maps_as_a_parsed_record_would(
            raw in record_text(),
            mapping in mapping(),
        ) {
            // Both read the same text (a float's text need not parse back
            // to the very same double).
            let parsed: Value = serde_json::from_str(&raw).unwrap();
            prop_assert_eq!(
                mapping.log_record(raw.as_bytes(), 5),
                parsed_log_record(&mapping, parsed, 5)
            );
        }
    }

    #[test]
    fn a_key_given_twice_keeps_its_place_and_last_value() {
        let mapping = LogMapping::default();
        let raw = br#"{"a":1,"message":"m","b":2,"a":3}"#;
        let log = mapping.log_record(raw, 0);
        let parsed: Value = serde_json::from_slice(raw).unwrap();
        assert_eq!(log, parsed_log_record(&mapping, parsed, 0));
        // Past the scan limit the index answers the same.
        let many: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
        let raw = format!(r#"{{{many}"k3":"again","message":"m"}}"#);
        let log = mapping.log_record(raw.as_bytes(), 0).log;
        assert_eq!(log.attributes.len(), 40);
        assert_eq!(
            log.attributes[3].value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("again".into()))
        );
    }

    #[test]
    fn bytes_that_are_not_json_give_an_empty_body() {
        let log = LogMapping::default().log_record(b"{\"a\":", 3).log;
        assert_eq!(log.body, Some(AnyValue { value: None }));
        assert_eq!(log.observed_time_unix_nano, 3);
        let log = LogMapping::default().log_record(b"{} trailing", 3).log;
        assert_eq!(log.body, Some(AnyValue { value: None }));
    }

    #[test]
    fn fields_fill_their_slots_and_the_rest_are_attributes() {
        let record = json!({
            "timestamp": "2025-12-01T10:00:00Z", "level": "WARN", "message": "disk low",
            "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
            "free": 12, "host": {"name": "a"}
        });
        let log = log_record(&LogMapping::default(), record, 7);
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
        let log = log_record(
            &LogMapping::default(),
            json!({"trace_id": "xyz", "n": 1}),
            0,
        );
        assert!(log.trace_id.is_empty());
        assert!(log.attributes.is_empty());
        let Some(any_value::Value::KvlistValue(list)) = log.body.unwrap().value else {
            panic!()
        };
        assert_eq!(list.values.len(), 2);
        assert_eq!(severity_number("nonsense"), 0);
    }
}
