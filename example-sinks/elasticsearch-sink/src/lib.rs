//! Bulk-indexes records into Elasticsearch or OpenSearch through the
//! `_bulk` API, over the host's `wasi:http`: the operator grants the
//! `_bulk` URL (and, in `http_headers`, the credentials; the sink never
//! sees them).
//!
//! Options (the sink's `config` table):
//! - `url`: the `_bulk` endpoint, such as `http://127.0.0.1:9200/_bulk`
//!   (required; it must be in the sink's `http_allow`);
//! - `index`: the index every record goes to (default `logs`);
//! - `id_field`: a record field whose value becomes the document `_id`, so
//!   a batch sent again overwrites instead of duplicating (default: none,
//!   Elasticsearch picks ids).
//!
//! Outcomes, item by item (contract 0.2's `per-record`): a 2xx answer
//! whose items all succeeded is `accepted`. Otherwise each failed item is
//! said on its own: 429 or 5xx (the cluster is busy) makes that document
//! retryable, so the host sends it again alone; any other item error (a
//! mapping conflict) rejects it, so it is dead-lettered with
//! Elasticsearch's reason; the stored documents are never sent again. A
//! 429 or 5xx for the whole request is `retryable` (after its
//! `Retry-After`, when it has one); another status is `rejected` with the
//! answer's text.

use serde_json::Value;
use sinkbox_guest::http::{self, HttpError};
use sinkbox_guest::{Batch, Config, PerRecord, Sink, WriteOutcome, log};

const OPTIONS: &[&str] = &["url", "index", "id_field"];

struct ElasticsearchSink {
    url: String,
    /// The action line for records without an id, serialized once.
    action: String,
    index: String,
    id_field: Option<String>,
    body: Vec<u8>,
}

impl Sink for ElasticsearchSink {
    fn start(config: Config) -> Result<Self, String> {
        let unknown = config.unknown_keys(OPTIONS);
        if !unknown.is_empty() {
            return Err(format!(
                "unknown option(s) {unknown:?}; valid options: {OPTIONS:?}"
            ));
        }
        let url = config.require("url")?.to_owned();
        let index = config.get_or("index", "logs").to_owned();
        let action = serde_json::json!({"index": {"_index": index}}).to_string();
        Ok(Self {
            url,
            action,
            index,
            id_field: config.get("id_field").map(str::to_owned),
            body: Vec::new(),
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        self.body.clear();
        for record in batch.records() {
            match &self.id_field {
                Some(field) => {
                    let id = serde_json::from_slice::<Value>(record)
                        .ok()
                        .and_then(|v| v.get(field).cloned());
                    let action = match id {
                        Some(Value::String(id)) => {
                            serde_json::json!({"index": {"_index": self.index, "_id": id}})
                        }
                        Some(other) if !other.is_null() => {
                            serde_json::json!({"index": {"_index": self.index, "_id": other.to_string()}})
                        }
                        _ => serde_json::json!({"index": {"_index": self.index}}),
                    };
                    self.body.extend_from_slice(action.to_string().as_bytes());
                }
                None => self.body.extend_from_slice(self.action.as_bytes()),
            }
            self.body.push(b'\n');
            self.body.extend_from_slice(record);
            self.body.push(b'\n');
        }
        let answer = match http::post(
            &self.url,
            &[("content-type", "application/x-ndjson")],
            &self.body,
        ) {
            Ok(answer) => answer,
            Err(HttpError::Denied(why)) => {
                return WriteOutcome::Rejected(format!(
                    "the host refused the request to {}: {why}",
                    self.url
                ));
            }
            Err(err) => return WriteOutcome::Retryable(err.to_string()),
        };
        let text =
            || String::from_utf8_lossy(&answer.body[..answer.body.len().min(512)]).into_owned();
        match answer.status {
            200..=299 => {}
            429 | 500..=599 => {
                return WriteOutcome::Retryable(format!("HTTP {}: {}", answer.status, text()));
            }
            status => return WriteOutcome::Rejected(format!("HTTP {status}: {}", text())),
        }
        let Ok(reply) = serde_json::from_slice::<Value>(&answer.body) else {
            return WriteOutcome::Retryable(format!("the _bulk answer is not JSON: {}", text()));
        };
        if reply.get("errors") != Some(&Value::Bool(true)) {
            return WriteOutcome::Accepted;
        }
        let items = reply
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut results = PerRecord::new();
        for (i, item) in items.iter().enumerate().take(batch.len() as usize) {
            let at = i as u32;
            let result = item
                .as_object()
                .and_then(|o| o.values().next())
                .cloned()
                .unwrap_or(Value::Null);
            let status = result.get("status").and_then(Value::as_u64).unwrap_or(0);
            if (200..300).contains(&status) {
                continue;
            }
            let error = result.get("error").map(|e| {
                format!(
                    "{}: {}",
                    e.get("type").and_then(Value::as_str).unwrap_or("error"),
                    e.get("reason").and_then(Value::as_str).unwrap_or("")
                )
            });
            let reason = format!("HTTP {status}: {}", error.unwrap_or_default());
            results = if status == 429 || status >= 500 {
                results.retryable(at..at + 1, reason)
            } else {
                log::warn(&format!(
                    "document {} refused: {reason}",
                    batch.first_sequence() + u64::from(at)
                ));
                results.rejected(at..at + 1, reason)
            };
        }
        if items.len() < batch.len() as usize {
            // Elasticsearch answers every item; a missing one was not seen.
            results = results.retryable(
                items.len() as u32..batch.len(),
                "the _bulk answer did not say what became of these documents",
            );
        }
        results.into()
    }
}

sinkbox_guest::export_sink!(ElasticsearchSink);
