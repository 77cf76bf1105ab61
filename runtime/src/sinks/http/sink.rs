//! The running `http` sink.

use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::breaker::BreakerState;
use crate::sinks::util::http::delivery::{EncodedRequest, HttpDelivery};
use crate::sinks::util::http::options::HttpOptions;
use crate::sinks::util::http::request_chunks::request_chunks;
use crate::sinks::util::http::response_class::classify;
use crate::sinks::util::http::signing::Signing;

/// How records are framed in a request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchFormat {
    /// `[rec,rec,…]`, `application/json`.
    Array,
    /// One record per line, `application/x-ndjson`.
    Ndjson,
    /// `{"<key>":[rec,rec,…]}`, `application/json`.
    Wrapped(String),
}

/// The `http` sink's options.
#[derive(Clone, Debug)]
pub struct HttpSinkOptions {
    /// How to reach the server.
    pub http: HttpOptions,
    /// How records are framed.
    pub format: BatchFormat,
    /// How each request is signed (the `webhook` type), if at all.
    pub signing: Option<Signing>,
}

/// Posts every batch to one endpoint, split into requests under
/// `max_events` and `max_bytes`, and answers with what the server said:
/// 2xx accepted, 408/429/5xx retryable (after the server's `Retry-After`),
/// other statuses rejected with the server's answer. When only some requests
/// of a batch got through it answers `partial`, so only the rest is sent
/// again.
pub struct HttpSink {
    format: BatchFormat,
    delivery: HttpDelivery,
}

impl HttpSink {
    /// A sink with `options`; nothing connects until the first write.
    pub fn new(options: HttpSinkOptions) -> Self {
        Self {
            format: options.format,
            delivery: HttpDelivery::new(options.http, options.signing),
        }
    }

    /// The breaker's state, for tests and health.
    pub fn breaker_state(&self) -> BreakerState {
        self.delivery.breaker_state()
    }

    fn request(&self, chunk: &Batch) -> EncodedRequest {
        let (body, content_type) = self.body(chunk);
        EncodedRequest {
            body,
            content_type,
            records: chunk.len(),
        }
    }

    fn body(&self, chunk: &Batch) -> (bytes::Bytes, &'static str) {
        if self.format == BatchFormat::Ndjson {
            // The records as they were serialized: no copy.
            return (chunk.shared_bytes(), "application/x-ndjson");
        }
        let array = |out: &mut Vec<u8>| {
            out.push(b'[');
            for (i, record) in chunk.records().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(record);
            }
            out.push(b']');
        };
        let mut out = Vec::with_capacity(chunk.bytes().len() + 64);
        match &self.format {
            BatchFormat::Ndjson | BatchFormat::Array => array(&mut out),
            BatchFormat::Wrapped(key) => {
                out.push(b'{');
                out.extend_from_slice(
                    serde_json::to_string(key)
                        .expect("a string serializes")
                        .as_bytes(),
                );
                out.push(b':');
                array(&mut out);
                out.push(b'}');
            }
        }
        (out.into(), "application/json")
    }
}

impl Sink for HttpSink {
    fn start(&mut self) -> Result<(), SinkError> {
        self.delivery.start()
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let http = self.delivery.options();
        let requests = request_chunks(batch, http.max_events, http.max_bytes)
            .iter()
            .map(|chunk| self.request(chunk))
            .collect();
        self.delivery
            .deliver(requests, &|answer, _| {
                classify(answer.status, answer.retry_after.as_deref(), &answer.body)
            })
            .outcome
    }

    fn health(&mut self) -> Health {
        self.delivery.health()
    }
}
