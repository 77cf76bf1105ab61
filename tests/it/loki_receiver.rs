//! A Loki-compatible push receiver, written from Loki's published push API
//! (`POST /loki/api/v1/push`): `application/x-protobuf` bodies are
//! snappy-compressed (block format) `logproto.PushRequest`s, decoded here
//! with this file's own message types; `application/json` bodies are
//! `{"streams":[{"stream":{…},"values":[["<ns>","<line>"]]}]}`. It enforces
//! Loki's default limits (lines up to 256 KB, at most 15 labels per
//! stream, at least one label) the way Loki does: valid entries are kept,
//! and the push is answered 400 naming what was refused. With
//! `out_of_order_window` it also refuses, as Loki's ingester does, entries
//! further behind their stream's newest than the window, stores the rest,
//! and ends its 400 with `total ignored: N out of M for stream: …`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prost::Message;

use crate::recording_server::{Answer, RawRequest, RecordingServer};

mod logproto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<Stream>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Stream {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<Entry>,
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub line: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// One entry as Loki stored it.
#[derive(Clone, Debug)]
pub struct LokiEntry {
    pub labels: BTreeMap<String, String>,
    pub nanos: i128,
    pub line: String,
    pub tenant: Option<String>,
    pub protobuf: bool,
}

/// Loki's per-tenant limits that a push can hit.
#[derive(Clone, Copy)]
pub struct LokiLimits {
    pub max_line_size: usize,
    pub max_labels: usize,
    /// Nanoseconds an entry may be behind its stream's newest entry.
    pub out_of_order_window: Option<i128>,
}

impl Default for LokiLimits {
    fn default() -> Self {
        Self {
            max_line_size: 256 * 1024,
            max_labels: 15,
            out_of_order_window: None,
        }
    }
}

/// The receiver; `before` may answer a push instead of Loki (429, 500…).
pub struct LokiReceiver {
    pub server: RecordingServer,
    entries: Arc<Mutex<Vec<LokiEntry>>>,
}

impl LokiReceiver {
    pub fn start(limits: LokiLimits) -> Self {
        Self::on("127.0.0.1:0", limits, |_| None)
    }

    pub fn on(
        addr: &str,
        limits: LokiLimits,
        before: impl Fn(usize) -> Option<Answer> + Send + Sync + 'static,
    ) -> Self {
        let entries = Arc::new(Mutex::new(Vec::new()));
        let pushes = std::sync::atomic::AtomicUsize::new(0);
        let server = {
            let entries = entries.clone();
            RecordingServer::start(addr, move |request| {
                let n = pushes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if let Some(answer) = before(n) {
                    return answer;
                }
                push(request, limits, &entries)
            })
        };
        Self { server, entries }
    }

    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    pub fn entries(&self) -> Vec<LokiEntry> {
        self.entries.lock().unwrap().clone()
    }

    /// The `"i"` of every stored line, in the order stored, per stream.
    pub fn numbers(&self) -> Vec<u64> {
        self.entries()
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.line).unwrap()["i"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }
}

fn push(request: &RawRequest, limits: LokiLimits, store: &Mutex<Vec<LokiEntry>>) -> Answer {
    if request.method != "POST" || request.path != "/loki/api/v1/push" {
        return Answer::status(404, "404 page not found\n");
    }
    let tenant = request.header("X-Scope-OrgID").map(str::to_owned);
    let content_type = request.header("Content-Type").unwrap_or("");
    let (streams, protobuf) = if content_type.starts_with("application/x-protobuf") {
        let Ok(plain) = snap::raw::Decoder::new().decompress_vec(&request.body) else {
            return Answer::status(400, "snappy: corrupt input");
        };
        let Ok(push) = logproto::PushRequest::decode(&plain[..]) else {
            return Answer::status(400, "proto: cannot parse PushRequest");
        };
        let mut streams = Vec::new();
        for stream in push.streams {
            let Some(labels) = parse_labels(&stream.labels) else {
                return Answer::status(400, format!("parse error: bad labels {:?}", stream.labels));
            };
            let entries = stream
                .entries
                .into_iter()
                .map(|e| {
                    let t = e.timestamp.unwrap_or_default();
                    (
                        i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos),
                        e.line,
                    )
                })
                .collect();
            streams.push((labels, entries));
        }
        (streams, true)
    } else if content_type.starts_with("application/json") {
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
            return Answer::status(400, "JSON: cannot parse body");
        };
        let mut streams = Vec::new();
        for stream in body["streams"].as_array().cloned().unwrap_or_default() {
            let labels: BTreeMap<String, String> = stream["stream"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let mut entries = Vec::new();
            for value in stream["values"].as_array().cloned().unwrap_or_default() {
                let (Some(ns), Some(line)) = (
                    value[0].as_str().and_then(|s| s.parse::<i128>().ok()),
                    value[1].as_str(),
                ) else {
                    return Answer::status(400, "JSON: a value is not [\"<ns>\", \"<line>\"]");
                };
                entries.push((ns, line.to_owned()));
            }
            streams.push((labels, entries));
        }
        (streams, false)
    } else {
        return Answer::status(415, "unsupported Content-Type");
    };
    let mut refused = Vec::new();
    let mut store = store.lock().unwrap();
    for (labels, entries) in streams {
        if labels.is_empty() {
            refused.push("error at least one label pair is required per stream".to_owned());
            continue;
        }
        if labels.len() > limits.max_labels {
            refused.push(format!(
                "entry for stream has {} label names; limit {}",
                labels.len(),
                limits.max_labels
            ));
            continue;
        }
        let total = entries.len();
        let mut too_far_behind = Vec::new();
        for (nanos, line) in entries {
            if let Some(window) = limits.out_of_order_window {
                let newest = store
                    .iter()
                    .filter(|e| e.labels == labels)
                    .map(|e| e.nanos)
                    .max();
                if let Some(newest) = newest
                    && nanos < newest - window
                {
                    too_far_behind.push(format!(
                        "entry with timestamp {nanos} ignored, reason: 'entry too far behind, oldest acceptable timestamp is: {}',",
                        newest - window
                    ));
                    continue;
                }
            }
            if line.len() > limits.max_line_size {
                refused.push(format!(
                    "max entry size '{}' bytes exceeded for stream; entry size '{}' bytes",
                    limits.max_line_size,
                    line.len()
                ));
                continue;
            }
            store.push(LokiEntry {
                labels: labels.clone(),
                nanos,
                line,
                tenant: tenant.clone(),
                protobuf,
            });
        }
        if !too_far_behind.is_empty() {
            // Loki's ingester: the ignored entries, then the count.
            let stream = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ");
            refused.push(format!(
                "{}\nuser 'fake', total ignored: {} out of {total} for stream: {{{stream}}}",
                too_far_behind.join("\n"),
                too_far_behind.len()
            ));
        }
    }
    if refused.is_empty() {
        Answer::status(204, "")
    } else {
        Answer::status(400, refused.join("\n"))
    }
}

/// `{a="x", b="y\"z"}` → labels (Prometheus text form).
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut labels = BTreeMap::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(labels);
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_'))
                .collect();
        if name.is_empty() || chars.next()? != '=' || chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => value.push(match chars.next()? {
                    'n' => '\n',
                    other => other,
                }),
                c => value.push(c),
            }
        }
        // Loki's parser drops labels with empty values.
        if !value.is_empty() {
            labels.insert(name, value);
        }
    }
}
