//! An Elasticsearch `_bulk` receiver, written from the published API:
//! NDJSON action and document pairs in, `{"took", "errors", "items"}` out,
//! one item per action in order, each with its own `status` (and `error`
//! with `type` and `reason` when it failed). Documents are kept by `_id`,
//! as Elasticsearch does, and every store is counted, so a test can tell a
//! document stored twice from one overwritten once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::recording_server::{Answer, RecordingServer};

/// How the receiver answers one document: its status, given the document
/// and how many times a document with its `_id` was offered before.
pub type Decide = dyn Fn(&Value, usize) -> u16 + Send + Sync;

/// The receiver and what it stored.
pub struct ElasticsearchReceiver {
    pub server: RecordingServer,
    /// Stored documents by `_id`: `{"index", "doc"}`.
    pub docs: Arc<Mutex<BTreeMap<String, Value>>>,
    /// Times each `_id` was stored.
    pub stores: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl ElasticsearchReceiver {
    /// Answers each document with `decide`'s status: 2xx stores it, 429
    /// refuses it for now (`es_rejected_execution_exception`), any other a
    /// mapping error (`mapper_parsing_exception`).
    pub fn start(decide: Box<Decide>) -> Self {
        let docs = Arc::new(Mutex::new(BTreeMap::new()));
        let stores = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
        let offers = Mutex::new(BTreeMap::<String, usize>::new());
        let server = {
            let (docs, stores) = (docs.clone(), stores.clone());
            RecordingServer::start("127.0.0.1:0", move |request| {
                if request.path != "/_bulk"
                    || request.header("Content-Type") != Some("application/x-ndjson")
                {
                    return Answer::status(400, r#"{"error":"bad request"}"#);
                }
                let text = String::from_utf8(request.body.clone()).unwrap();
                let lines: Vec<&str> = text.lines().collect();
                let mut items = Vec::new();
                let mut errors = false;
                for pair in lines.chunks(2) {
                    let action: Value = serde_json::from_str(pair[0]).unwrap();
                    let doc: Value = serde_json::from_str(pair[1]).unwrap();
                    let index = &action["index"];
                    let id = index["_id"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("auto-{}", docs.lock().unwrap().len()));
                    let offered = {
                        let mut offers = offers.lock().unwrap();
                        let count = offers.entry(id.clone()).or_insert(0);
                        *count += 1;
                        *count - 1
                    };
                    let status = decide(&doc, offered);
                    let item = match status {
                        200..=299 => {
                            docs.lock()
                                .unwrap()
                                .insert(id.clone(), json!({"index": index["_index"], "doc": doc}));
                            *stores.lock().unwrap().entry(id.clone()).or_insert(0) += 1;
                            json!({"index": {"_index": index["_index"], "_id": id, "status": status}})
                        }
                        429 => {
                            errors = true;
                            json!({"index": {"_index": index["_index"], "_id": id, "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "rejected execution"}}})
                        }
                        _ => {
                            errors = true;
                            json!({"index": {"_index": index["_index"], "_id": id, "status": status, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [bad]"}}})
                        }
                    };
                    items.push(item);
                }
                Answer::status(
                    200,
                    json!({"took": 1, "errors": errors, "items": items}).to_string(),
                )
                .with_header("Content-Type", "application/json")
            })
        };
        Self {
            server,
            docs,
            stores,
        }
    }
}
