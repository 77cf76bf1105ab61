//! An OTLP `ExportLogsServiceRequest` in protobuf straight to records:
//! the wire format is walked in place and each `LogRecord` written as one
//! JSON record into a single buffer, with no owned message in between (a
//! `prost` decode allocates a `String` per key and value; this copies
//! each byte once, into the record). The mapping is the inverse of the
//! `otlp` sink's, so otlp → sinkbox → otlp gives back what was sent.
//!
//! Where a hostile message says a non-repeated field twice, the last one
//! counts (protobuf would merge two embedded messages; no exporter sends
//! that).

use std::collections::HashMap;

use super::wire::fields;
use crate::sinks::LogMapping;
use crate::sinks::util::record_time::write_rfc3339;

/// Where an attribute goes whose key a mapped field already uses.
pub(crate) const CLASHING_ATTRIBUTES_FIELD: &str = "attributes";

/// Deepest message nesting read, counted from the request as protobuf
/// decoders count it (`prost` stops at 100): values nest at most a third
/// as deep in JSON, far inside the pipeline's 128 levels.
const MAX_DEPTH: usize = 100;

/// The records of a request, written one after another into `bytes`,
/// record `i` ending at `ends[i]`.
pub(crate) struct Written {
    pub(crate) bytes: Vec<u8>,
    pub(crate) ends: Vec<usize>,
}

/// Writes every log record of `request` (protobuf) as a record; an error
/// says what is wrong with the request, or that it holds more than
/// `max_records` log records.
pub(crate) fn write_records(
    mapping: &LogMapping,
    request: &[u8],
    max_records: usize,
) -> Result<Written, Problem> {
    let mut written = Written {
        bytes: Vec::with_capacity(request.len().saturating_mul(2)),
        ends: Vec::new(),
    };
    let mut scratch = Scratch::default();
    for field in fields(request) {
        if let (1, value) = field? {
            resource_logs(
                mapping,
                value.bytes("resource_logs")?,
                max_records,
                &mut written,
                &mut scratch,
            )?;
        }
    }
    Ok(written)
}

/// Why a request was not turned into records.
#[derive(Debug, PartialEq)]
pub(crate) enum Problem {
    /// Not a well-formed `ExportLogsServiceRequest`.
    Malformed(String),
    /// More log records than allowed.
    TooMany,
}

impl From<String> for Problem {
    fn from(why: String) -> Self {
        Problem::Malformed(why)
    }
}

/// Buffers kept across records so each record costs no allocation of its
/// own.
#[derive(Default)]
struct Scratch<'a> {
    attributes: Vec<(&'a str, Option<&'a [u8]>)>,
}

fn resource_logs<'a>(
    mapping: &LogMapping,
    message: &'a [u8],
    max_records: usize,
    written: &mut Written,
    scratch: &mut Scratch<'a>,
) -> Result<(), Problem> {
    let mut resource = None;
    let mut scopes = Vec::new();
    for field in fields(message) {
        match field? {
            (1, value) => resource = Some(value.bytes("resource")?),
            (2, value) => scopes.push(value.bytes("scope_logs")?),
            _ => {}
        }
    }
    // The resource's attributes, written once for all its records.
    let mut resource_json = Vec::new();
    if let Some(resource) = resource {
        let mut attributes = Vec::new();
        for field in fields(resource) {
            if let (1, value) = field? {
                attributes.push(key_value(value.bytes("attributes")?)?);
            }
        }
        if !attributes.is_empty() {
            write_object(&mut attributes, &mut resource_json, 2)?;
        }
    }
    for scope_logs in scopes {
        let mut scope = None;
        let mut logs = Vec::new();
        for field in fields(scope_logs) {
            match field? {
                (1, value) => scope = Some(value.bytes("scope")?),
                (2, value) => logs.push(value.bytes("log_records")?),
                _ => {}
            }
        }
        if written.ends.len() + logs.len() > max_records {
            return Err(Problem::TooMany);
        }
        let scope_json = match scope {
            Some(scope) => scope_object(scope)?,
            None => Vec::new(),
        };
        for log in logs {
            write_log(mapping, log, &resource_json, &scope_json, written, scratch)?;
            written.ends.push(written.bytes.len());
        }
    }
    Ok(())
}

/// `{name, version, attributes}` with only what the scope has; empty for
/// an empty scope.
fn scope_object(scope: &[u8]) -> Result<Vec<u8>, String> {
    let (mut name, mut version, mut attributes) = ("", "", Vec::new());
    for field in fields(scope) {
        match field? {
            (1, value) => name = value.text("scope.name")?,
            (2, value) => version = value.text("scope.version")?,
            (3, value) => attributes.push(key_value(value.bytes("scope.attributes")?)?),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if name.is_empty() && version.is_empty() && attributes.is_empty() {
        return Ok(out);
    }
    out.push(b'{');
    for (key, text) in [("name", name), ("version", version)] {
        if !text.is_empty() {
            comma(&mut out);
            write_str(&mut out, key);
            out.push(b':');
            write_str(&mut out, text);
        }
    }
    if !attributes.is_empty() {
        comma(&mut out);
        out.extend_from_slice(b"\"attributes\":");
        write_object(&mut attributes, &mut out, 3)?;
    }
    out.push(b'}');
    Ok(out)
}

/// One `LogRecord` as a record: the mapped fields first (time, severity,
/// body, trace and span ids), then the attributes (unique keys, one whose
/// key a mapped field took going into an `attributes` object), then
/// `resource` and `scope`.
fn write_log<'a>(
    mapping: &LogMapping,
    log: &'a [u8],
    resource: &[u8],
    scope: &[u8],
    written: &mut Written,
    scratch: &mut Scratch<'a>,
) -> Result<(), String> {
    let (mut time, mut observed, mut severity_number) = (0u64, 0u64, 0i32);
    let (mut severity_text, mut body, mut trace_id, mut span_id) = ("", None, &[][..], &[][..]);
    scratch.attributes.clear();
    for field in fields(log) {
        match field? {
            (1, value) => time = value.fixed64("time_unix_nano")?,
            (11, value) => observed = value.fixed64("observed_time_unix_nano")?,
            (2, value) => severity_number = value.varint("severity_number")? as i32,
            (3, value) => severity_text = value.text("severity_text")?,
            (5, value) => body = Some(value.bytes("body")?),
            (6, value) => scratch
                .attributes
                .push(key_value(value.bytes("attributes")?)?),
            (9, value) => trace_id = value.bytes("trace_id")?,
            (10, value) => span_id = value.bytes("span_id")?,
            (8, value) => {
                value.fixed32("flags")?;
            }
            _ => {}
        }
    }
    let out = &mut written.bytes;
    out.push(b'{');
    let names = Names::of(mapping);
    let mut mapped = MappedKeys::default();
    let time = if time != 0 { time } else { observed };
    if time != 0 && mapped.claim(out, names.timestamp) {
        out.push(b'"');
        write_rfc3339(time, out);
        out.push(b'"');
    }
    if !severity_text.is_empty() {
        if mapped.claim(out, names.severity) {
            write_str(out, severity_text);
        }
    } else if severity_number != 0 && mapped.claim(out, names.severity) {
        write_number(out, &severity_number);
    }
    if let Some(body) = body
        && mapped.claim(out, names.body)
    {
        write_value(body, out, 4)?;
    }
    if !trace_id.is_empty() && mapped.claim(out, names.trace_id) {
        write_hex(out, trace_id);
    }
    if !span_id.is_empty() && mapped.claim(out, names.span_id) {
        write_hex(out, span_id);
    }
    let mapped = &mapped.names[..mapped.count];
    let reserved = |name: &str| {
        mapped.contains(&name)
            || name == names.resource
            || name == names.scope
            || name == CLASHING_ATTRIBUTES_FIELD
    };
    unique(&mut scratch.attributes);
    let mut clashing = Vec::new();
    for &(name, value) in scratch.attributes.iter() {
        if reserved(name) {
            clashing.push((name, value));
            continue;
        }
        comma(out);
        write_str(out, name);
        out.push(b':');
        write_optional_value(value, out, 5)?;
    }
    if !clashing.is_empty() {
        comma(out);
        write_str(out, CLASHING_ATTRIBUTES_FIELD);
        out.push(b':');
        write_object(&mut clashing, out, 5)?;
    }
    if !resource.is_empty() {
        comma(out);
        write_str(out, names.resource);
        out.push(b':');
        out.extend_from_slice(resource);
    }
    if !scope.is_empty() {
        comma(out);
        write_str(out, names.scope);
        out.push(b':');
        out.extend_from_slice(scope);
    }
    out.push(b'}');
    Ok(())
}

/// The mapped fields written so far in one record.
#[derive(Default)]
struct MappedKeys<'n> {
    names: [&'n str; 5],
    count: usize,
}

impl<'n> MappedKeys<'n> {
    /// Writes `"name":` and `true`, unless a mapped field of that name was
    /// written already (two mapped fields configured with one name: the
    /// first keeps it).
    fn claim(&mut self, out: &mut Vec<u8>, name: &'n str) -> bool {
        if self.names[..self.count].contains(&name) {
            return false;
        }
        comma(out);
        write_str(out, name);
        out.push(b':');
        self.names[self.count] = name;
        self.count += 1;
        true
    }
}

/// The mapping's field names, borrowed for one record.
struct Names<'m> {
    timestamp: &'m str,
    severity: &'m str,
    body: &'m str,
    trace_id: &'m str,
    span_id: &'m str,
    resource: &'m str,
    scope: &'m str,
}

impl<'m> Names<'m> {
    fn of(mapping: &'m LogMapping) -> Self {
        Self {
            timestamp: &mapping.timestamp_field,
            severity: &mapping.severity_field,
            body: &mapping.body_field,
            trace_id: &mapping.trace_id_field,
            span_id: &mapping.span_id_field,
            resource: &mapping.resource_field,
            scope: &mapping.scope_field,
        }
    }
}

/// A `KeyValue`: its key and its value's bytes (`None` when absent).
fn key_value(message: &[u8]) -> Result<(&str, Option<&[u8]>), String> {
    let (mut key, mut value) = ("", None);
    for field in fields(message) {
        match field? {
            (1, v) => key = v.text("key")?,
            (2, v) => value = Some(v.bytes("value")?),
            _ => {}
        }
    }
    Ok((key, value))
}

/// Keeps each key once, at its first place with its last value (as a JSON
/// object read back would).
fn unique<'a>(pairs: &mut Vec<(&'a str, Option<&'a [u8]>)>) {
    if pairs.len() < 2 {
        return;
    }
    // Objects up to this many keys are searched by a scan; larger ones
    // (a hostile message with 100,000 keys) by a map, staying linear.
    const SCAN_LIMIT: usize = 16;
    let mut kept: Vec<(&'a str, Option<&'a [u8]>)> = Vec::with_capacity(pairs.len());
    if pairs.len() <= SCAN_LIMIT {
        for &(key, value) in pairs.iter() {
            match kept.iter_mut().find(|(k, _)| *k == key) {
                Some(earlier) => earlier.1 = value,
                None => kept.push((key, value)),
            }
        }
    } else {
        let mut at: HashMap<&str, usize> = HashMap::with_capacity(pairs.len());
        for &(key, value) in pairs.iter() {
            match at.get(key) {
                Some(&i) => kept[i].1 = value,
                None => {
                    at.insert(key, kept.len());
                    kept.push((key, value));
                }
            }
        }
    }
    *pairs = kept;
}

fn write_object<'a>(
    pairs: &mut Vec<(&'a str, Option<&'a [u8]>)>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    unique(pairs);
    out.push(b'{');
    for (i, &(key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_optional_value(value, out, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_optional_value(
    value: Option<&[u8]>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    match value {
        Some(value) => write_value(value, out, depth),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// An `AnyValue` as JSON: bytes as base64 (as OTLP/JSON writes them), a
/// double that is not finite as `null`, an empty value as `null`.
fn write_value(message: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH} messages"));
    }
    // The oneof's last field counts.
    let mut last = None;
    for field in fields(message) {
        let (number, value) = field?;
        if (1..=7).contains(&number) {
            last = Some((number, value));
        }
    }
    match last {
        None => out.extend_from_slice(b"null"),
        Some((1, value)) => write_str(out, value.text("string_value")?),
        Some((2, value)) => out.extend_from_slice(if value.varint("bool_value")? != 0 {
            b"true"
        } else {
            b"false"
        }),
        Some((3, value)) => write_number(out, &(value.varint("int_value")? as i64)),
        Some((4, value)) => {
            let double = f64::from_bits(value.fixed64("double_value")?);
            if double.is_finite() {
                write_number(out, &double);
            } else {
                out.extend_from_slice(b"null");
            }
        }
        Some((5, value)) => {
            out.push(b'[');
            let mut first = true;
            for field in fields(value.bytes("array_value")?) {
                if let (1, item) = field? {
                    if !std::mem::take(&mut first) {
                        out.push(b',');
                    }
                    write_value(item.bytes("array_value.values")?, out, depth + 2)?;
                }
            }
            out.push(b']');
        }
        Some((6, value)) => {
            let mut pairs = Vec::new();
            for field in fields(value.bytes("kvlist_value")?) {
                if let (1, pair) = field? {
                    pairs.push(key_value(pair.bytes("kvlist_value.values")?)?);
                }
            }
            write_object(&mut pairs, out, depth + 2)?;
        }
        Some((_, value)) => {
            let encoded = data_encoding::BASE64.encode(value.bytes("bytes_value")?);
            write_str(out, &encoded);
        }
    }
    Ok(())
}

fn comma(out: &mut Vec<u8>) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
}

/// A string as JSON, escaped as JSON requires.
fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 15)]);
    }
    out.push(b'"');
}

/// A number as JSON (`itoa` and `ryu`, through serde_json).
fn write_number<T: serde::Serialize>(out: &mut Vec<u8>, number: &T) {
    let _ = serde_json::to_writer(&mut *out, number);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::otlp::proto::{
        AnyValue, ArrayValue, ExportLogsServiceRequest, InstrumentationScope, KeyValue,
        KeyValueList, LogRecord, Resource, ResourceLogs, ScopeLogs, any_value,
    };
    use crate::sources::otlp::record_from_log;
    use proptest::prelude::*;
    use prost::Message;

    /// What the reference writes: the request decoded by `prost`, each
    /// log record mapped from the decoded message.
    fn reference(mapping: &LogMapping, request: &[u8]) -> (Vec<u8>, Vec<usize>) {
        let request = ExportLogsServiceRequest::decode(request).unwrap();
        let (mut bytes, mut ends) = (Vec::new(), Vec::new());
        for resource_logs in request.resource_logs {
            let resource = record_from_log::resource_json(
                resource_logs
                    .resource
                    .map(|r| r.attributes)
                    .unwrap_or_default(),
            );
            for scope_logs in resource_logs.scope_logs {
                let scope = record_from_log::scope_json(scope_logs.scope);
                for log in scope_logs.log_records {
                    record_from_log::write_record(
                        mapping,
                        resource.as_deref(),
                        scope.as_deref(),
                        log,
                        &mut bytes,
                    );
                    ends.push(bytes.len());
                }
            }
        }
        (bytes, ends)
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("message".to_owned()),
            Just("level".to_owned()),
            Just("resource".to_owned()),
            Just("attributes".to_owned()),
            "[a-c]{1,2}",
            "[\u{0}-\u{7f}é\u{1F600}]{0,4}",
        ]
    }

    fn any_value() -> impl Strategy<Value = AnyValue> {
        use any_value::Value as V;
        let leaf = prop_oneof![
            Just(None),
            any::<String>().prop_map(|s| Some(V::StringValue(s))),
            any::<bool>().prop_map(|b| Some(V::BoolValue(b))),
            any::<i64>().prop_map(|i| Some(V::IntValue(i))),
            any::<f64>().prop_map(|d| Some(V::DoubleValue(d))),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| Some(V::BytesValue(b))),
        ]
        .prop_map(|value| AnyValue { value });
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
                }),
                prop::collection::vec((key(), prop::option::of(inner)), 0..4).prop_map(|pairs| {
                    AnyValue {
                        value: Some(any_value::Value::KvlistValue(KeyValueList {
                            values: pairs
                                .into_iter()
                                .map(|(key, value)| KeyValue { key, value })
                                .collect(),
                        })),
                    }
                }),
            ]
        })
    }

    fn key_values() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec((key(), prop::option::of(any_value())), 0..5).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect()
        })
    }

    fn log_record() -> impl Strategy<Value = LogRecord> {
        (
            prop_oneof![Just(0u64), any::<u64>()],
            prop_oneof![Just(0u64), any::<u64>()],
            prop_oneof![Just(0i32), -2i32..30],
            prop_oneof![Just(String::new()), "[A-Za-z]{1,6}"],
            prop::option::of(any_value()),
            key_values(),
            prop_oneof![Just(Vec::new()), prop::collection::vec(any::<u8>(), 16)],
            prop_oneof![Just(Vec::new()), prop::collection::vec(any::<u8>(), 1..9)],
        )
            .prop_map(
                |(time, observed, number, text, body, attributes, trace_id, span_id)| LogRecord {
                    time_unix_nano: time,
                    observed_time_unix_nano: observed,
                    severity_number: number,
                    severity_text: text,
                    body,
                    attributes,
                    trace_id,
                    span_id,
                    flags: 0,
                },
            )
    }

    fn request() -> impl Strategy<Value = ExportLogsServiceRequest> {
        let scope = prop::option::of(("[a-z.]{0,5}", "[0-9.]{0,3}", key_values()).prop_map(
            |(name, version, attributes)| InstrumentationScope {
                name,
                version,
                attributes,
            },
        ));
        let scope_logs = (scope, prop::collection::vec(log_record(), 0..4))
            .prop_map(|(scope, log_records)| ScopeLogs { scope, log_records });
        let resource_logs = (
            prop::option::of(key_values().prop_map(|attributes| Resource { attributes })),
            prop::collection::vec(scope_logs, 0..3),
        )
            .prop_map(|(resource, scope_logs)| ResourceLogs {
                resource,
                scope_logs,
            });
        prop::collection::vec(resource_logs, 0..3)
            .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
    }

    fn mapping() -> impl Strategy<Value = LogMapping> {
        prop_oneof![
            3 => Just(LogMapping::default()),
            1 => Just(LogMapping {
                body_field: "level".into(),
                trace_id_field: "a".into(),
                ..LogMapping::default()
            }),
        ]
    }

    proptest! {
        #[test]
        fn the_transcoder_writes_what_the_decoded_mapping_writes(
            request in request(),
            mapping in mapping(),
        ) {
            let encoded = request.encode_to_vec();
            let written = write_records(&mapping, &encoded, usize::MAX).unwrap();
            let (bytes, ends) = reference(&mapping, &encoded);
            prop_assert_eq!(String::from_utf8(written.bytes.clone()).unwrap(), String::from_utf8(bytes).unwrap());
            prop_assert_eq!(&written.ends, &ends);
            let mut start = 0;
            for end in written.ends {
                let record = &written.bytes[start..end];
                prop_assert!(serde_json::from_slice::<serde_json::Value>(record).is_ok());
                start = end;
            }
        }

        /// Any bytes give records or a reason, never a panic.
        #[test]
        fn any_bytes_are_records_or_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(written) = write_records(&LogMapping::default(), &bytes, 100) {
                let mut start = 0;
                for end in written.ends {
                    prop_assert!(serde_json::from_slice::<serde::de::IgnoredAny>(&written.bytes[start..end]).is_ok());
                    start = end;
                }
            }
        }
    }

    #[test]
    fn the_limit_on_records_and_nesting_holds() {
        let log = LogRecord {
            severity_text: "x".into(),
            ..LogRecord::default()
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: vec![log; 3],
                }],
            }],
        }
        .encode_to_vec();
        assert_eq!(
            write_records(&LogMapping::default(), &request, 3)
                .unwrap()
                .ends
                .len(),
            3
        );
        assert!(matches!(
            write_records(&LogMapping::default(), &request, 2),
            Err(Problem::TooMany)
        ));
        let mut deep = AnyValue::default();
        for _ in 0..200 {
            deep = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![deep],
                })),
            };
        }
        // Built by hand: prost itself would refuse to decode it.
        let log = LogRecord {
            body: Some(deep),
            ..LogRecord::default()
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: vec![log],
                }],
            }],
        }
        .encode_to_vec();
        let err = write_records(&LogMapping::default(), &request, 10)
            .err()
            .unwrap();
        assert!(matches!(err, Problem::Malformed(why) if why.contains("nested deeper")));
    }
}
