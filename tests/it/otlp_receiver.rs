//! An OTLP/HTTP logs receiver written from the OTLP specification
//! (`POST /v1/logs`; `application/x-protobuf` bodies are
//! `ExportLogsServiceRequest`s, decoded here with this file's own message
//! types; `application/json` bodies are OTLP/JSON: lowerCamelCase names,
//! 64-bit integers as strings, ids as hex). Every log record is flattened
//! into an [`OtlpLog`] with plain JSON values. A script may answer a
//! request instead: a partial success, a `google.rpc.Status` error, 429.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prost::Message;
use serde_json::Value;

use crate::recording_server::{Answer, RawRequest, RecordingServer};

pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_logs: Vec<ResourceLogs>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceLogs {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_logs: Vec<ScopeLogs>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "2")]
        pub dropped_attributes_count: u32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeLogs {
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        #[prost(message, repeated, tag = "2")]
        pub log_records: Vec<LogRecord>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InstrumentationScope {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub version: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LogRecord {
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        #[prost(fixed64, tag = "11")]
        pub observed_time_unix_nano: u64,
        #[prost(int32, tag = "2")]
        pub severity_number: i32,
        #[prost(string, tag = "3")]
        pub severity_text: String,
        #[prost(message, optional, tag = "5")]
        pub body: Option<AnyValue>,
        #[prost(message, repeated, tag = "6")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "7")]
        pub dropped_attributes_count: u32,
        #[prost(fixed32, tag = "8")]
        pub flags: u32,
        #[prost(bytes = "vec", tag = "9")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "10")]
        pub span_id: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6, 7")]
        pub value: Option<Value>,
    }
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(string, tag = "1")]
        S(String),
        #[prost(bool, tag = "2")]
        B(bool),
        #[prost(int64, tag = "3")]
        I(i64),
        #[prost(double, tag = "4")]
        D(f64),
        #[prost(message, tag = "5")]
        A(ArrayValue),
        #[prost(message, tag = "6")]
        Kv(KeyValueList),
        #[prost(bytes = "vec", tag = "7")]
        Bytes(Vec<u8>),
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ArrayValue {
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<AnyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValueList {
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<KeyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsServiceResponse {
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportLogsPartialSuccess>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsPartialSuccess {
        #[prost(int64, tag = "1")]
        pub rejected_log_records: i64,
        #[prost(string, tag = "2")]
        pub error_message: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
    }
}

/// One log record as the receiver understood it.
#[derive(Clone, Debug, Default)]
pub struct OtlpLog {
    pub resource: BTreeMap<String, Value>,
    pub scope: String,
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_number: i64,
    pub severity_text: String,
    pub body: Value,
    pub attributes: BTreeMap<String, Value>,
    pub trace_id: String,
    pub span_id: String,
    pub protobuf: bool,
}

type Script = dyn Fn(usize, &RawRequest, usize) -> Option<Answer> + Send + Sync;

pub struct OtlpReceiver {
    pub server: RecordingServer,
    logs: Arc<Mutex<Vec<OtlpLog>>>,
}

impl OtlpReceiver {
    pub fn start() -> Self {
        Self::on("127.0.0.1:0", |_, _, _| None)
    }

    /// `script(request number, request, records in it)` may answer
    /// instead; the records of a request it answers are not kept unless
    /// the answer is a 2xx (partial success keeps them all, as a collector
    /// that dropped some would have kept the rest).
    pub fn on(
        addr: &str,
        script: impl Fn(usize, &RawRequest, usize) -> Option<Answer> + Send + Sync + 'static,
    ) -> Self {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let count = std::sync::atomic::AtomicUsize::new(0);
        let script: Box<Script> = Box::new(script);
        let server = {
            let logs = logs.clone();
            RecordingServer::start(addr, move |request| {
                if request.method != "POST" || request.path != "/v1/logs" {
                    return Answer::status(404, "not found");
                }
                let decoded = match decode(request) {
                    Ok(decoded) => decoded,
                    Err(why) => return status_answer(request, 400, &why),
                };
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answer = script(n, request, decoded.len());
                if answer
                    .as_ref()
                    .is_none_or(|a| (200..300).contains(&a.status))
                {
                    logs.lock().unwrap().extend(decoded);
                }
                answer.unwrap_or_else(|| success(request, 0, ""))
            })
        };
        Self { server, logs }
    }

    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    pub fn logs(&self) -> Vec<OtlpLog> {
        self.logs.lock().unwrap().clone()
    }

    /// The `"i"` attribute (or body field) of every log kept, in order.
    pub fn numbers(&self) -> Vec<u64> {
        self.logs()
            .iter()
            .map(|log| {
                log.attributes
                    .get("i")
                    .or_else(|| log.body.get("i"))
                    .and_then(Value::as_u64)
                    .unwrap()
            })
            .collect()
    }
}

fn is_protobuf(request: &RawRequest) -> bool {
    request
        .header("Content-Type")
        .unwrap_or("")
        .starts_with("application/x-protobuf")
}

/// A 200 with `partial_success`, encoded like the request.
pub fn success(request: &RawRequest, rejected: i64, message: &str) -> Answer {
    if is_protobuf(request) {
        let response = proto::ExportLogsServiceResponse {
            partial_success: (rejected > 0 || !message.is_empty()).then(|| {
                proto::ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: message.into(),
                }
            }),
        };
        Answer::status(200, response.encode_to_vec())
            .with_header("Content-Type", "application/x-protobuf")
    } else {
        let body = if rejected > 0 || !message.is_empty() {
            serde_json::json!({"partialSuccess": {"rejectedLogRecords": rejected.to_string(), "errorMessage": message}})
        } else {
            serde_json::json!({})
        };
        Answer::status(200, body.to_string()).with_header("Content-Type", "application/json")
    }
}

/// An error answer carrying a `google.rpc.Status`, encoded like the request.
pub fn status_answer(request: &RawRequest, status: u16, message: &str) -> Answer {
    if is_protobuf(request) {
        let body = proto::Status {
            code: 3,
            message: message.into(),
        }
        .encode_to_vec();
        Answer::status(status, body).with_header("Content-Type", "application/x-protobuf")
    } else {
        Answer::status(
            status,
            serde_json::json!({"code": 3, "message": message}).to_string(),
        )
        .with_header("Content-Type", "application/json")
    }
}

fn decode(request: &RawRequest) -> Result<Vec<OtlpLog>, String> {
    if is_protobuf(request) {
        let export = proto::ExportLogsServiceRequest::decode(&request.body[..])
            .map_err(|e| format!("cannot decode ExportLogsServiceRequest: {e}"))?;
        let mut out = Vec::new();
        for resource_logs in export.resource_logs {
            let resource = pb_attributes(
                resource_logs
                    .resource
                    .map(|r| r.attributes)
                    .unwrap_or_default(),
            );
            for scope_logs in resource_logs.scope_logs {
                let scope = scope_logs.scope.map(|s| s.name).unwrap_or_default();
                for log in scope_logs.log_records {
                    out.push(OtlpLog {
                        resource: resource.clone(),
                        scope: scope.clone(),
                        time_unix_nano: log.time_unix_nano,
                        observed_time_unix_nano: log.observed_time_unix_nano,
                        severity_number: i64::from(log.severity_number),
                        severity_text: log.severity_text,
                        body: log.body.map(pb_value).unwrap_or(Value::Null),
                        attributes: pb_attributes(log.attributes),
                        trace_id: hex::encode(log.trace_id),
                        span_id: hex::encode(log.span_id),
                        protobuf: true,
                    });
                }
            }
        }
        Ok(out)
    } else if request
        .header("Content-Type")
        .unwrap_or("")
        .starts_with("application/json")
    {
        let export: Value =
            serde_json::from_slice(&request.body).map_err(|e| format!("bad JSON: {e}"))?;
        let mut out = Vec::new();
        for resource_logs in export["resourceLogs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let resource = json_attributes(&resource_logs["resource"]["attributes"])?;
            for scope_logs in resource_logs["scopeLogs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let scope = scope_logs["scope"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                for log in scope_logs["logRecords"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    out.push(OtlpLog {
                        resource: resource.clone(),
                        scope: scope.clone(),
                        time_unix_nano: json_u64(&log["timeUnixNano"])?,
                        observed_time_unix_nano: json_u64(&log["observedTimeUnixNano"])?,
                        severity_number: log["severityNumber"].as_i64().unwrap_or(0),
                        severity_text: log["severityText"].as_str().unwrap_or("").to_owned(),
                        body: if log["body"].is_null() {
                            Value::Null
                        } else {
                            json_value(&log["body"])?
                        },
                        attributes: json_attributes(&log["attributes"])?,
                        trace_id: log["traceId"].as_str().unwrap_or("").to_owned(),
                        span_id: log["spanId"].as_str().unwrap_or("").to_owned(),
                        protobuf: false,
                    });
                }
            }
        }
        Ok(out)
    } else {
        Err("unsupported Content-Type".into())
    }
}

fn pb_attributes(values: Vec<proto::KeyValue>) -> BTreeMap<String, Value> {
    values
        .into_iter()
        .map(|kv| (kv.key, kv.value.map(pb_value).unwrap_or(Value::Null)))
        .collect()
}

fn pb_value(value: proto::AnyValue) -> Value {
    match value.value {
        None => Value::Null,
        Some(proto::Value::S(s)) => s.into(),
        Some(proto::Value::B(b)) => b.into(),
        Some(proto::Value::I(i)) => i.into(),
        Some(proto::Value::D(d)) => d.into(),
        Some(proto::Value::Bytes(b)) => hex::encode(b).into(),
        Some(proto::Value::A(a)) => Value::Array(a.values.into_iter().map(pb_value).collect()),
        Some(proto::Value::Kv(kv)) => Value::Object(pb_attributes(kv.values).into_iter().collect()),
    }
}

/// A 64-bit integer field: a string of digits or a number; absent is 0.
fn json_u64(value: &Value) -> Result<u64, String> {
    match value {
        Value::Null => Ok(0),
        Value::String(s) => s.parse().map_err(|_| format!("{s:?} is not a uint64")),
        other => other
            .as_u64()
            .ok_or_else(|| format!("{other} is not a uint64")),
    }
}

fn json_attributes(list: &Value) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    for kv in list.as_array().cloned().unwrap_or_default() {
        let key = kv["key"]
            .as_str()
            .ok_or("an attribute without a key")?
            .to_owned();
        out.insert(key, json_value(&kv["value"])?);
    }
    Ok(out)
}

fn json_value(value: &Value) -> Result<Value, String> {
    let object = value
        .as_object()
        .ok_or("an AnyValue that is not an object")?;
    let Some((kind, inner)) = object.iter().next() else {
        return Ok(Value::Null);
    };
    Ok(match kind.as_str() {
        "stringValue" | "boolValue" | "doubleValue" => inner.clone(),
        "intValue" => Value::from(match inner {
            Value::String(s) => s
                .parse::<i64>()
                .map_err(|_| format!("{s:?} is not an int64"))?,
            other => other.as_i64().ok_or("an intValue that is not an int64")?,
        }),
        "bytesValue" => inner.clone(),
        "arrayValue" => Value::Array(
            inner["values"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(json_value)
                .collect::<Result<_, _>>()?,
        ),
        "kvlistValue" => Value::Object(json_attributes(&inner["values"])?.into_iter().collect()),
        other => return Err(format!("unknown AnyValue kind {other}")),
    })
}
