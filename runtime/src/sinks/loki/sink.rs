//! The running `loki` sink: records grouped into streams by their labels,
//! sent to the push API as snappy-compressed protobuf or as JSON.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::labels::{LabelRules, prometheus_form};
use super::push_answer::push_answer;
use super::push_writer::{EncodedStream, PushCompressor};
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::breaker::BreakerState;
use crate::sinks::util::http::delivery::{EncodedRequest, HttpDelivery};
use crate::sinks::util::http::options::HttpOptions;
use crate::sinks::util::http::request_chunks::request_chunks;
use crate::sinks::util::record_fields::{FieldReader, FoundFields, utf8_text};
use crate::sinks::util::record_time::{TimeReader, now_unix_nanos};

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
    /// Reads the label fields, then the time and line fields, from raw
    /// records.
    reader: FieldReader,
    /// Where the time and line fields are in `reader`.
    timestamp_at: Option<usize>,
    line_at: Option<usize>,
    delivery: HttpDelivery,
    /// The newest timestamp sent per stream (by label set).
    last_sent: HashMap<String, u64>,
    dropped_out_of_order: u64,
    dropped_too_long: u64,
    last_drop_warning: Option<Instant>,
    /// Compresses protobuf pushes.
    compressor: PushCompressor,
    /// Stream buffers kept from earlier requests: a batch's streams reuse
    /// them rather than grow new ones.
    spare_buffers: Vec<Vec<u8>>,
}

/// Stream buffers kept for reuse; a request with more streams grows new
/// ones.
const MAX_SPARE_BUFFERS: usize = 16;

/// The most memory the kept stream buffers hold together; past it a
/// buffer is freed (a batch of unusually many or long lines does not stay
/// resident).
const MAX_SPARE_BYTES: usize = 16 << 20;

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
    entries: StreamEntries,
    /// The newest time sent on the stream before this request: by an
    /// earlier request of the same write, else delivered before.
    before: Option<u64>,
    /// The newest time of this request's entries.
    newest: Option<u64>,
}

/// A stream's entries as the body will hold them.
enum StreamEntries {
    /// Already encoded as protobuf.
    Protobuf(EncodedStream),
    /// Times and lines, for the JSON body.
    Json(Vec<(u64, String)>),
}

impl StreamEntries {
    /// Entries of the stream labelled `key`, a protobuf one written into
    /// `buffer`.
    fn for_encoding(encoding: LokiEncoding, key: &str, buffer: Vec<u8>) -> Self {
        match encoding {
            LokiEncoding::Protobuf => Self::Protobuf(EncodedStream::new(buffer, key)),
            LokiEncoding::Json => Self::Json(Vec::new()),
        }
    }

    fn push(&mut self, at: u64, line: &str) {
        match self {
            Self::Protobuf(encoded) => encoded.push(at, line),
            Self::Json(entries) => entries.push((at, line.to_owned())),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Protobuf(encoded) => encoded.len() == 0,
            Self::Json(entries) => entries.is_empty(),
        }
    }
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
        let mut fields: Vec<String> = rules.fields().map(str::to_owned).collect();
        let mut position = |field: &Option<String>| {
            field.as_ref().map(|field| {
                fields.push(field.clone());
                fields.len() - 1
            })
        };
        let timestamp_at = position(&options.timestamp_field);
        let line_at = position(&options.line_field);
        Ok(Self {
            delivery: HttpDelivery::new(options.http.clone(), None),
            reader: FieldReader::new(&fields),
            timestamp_at,
            line_at,
            options,
            rules,
            last_sent: HashMap::new(),
            dropped_out_of_order: 0,
            dropped_too_long: 0,
            last_drop_warning: None,
            compressor: PushCompressor::default(),
            spare_buffers: Vec::new(),
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
    /// Each record is scanned once for the fields the labels, time and
    /// line need; nothing else of it is decoded.
    fn request(
        &mut self,
        chunk: &Batch,
        pending: &mut HashMap<String, u64>,
    ) -> (EncodedRequest, Decisions) {
        let sent_at = now_unix_nanos();
        let mut decisions = Decisions::default();
        let mut streams: Vec<StreamBuild> = Vec::new();
        // This request's streams by the raw text of their label fields, so
        // a record whose values were seen before builds no label set.
        let mut by_values: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut signature: Vec<u8> = Vec::new();
        let label_fields = self.rules.fields().count();
        // The previous record's label values (as spelled) and stream:
        // records in a row mostly share their stream, and comparing the
        // values in place costs less than a signature and a hash.
        let mut previous: Vec<Option<(bool, &[u8])>> = Vec::with_capacity(label_fields);
        let mut previous_slot: Option<usize> = None;
        let mut found = FoundFields::default();
        let mut times = TimeReader::default();
        for raw in chunk.records() {
            self.reader.read(raw, &mut found);
            let value = |i: usize| self.reader.field(&found, i).spelling();
            let same =
                previous_slot.is_some() && (0..label_fields).all(|i| value(i) == previous[i]);
            let slot = match previous_slot {
                Some(slot) if same => slot,
                _ => {
                    previous.clear();
                    signature.clear();
                    for i in 0..label_fields {
                        let spelling = value(i);
                        previous.push(spelling);
                        // The kind tells a string "1" from a number 1.
                        let (kind, raw) = match spelling {
                            Some((true, raw)) => (2, raw),
                            Some((false, raw)) => (1, raw),
                            None => (0, &b""[..]),
                        };
                        signature.push(kind);
                        signature.extend_from_slice(raw);
                        // Never in UTF-8 text: the fields cannot run together.
                        signature.push(0xff);
                    }
                    let slot = match by_values.get(signature.as_slice()) {
                        Some(slot) => *slot,
                        None => {
                            let slot = self.stream_for(&found, label_fields, &mut streams, pending);
                            by_values.insert(signature.clone(), slot);
                            slot
                        }
                    };
                    previous_slot = Some(slot);
                    slot
                }
            };
            let mut at = self
                .timestamp_at
                .and_then(|i| self.reader.field(&found, i).unix_nanos_with(&mut times))
                .filter(|at| *at <= sent_at.saturating_add(MAX_AHEAD_NANOS))
                .unwrap_or(sent_at);
            let stream = &streams[slot];
            if let Some(last) = stream.newest.or(stream.before)
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
            let line: Cow<'_, str> = match self.line_at.map(|i| self.reader.field(&found, i)) {
                Some(field) if !field.is_missing() => field.text().unwrap_or_default(),
                _ => utf8_text(raw),
            };
            let line = if line.len() <= self.options.max_line_size {
                line
            } else {
                match self.fit(line.into_owned()) {
                    Some(line) => Cow::Owned(line),
                    None => {
                        decisions.dropped_too_long += 1;
                        continue;
                    }
                }
            };
            let stream = &mut streams[slot];
            stream.newest = Some(stream.newest.map_or(at, |newest| newest.max(at)));
            stream.entries.push(at, &line);
        }
        streams.retain(|stream| !stream.entries.is_empty());
        for stream in &streams {
            let newest = stream
                .newest
                .expect("a stream with entries has a newest time");
            let running = pending.entry(stream.key.clone()).or_insert(newest);
            *running = (*running).max(newest);
            decisions.newest.insert(stream.key.clone(), newest);
        }
        let (body, content_type) = match self.options.encoding {
            LokiEncoding::Protobuf => (self.protobuf_body(streams), "application/x-protobuf"),
            LokiEncoding::Json => (json_body(&streams).into(), "application/json"),
        };
        let request = EncodedRequest {
            body,
            content_type,
            records: chunk.len(),
        };
        (request, decisions)
    }

    /// The stream (in `streams`, added if new) of the record whose fields
    /// are in `found`: its labels built once per distinct set of values.
    fn stream_for(
        &mut self,
        found: &FoundFields<'_>,
        label_fields: usize,
        streams: &mut Vec<StreamBuild>,
        pending: &HashMap<String, u64>,
    ) -> usize {
        let texts: Vec<Option<std::borrow::Cow<'_, str>>> = (0..label_fields)
            .map(|i| self.reader.field(found, i).text())
            .collect();
        let values: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
        let labels = self.rules.labels_from(&values);
        let key = prometheus_form(&labels);
        // Two sets of values can make one stream (a label past its value
        // budget): they share it.
        if let Some(slot) = streams.iter().position(|stream| stream.key == key) {
            return slot;
        }
        let before = pending
            .get(&key)
            .or_else(|| self.last_sent.get(&key))
            .copied();
        let buffer = self.spare_buffers.pop().unwrap_or_default();
        streams.push(StreamBuild {
            entries: StreamEntries::for_encoding(self.options.encoding, &key, buffer),
            labels,
            key,
            before,
            newest: None,
        });
        streams.len() - 1
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

    /// The compressed protobuf push of `streams`, whose buffers are kept
    /// for the next request.
    fn protobuf_body(&mut self, streams: Vec<StreamBuild>) -> bytes::Bytes {
        let mut encoded: Vec<EncodedStream> = streams
            .into_iter()
            .filter_map(|stream| match stream.entries {
                StreamEntries::Protobuf(encoded) => Some(encoded),
                StreamEntries::Json(_) => None,
            })
            .collect();
        let fields: Vec<&[u8]> = encoded.iter_mut().map(|stream| stream.finish()).collect();
        let body = self.compressor.compress(&fields);
        let mut kept: usize = self.spare_buffers.iter().map(Vec::capacity).sum();
        for buffer in encoded.into_iter().map(EncodedStream::into_buffer) {
            if self.spare_buffers.len() < MAX_SPARE_BUFFERS
                && kept + buffer.capacity() <= MAX_SPARE_BYTES
            {
                kept += buffer.capacity();
                self.spare_buffers.push(buffer);
            }
        }
        body
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

fn json_body(streams: &[StreamBuild]) -> Vec<u8> {
    fn entries(stream: &StreamBuild) -> &[(u64, String)] {
        match &stream.entries {
            StreamEntries::Json(entries) => entries,
            StreamEntries::Protobuf(_) => &[],
        }
    }
    let mut out = Vec::with_capacity(
        streams
            .iter()
            .flat_map(|stream| entries(stream).iter().map(|(_, line)| line.len() + 32))
            .sum::<usize>()
            + 64,
    );
    let string = |out: &mut Vec<u8>, text: &str| {
        serde_json::to_writer(&mut *out, text).expect("a string serializes");
    };
    out.extend_from_slice(b"{\"streams\":[");
    for (i, stream) in streams.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"stream\":{");
        for (j, (name, value)) in stream.labels.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            string(&mut out, name);
            out.push(b':');
            string(&mut out, value);
        }
        out.extend_from_slice(b"},\"values\":[");
        for (j, (at, line)) in entries(stream).iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"[\"");
            out.extend_from_slice(at.to_string().as_bytes());
            out.extend_from_slice(b"\",");
            string(&mut out, line);
            out.push(b']');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}");
    out
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
