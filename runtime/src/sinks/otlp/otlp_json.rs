//! The OTLP/JSON form of a logs request, as the OTLP specification writes
//! protobuf in JSON: lowerCamelCase names, 64-bit integers as strings,
//! trace and span ids as hex, enums as numbers.

use serde_json::{Map, Value, json};

use super::proto::{AnyValue, ExportLogsServiceRequest, KeyValue, any_value};

/// The request as OTLP/JSON bytes.
pub(crate) fn request_json(request: &ExportLogsServiceRequest) -> Vec<u8> {
    let resource_logs: Vec<Value> = request
        .resource_logs
        .iter()
        .map(|resource_logs| {
            let scope_logs: Vec<Value> = resource_logs
                .scope_logs
                .iter()
                .map(|scope_logs| {
                    let records: Vec<Value> = scope_logs
                        .log_records
                        .iter()
                        .map(|log| {
                            let mut out = Map::new();
                            if log.time_unix_nano != 0 {
                                out.insert(
                                    "timeUnixNano".into(),
                                    log.time_unix_nano.to_string().into(),
                                );
                            }
                            out.insert(
                                "observedTimeUnixNano".into(),
                                log.observed_time_unix_nano.to_string().into(),
                            );
                            if log.severity_number != 0 {
                                out.insert("severityNumber".into(), log.severity_number.into());
                            }
                            if !log.severity_text.is_empty() {
                                out.insert("severityText".into(), log.severity_text.clone().into());
                            }
                            if let Some(body) = &log.body {
                                out.insert("body".into(), any_json(body));
                            }
                            if !log.attributes.is_empty() {
                                out.insert("attributes".into(), key_values_json(&log.attributes));
                            }
                            if !log.trace_id.is_empty() {
                                out.insert("traceId".into(), hex::encode(&log.trace_id).into());
                            }
                            if !log.span_id.is_empty() {
                                out.insert("spanId".into(), hex::encode(&log.span_id).into());
                            }
                            Value::Object(out)
                        })
                        .collect();
                    let scope = scope_logs
                        .scope
                        .as_ref()
                        .map(|scope| json!({"name": scope.name, "version": scope.version}));
                    json!({"scope": scope, "logRecords": records})
                })
                .collect();
            let attributes = resource_logs
                .resource
                .as_ref()
                .map(|resource| key_values_json(&resource.attributes))
                .unwrap_or_else(|| Value::Array(vec![]));
            json!({"resource": {"attributes": attributes}, "scopeLogs": scope_logs})
        })
        .collect();
    serde_json::to_vec(&json!({ "resourceLogs": resource_logs })).expect("JSON serializes")
}

fn key_values_json(values: &[KeyValue]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|kv| {
                let value = kv.value.as_ref().map(any_json).unwrap_or_else(|| json!({}));
                json!({"key": kv.key, "value": value})
            })
            .collect(),
    )
}

fn any_json(value: &AnyValue) -> Value {
    use any_value::Value as V;
    match &value.value {
        None => json!({}),
        Some(V::StringValue(s)) => json!({ "stringValue": s }),
        Some(V::BoolValue(b)) => json!({ "boolValue": b }),
        Some(V::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(V::DoubleValue(d)) if d.is_finite() => json!({ "doubleValue": d }),
        Some(V::DoubleValue(d)) => json!({ "doubleValue": d.to_string() }),
        Some(V::BytesValue(b)) => {
            json!({ "bytesValue": data_encoding::BASE64.encode(b) })
        }
        Some(V::ArrayValue(items)) => {
            json!({"arrayValue": {"values": items.values.iter().map(any_json).collect::<Vec<_>>()}})
        }
        Some(V::KvlistValue(list)) => {
            json!({"kvlistValue": {"values": key_values_json(&list.values)}})
        }
    }
}

/// `(rejected, message)` from an OTLP/JSON `ExportLogsServiceResponse`;
/// `None` when the answer is empty or has no partial success.
pub(crate) fn partial_success_json(body: &[u8]) -> Option<(i64, String)> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    let partial = answer.get("partialSuccess")?;
    // proto3 JSON leaves a zero count out.
    let rejected = match partial.get("rejectedLogRecords") {
        None => 0,
        Some(Value::String(text)) => text.parse().ok()?,
        Some(other) => other.as_i64()?,
    };
    let message = partial
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Some((rejected, message))
}
