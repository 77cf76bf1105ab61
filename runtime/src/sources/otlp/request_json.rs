//! An OTLP/JSON logs request read into the protobuf messages, as the OTLP
//! specification writes protobuf in JSON: lowerCamelCase keys, 64-bit
//! integers as strings or numbers, enums as numbers, trace and span ids
//! as hex, bytes as base64. Unknown keys are ignored, as protobuf's JSON
//! mapping says.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

use crate::sinks::otlp::proto::{
    AnyValue, ArrayValue, ExportLogsServiceRequest, InstrumentationScope, KeyValue, KeyValueList,
    LogRecord, Resource, ResourceLogs, ScopeLogs, any_value,
};

/// The request in `body`, or what is wrong with it.
pub(crate) fn request_from_json(body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    let request: JsonRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(request.into())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRequest {
    #[serde(default)]
    resource_logs: Vec<JsonResourceLogs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonResourceLogs {
    #[serde(default)]
    resource: Option<JsonResource>,
    #[serde(default)]
    scope_logs: Vec<JsonScopeLogs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonResource {
    #[serde(default)]
    attributes: Vec<JsonKeyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonScopeLogs {
    #[serde(default)]
    scope: Option<JsonScope>,
    #[serde(default)]
    log_records: Vec<JsonLogRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonScope {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    attributes: Vec<JsonKeyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonLogRecord {
    #[serde(default, deserialize_with = "integer")]
    time_unix_nano: u64,
    #[serde(default, deserialize_with = "integer")]
    observed_time_unix_nano: u64,
    #[serde(default)]
    severity_number: i32,
    #[serde(default)]
    severity_text: String,
    #[serde(default)]
    body: Option<JsonAnyValue>,
    #[serde(default)]
    attributes: Vec<JsonKeyValue>,
    #[serde(default)]
    flags: u32,
    #[serde(default, deserialize_with = "hex_bytes")]
    trace_id: Vec<u8>,
    #[serde(default, deserialize_with = "hex_bytes")]
    span_id: Vec<u8>,
}

#[derive(Deserialize)]
struct JsonKeyValue {
    key: String,
    #[serde(default)]
    value: Option<JsonAnyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonAnyValue {
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    bool_value: Option<bool>,
    #[serde(default, deserialize_with = "optional_integer")]
    int_value: Option<i64>,
    #[serde(default)]
    double_value: Option<f64>,
    #[serde(default)]
    array_value: Option<JsonValues<JsonAnyValue>>,
    #[serde(default)]
    kvlist_value: Option<JsonValues<JsonKeyValue>>,
    #[serde(default, deserialize_with = "optional_base64")]
    bytes_value: Option<Vec<u8>>,
}

#[derive(Deserialize)]
struct JsonValues<T> {
    #[serde(default = "Vec::new")]
    values: Vec<T>,
}

/// A 64-bit integer written as a number or as a decimal string.
fn integer<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
    struct IntegerVisitor;
    impl serde::de::Visitor<'_> for IntegerVisitor {
        type Value = i128;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer or a decimal string")
        }
        fn visit_i64<E>(self, v: i64) -> Result<i128, E> {
            Ok(v.into())
        }
        fn visit_u64<E>(self, v: u64) -> Result<i128, E> {
            Ok(v.into())
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i128, E> {
            v.trim()
                .parse()
                .map_err(|_| E::custom("expected an integer or a decimal string"))
        }
    }
    let n = d.deserialize_any(IntegerVisitor)?;
    T::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range")))
}

fn optional_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    integer(d).map(Some)
}

fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    hex::decode(&text).map_err(|_| D::Error::custom("a trace or span id must be hex digits"))
}

fn optional_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let text = String::deserialize(d)?;
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map(Some)
        .map_err(|_| D::Error::custom("bytesValue must be base64"))
}

impl From<JsonRequest> for ExportLogsServiceRequest {
    fn from(request: JsonRequest) -> Self {
        ExportLogsServiceRequest {
            resource_logs: request
                .resource_logs
                .into_iter()
                .map(|r| ResourceLogs {
                    resource: r.resource.map(|resource| Resource {
                        attributes: key_values(resource.attributes),
                    }),
                    scope_logs: r
                        .scope_logs
                        .into_iter()
                        .map(|s| ScopeLogs {
                            scope: s.scope.map(|scope| InstrumentationScope {
                                name: scope.name,
                                version: scope.version,
                                attributes: key_values(scope.attributes),
                            }),
                            log_records: s.log_records.into_iter().map(LogRecord::from).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl From<JsonLogRecord> for LogRecord {
    fn from(log: JsonLogRecord) -> Self {
        LogRecord {
            time_unix_nano: log.time_unix_nano,
            observed_time_unix_nano: log.observed_time_unix_nano,
            severity_number: log.severity_number,
            severity_text: log.severity_text,
            body: log.body.map(AnyValue::from),
            attributes: key_values(log.attributes),
            trace_id: log.trace_id,
            span_id: log.span_id,
            flags: log.flags,
        }
    }
}

fn key_values(values: Vec<JsonKeyValue>) -> Vec<KeyValue> {
    values
        .into_iter()
        .map(|kv| KeyValue {
            key: kv.key,
            value: kv.value.map(AnyValue::from),
        })
        .collect()
}

impl From<JsonAnyValue> for AnyValue {
    fn from(value: JsonAnyValue) -> Self {
        use any_value::Value as V;
        let value = if let Some(s) = value.string_value {
            Some(V::StringValue(s))
        } else if let Some(b) = value.bool_value {
            Some(V::BoolValue(b))
        } else if let Some(i) = value.int_value {
            Some(V::IntValue(i))
        } else if let Some(d) = value.double_value {
            Some(V::DoubleValue(d))
        } else if let Some(list) = value.array_value {
            Some(V::ArrayValue(ArrayValue {
                values: list.values.into_iter().map(AnyValue::from).collect(),
            }))
        } else if let Some(list) = value.kvlist_value {
            Some(V::KvlistValue(KeyValueList {
                values: key_values(list.values),
            }))
        } else {
            value.bytes_value.map(V::BytesValue)
        };
        AnyValue { value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_example_reads() {
        // The shape of opentelemetry-proto's examples/logs.json.
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
          "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},
          "logRecords":[{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":1544712660300000000,"severityNumber":10,"severityText":"Information",
          "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","body":{"stringValue":"Example log record"},
          "attributes":[{"key":"string.attribute","value":{"stringValue":"some string"}},{"key":"boolean.attribute","value":{"boolValue":true}},
          {"key":"int.attribute","value":{"intValue":"10"}},{"key":"double.attribute","value":{"doubleValue":637.704}},
          {"key":"array.attribute","value":{"arrayValue":{"values":[{"stringValue":"many"},{"stringValue":"values"}]}}},
          {"key":"map.attribute","value":{"kvlistValue":{"values":[{"key":"some.map.key","value":{"stringValue":"some value"}}]}}}]}]}]}]}"#;
        let request = request_from_json(body).unwrap();
        let scope = &request.resource_logs[0].scope_logs[0];
        let log = &scope.log_records[0];
        assert_eq!(log.time_unix_nano, 1_544_712_660_300_000_000);
        assert_eq!(log.observed_time_unix_nano, 1_544_712_660_300_000_000);
        assert_eq!(log.severity_number, 10);
        assert_eq!(log.trace_id.len(), 16);
        assert_eq!(log.attributes.len(), 6);
        assert_eq!(
            log.attributes[2].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(10))
        );
        assert_eq!(scope.scope.as_ref().unwrap().attributes.len(), 1);
    }

    #[test]
    fn wrong_shapes_say_what_is_wrong() {
        for (body, expected) in [
            (
                &br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}"#
                    [..],
                "integer",
            ),
            (
                br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#,
                "hex",
            ),
            (
                br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"-1"}]}]}]}"#,
                "range",
            ),
            (br#"[1,2]"#, "invalid type"),
        ] {
            let err = request_from_json(body).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
