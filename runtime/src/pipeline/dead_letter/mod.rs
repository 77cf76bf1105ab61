//! The dead-letter store of one sink: batches it could not deliver, with
//! why, under a size cap.
//!
//! Files live in `<data_dir>/dead-letter/`: `<sink>.ndjson` is written to;
//! when it passes a quarter of the cap it is renamed `<sink>.ndjson.<n>`
//! (`n` counting up), and when the files together pass the cap the oldest
//! is deleted and its records counted as dropped. Each dead-lettered batch
//! is one header line followed by one line per record:
//!
//! ```text
//! {"batch":{"sink":"app","reason":"rejected: ...","first_sequence":10,"count":2,"at":"2026-12-01T10:00:00.000Z"}}
//! {"sequence":10,"record":{"level":"info","message":"a"}}
//! {"sequence":11,"record":{"level":"info","message":"b"}}
//! ```
//!
//! The reason is written once per batch, whatever its length; the records
//! are written as they were emitted. [`read_dead_letters`] reads a file
//! back. Files are created 0600 and never opened through a symlink.

mod file;
mod store;

pub(crate) use file::lock_for_replay;
pub use file::{DeadLetter, DeadLetterBatch, read_dead_letter_batches, read_dead_letters};
pub(crate) use store::{DeadLetterStore, encode};

/// Default of `dead_letter_max_bytes`: 256 MiB per sink.
pub const DEFAULT_DEAD_LETTER_MAX_BYTES: u64 = 256 << 20;
