//! The running `loki` sink: records grouped into streams by their labels,
//! sent to the push API as snappy-compressed protobuf or as JSON.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::Value;

use super::labels::{LabelRules, prometheus_form};
use super::logproto::{EntryAdapter, PushRequest, StreamAdapter, Timestamp};
use super::push_answer::push_answer;
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::breaker::BreakerState;
use crate::sinks::util::http::delivery::{EncodedRequest, HttpDelivery};
use crate::sinks::util::http::options::HttpOptions;
use crate::sinks::util::http::request_chunks::request_chunks;
use crate::sinks::util::record_field::{field_text, record_field};
use crate::sinks::util::record_time::{now_unix_nanos, unix_nanos};

/// How a push body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LokiEncoding {
    /// `logproto.PushRequest`, snappy-compressed (what Promtail sends).
    Protobuf,
    /// `{"streams":[{"stream":{…},"values":[["<ns>","<line>"]]}]}`.
    Json,
}

/// What happens to an entry older than the last one sent on its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutOfOrderAction {
    /// Send it as it is (Loki 2.4 and later accept unordered writes).
    Accept,
    /// Send it with the stream's last timestamp.
    RewriteTimestamp,
    /// Leave it out, counted and logged.
    Drop,
}

/// What happens to a line longer than `max_line_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineSizeAction {
    /// Cut it, ending it with how much was cut.
    Truncate,
    /// Leave it out, counted and logged.
    Drop,
}

/// The `loki` sink's options.
#[derive(Clone, Debug)]
pub struct LokiSinkOptions {
    /// How to reach Loki; the endpoint is the push URL.
    pub http: HttpOptions,
    /// Body encoding.
    pub encoding: LokiEncoding,
    /// Labels on every stream.
    pub labels: Vec<(String, String)>,
    /// Record fields that become labels.
    pub label_keys: Vec<String>,
    /// Most distinct values one field label takes before new ones are
    /// sent as `_overflow`.
    pub max_label_values: usize,
    /// The field whose value is the line; `None`: the whole record.
    pub line_field: Option<String>,
    /// The field holding the record's time; `None`, or a record without
    /// it: the time of sending.
    pub timestamp_field: Option<String>,
    /// Entries older than their stream's last.
    pub out_of_order: OutOfOrderAction,
    /// Longest line sent, in bytes.
    pub max_line_size: usize,
    /// Lines longer than that.
    pub line_size_action: LineSizeAction,
}

/// Streams whose last timestamp is remembered for the out-of-order policy;
/// past this the memory starts over.
const MAX_TRACKED_STREAMS: usize = 10_000;

/// Sends records to Loki's push API, grouped into streams by label set,
/// each stream's entries in record order.
pub struct LokiSink {
    options: LokiSinkOptions,
    rules: LabelRules,
    delivery: HttpDelivery,
    /// The newest timestamp sent per stream (by label set).
    last_sent: HashMap<String, u64>,
    dropped_out_of_order: u64,
    dropped_too_long: u64,
    last_drop_warning: Option<Instant>,
}

/// A record time further ahead than this is not believed (Loki refuses
/// entries past its 10-minute creation grace period): the entry takes the
/// time of sending instead.
const MAX_AHEAD_NANOS: u64 = 10 * 60 * 1_000_000_000;

/// What building one request decided about its streams: kept apart until
/// the request is delivered, so a retry builds the same request again.
#[derive(Default)]
struct Decisions {
    /// The newest timestamp per stream in the request.
    newest: HashMap<String, u64>,
    dropped_out_of_order: u64,
    dropped_too_long: u64,
}

/// One stream of a request being built.
struct StreamBuild {
    labels: Vec<(String, String)>,
    key: String,
    entries: Vec<(u64, String)>,
}

impl LokiSink {
    /// A sink with `options`; `Err` names a bad label.
    pub fn new(options: LokiSinkOptions) -> Result<Self, String> {
        let rules = LabelRules::new(
            options.labels.clone(),
            options.label_keys.clone(),
            options.max_label_values,
        )?;
        let mut options = options;
        // The truncation marker needs room.
        options.max_line_size = options.max_line_size.max(64);
        Ok(Self {
            delivery: HttpDelivery::new(options.http.clone(), None),
            options,
            rules,
            last_sent: HashMap::new(),
            dropped_out_of_order: 0,
            dropped_too_long: 0,
            last_drop_warning: None,
        })
    }

    /// The breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.delivery.breaker_state()
    }

    /// Entries left out by the out-of-order or line-size policy.
    pub fn dropped(&self) -> u64 {
        self.dropped_out_of_order + self.dropped_too_long
    }

    /// Builds the request for `chunk`. `pending` holds the newest times of
    /// the requests built before it in the same write (not yet delivered).
    fn request(
        &mut self,
        chunk: &Batch,
        pending: &mut HashMap<String, u64>,
    ) -> (EncodedRequest, Decisions) {
        let sent_at = now_unix_nanos();
        let mut decisions = Decisions::default();
        let mut streams: Vec<StreamBuild> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for raw in chunk.records() {
            let record: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
            let labels = self.rules.labels_of(&record);
            let key = prometheus_form(&labels);
            let mut at = self
                .options
                .timestamp_field
                .as_deref()
                .and_then(|field| record_field(&record, field))
                .and_then(unix_nanos)
                .filter(|at| *at <= sent_at.saturating_add(MAX_AHEAD_NANOS))
                .unwrap_or(sent_at);
            let last = pending
                .get(&key)
                .or_else(|| self.last_sent.get(&key))
                .copied();
            if let Some(last) = last
                && at < last
            {
                match self.options.out_of_order {
                    OutOfOrderAction::Accept => {}
                    OutOfOrderAction::RewriteTimestamp => at = last,
                    OutOfOrderAction::Drop => {
                        decisions.dropped_out_of_order += 1;
                        continue;
                    }
                }
            }
            let line = match self
                .options
                .line_field
                .as_deref()
                .and_then(|field| record_field(&record, field))
            {
                Some(value) => field_text(value),
                None => String::from_utf8_lossy(raw).into_owned(),
            };
            let Some(line) = self.fit(line) else {
                decisions.dropped_too_long += 1;
                continue;
            };
            for newest in [
                pending.entry(key.clone()).or_insert(at),
                decisions.newest.entry(key.clone()).or_insert(at),
            ] {
                *newest = (*newest).max(at);
            }
            let slot = *index.entry(key.clone()).or_insert_with(|| {
                streams.push(StreamBuild {
                    labels,
                    key,
                    entries: Vec::new(),
                });
                streams.len() - 1
            });
            streams[slot].entries.push((at, line));
        }
        let (body, content_type) = match self.options.encoding {
            LokiEncoding::Protobuf => (protobuf_body(streams), "application/x-protobuf"),
            LokiEncoding::Json => (json_body(streams), "application/json"),
        };
        let request = EncodedRequest {
            body: body.into(),
            content_type,
            records: chunk.len(),
        };
        (request, decisions)
    }

    /// A delivered request's decisions take effect: its streams' newest
    /// times, and its drops in the counts.
    fn commit(&mut self, decisions: Decisions) {
        for (key, at) in decisions.newest {
            if self.last_sent.len() >= MAX_TRACKED_STREAMS && !self.last_sent.contains_key(&key) {
                self.last_sent.clear();
            }
            let last = self.last_sent.entry(key).or_insert(at);
            *last = (*last).max(at);
        }
        self.dropped_out_of_order += decisions.dropped_out_of_order;
        self.dropped_too_long += decisions.dropped_too_long;
    }

    /// The line within `max_line_size`, or `None` to drop it.
    fn fit(&self, mut line: String) -> Option<String> {
        let max = self.options.max_line_size;
        if line.len() <= max {
            return Some(line);
        }
        if self.options.line_size_action == LineSizeAction::Drop {
            return None;
        }
        let marker = format!("… ({} bytes cut)", line.len());
        let mut end = max.saturating_sub(marker.len());
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let cut = line.len() - end;
        line.truncate(end);
        line.push_str(&format!("… ({cut} bytes cut)"));
        Some(line)
    }

    fn warn_about_drops(&mut self) {
        if self.dropped() == 0
            || self
                .last_drop_warning
                .is_some_and(|at| at.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        self.last_drop_warning = Some(Instant::now());
        tracing::warn!(
            out_of_order = self.dropped_out_of_order,
            too_long = self.dropped_too_long,
            "loki: entries left out so far by out_of_order_action = \"drop\" or max_line_size_action = \"drop\""
        );
    }
}

fn protobuf_body(streams: Vec<StreamBuild>) -> Vec<u8> {
    let request = PushRequest {
        streams: streams
            .into_iter()
            .map(|stream| StreamAdapter {
                labels: stream.key,
                entries: stream
                    .entries
                    .into_iter()
                    .map(|(at, line)| EntryAdapter {
                        timestamp: Some(Timestamp::from_unix_nanos(at)),
                        line,
                    })
                    .collect(),
            })
            .collect(),
    };
    let plain = request.encode_to_vec();
    // Loki reads the snappy block format, not the framed one.
    snap::raw::Encoder::new()
        .compress_vec(&plain)
        .expect("snappy compresses any buffer under 4 GiB")
}

fn json_body(streams: Vec<StreamBuild>) -> Vec<u8> {
    let streams: Vec<Value> = streams
        .into_iter()
        .map(|stream| {
            let labels: serde_json::Map<String, Value> = stream
                .labels
                .into_iter()
                .map(|(name, value)| (name, Value::String(value)))
                .collect();
            let values: Vec<Value> = stream
                .entries
                .into_iter()
                .map(|(at, line)| Value::Array(vec![Value::String(at.to_string()), line.into()]))
                .collect();
            serde_json::json!({ "stream": labels, "values": values })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "streams": streams })).expect("JSON serializes")
}

impl Sink for LokiSink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.delivery.start()
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let http = self.delivery.options();
        let chunks = request_chunks(batch, http.max_events, http.max_bytes);
        let mut pending = HashMap::new();
        let (requests, decisions): (Vec<_>, Vec<_>) = chunks
            .iter()
            .map(|chunk| self.request(chunk, &mut pending))
            .unzip();
        let delivered = self.delivery.deliver(requests, &|answer, records| {
            push_answer(
                answer.status,
                answer.retry_after.as_deref(),
                &answer.body,
                records,
            )
        });
        // Only what is settled moves the streams on; a retry rebuilds the
        // rest from the same state.
        for (settled, decisions) in delivered.settled.into_iter().zip(decisions) {
            if settled {
                self.commit(decisions);
            }
        }
        self.warn_about_drops();
        delivered.outcome
    }

    fn health(&mut self) -> Health {
        self.delivery.health()
    }
}
