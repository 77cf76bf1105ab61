//! A test guest that makes whatever HTTP requests its records describe,
//! to prove the host's grant holds against a sink that tries anything.
//!
//! Each record is one instruction:
//! `{"url": "...", "method": "POST", "headers": {"k": "v"}, "body": "...",
//!   "body_size": 1000, "count": 1}`.
//! `write` answers `rejected` with a JSON array, one summary per
//! instruction: `{"ok": n, "errors": {"<error>": n}, "status": s,
//! "body": "<first 200 bytes>", "headers": ["name", …]}`, so the test reads
//! what the guest saw.

use serde_json::{Map, Value, json};
use sinkbox_guest::http;
use sinkbox_guest::{Batch, Config, Sink, WriteOutcome};

struct HttpProbe;

impl Sink for HttpProbe {
    fn start(_config: Config) -> Result<Self, String> {
        Ok(HttpProbe)
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        let mut summaries = Vec::new();
        for record in batch.records() {
            let Ok(step) = serde_json::from_slice::<Value>(record) else {
                summaries.push(json!({"bad_instruction": true}));
                continue;
            };
            let url = step["url"].as_str().unwrap_or("");
            let method = step["method"].as_str().unwrap_or("POST");
            let headers: Vec<(String, String)> = step["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let body = match step["body_size"].as_u64() {
                Some(n) => vec![b'x'; n as usize],
                None => step["body"].as_str().unwrap_or("").as_bytes().to_vec(),
            };
            let count = step["count"].as_u64().unwrap_or(1);
            let mut ok = 0u64;
            let mut errors: Map<String, Value> = Map::new();
            let mut last = json!({});
            for _ in 0..count {
                match http::request(method, url, &headers, &body) {
                    Ok(answer) => {
                        ok += 1;
                        let text =
                            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
                                .into_owned();
                        let names: Vec<&str> =
                            answer.headers.iter().map(|(n, _)| n.as_str()).collect();
                        last = json!({"status": answer.status, "body": text, "headers": names});
                    }
                    Err(err) => {
                        let key = err.to_string();
                        let n = errors.get(&key).and_then(Value::as_u64).unwrap_or(0);
                        errors.insert(key, json!(n + 1));
                    }
                }
            }
            let mut summary = json!({"ok": ok, "errors": errors});
            if let (Some(out), Some(last)) = (summary.as_object_mut(), last.as_object()) {
                out.extend(last.clone());
            }
            summaries.push(summary);
        }
        WriteOutcome::Rejected(Value::Array(summaries).to_string())
    }
}

sinkbox_guest::export_sink!(HttpProbe);
