//! A message that is not a record: kept in the source's dead letters
//! (`source.<name>` under the data dir's `dead-letter/`, listed and
//! replayed like a sink's) with the reason, and terminated on the server
//! so it is never delivered again.

use std::sync::Mutex;

use crate::batch::Batch;
use crate::pipeline::DeadLetterStore;

/// Most bytes of dead letters a source keeps; the oldest go first.
const MAX_BYTES: u64 = 64 << 20;

/// The dead letters of one source.
pub(crate) struct InvalidMessages {
    store: Mutex<DeadLetterStore>,
}

impl InvalidMessages {
    pub(crate) fn new(data_dir: &std::path::Path, source: &str) -> Self {
        Self {
            store: Mutex::new(DeadLetterStore::new(
                data_dir,
                &format!("source.{source}"),
                MAX_BYTES,
            )),
        }
    }

    /// Keeps `payload` (as text when it is UTF-8, else base64) with where
    /// it came from and why it was refused; a failure to write is logged.
    pub(crate) fn keep(&self, payload: &[u8], subject: &str, stream_sequence: u64, why: &str) {
        let record = match std::str::from_utf8(payload) {
            Ok(text) => serde_json::json!({
                "subject": subject, "stream_sequence": stream_sequence, "payload": text,
            }),
            Err(_) => serde_json::json!({
                "subject": subject, "stream_sequence": stream_sequence,
                "payload_base64": data_encoding::BASE64.encode(payload),
            }),
        };
        let batch = Batch::from_records([record.to_string()], stream_sequence);
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = store.write(&batch, why) {
            tracing::error!("cannot keep an invalid message in the dead letters: {e}");
        }
    }
}
