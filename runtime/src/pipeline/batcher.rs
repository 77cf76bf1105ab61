//! The open batch that `emit` appends to, closed by count, size or age.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use crate::batch::Batch;

/// When the pipeline closes a batch and hands it to the sinks.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchOptions {
    /// Close the batch once it holds this many records.
    pub max_records: u32,
    /// Close the batch once its serialized records reach this size.
    #[serde(with = "crate::registry::byte_size")]
    pub max_bytes: u64,
    /// Close a non-empty batch once its first record is this old.
    #[serde(with = "crate::registry::duration_text")]
    pub timeout: Duration,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_records: 1024,
            max_bytes: 1024 * 1024,
            timeout: Duration::from_millis(200),
        }
    }
}

/// The batch being filled. Records are serialized straight into its buffer.
pub(crate) struct OpenBatch {
    pub buf: Vec<u8>,
    pub count: u32,
    pub opened_at: Instant,
    /// Level ranks of the records so far, once one came with a known level
    /// (earlier records get 0: unknown).
    pub levels: Option<Vec<u8>>,
    /// Where each record ends in `buf` (past its newline).
    pub ends: Vec<u32>,
}

impl OpenBatch {
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            count: 0,
            opened_at: Instant::now(),
            levels: None,
            ends: Vec::new(),
        }
    }

    pub fn is_full(&self, options: &BatchOptions) -> bool {
        self.count >= options.max_records || self.buf.len() as u64 >= options.max_bytes
    }

    /// Notes the level of the record just appended (`rank` 0: unknown).
    pub fn note_level(&mut self, rank: u8) {
        match &mut self.levels {
            Some(levels) => levels.push(rank),
            None if rank == 0 => {}
            None => {
                let mut levels = vec![0; self.count as usize - 1];
                levels.push(rank);
                self.levels = Some(levels);
            }
        }
    }

    /// Takes the records out as a closed batch numbered from
    /// `*next_sequence` (advanced past it) and starts the next one.
    pub fn close(&mut self, next_sequence: &mut u64, capacity_hint: usize) -> Option<Batch> {
        if self.count == 0 {
            return None;
        }
        let buf = std::mem::replace(&mut self.buf, Vec::with_capacity(capacity_hint));
        let levels = self.levels.take().map(Bytes::from);
        let ends = std::mem::take(&mut self.ends);
        let mut batch = Batch::with_levels(Bytes::from(buf), self.count, *next_sequence, levels);
        // Offsets are 32-bit: a batch past 4 GiB goes without them.
        if ends.len() == self.count as usize && u32::try_from(batch.bytes().len()).is_ok() {
            batch = batch.with_ends(ends);
        }
        *next_sequence += u64::from(self.count);
        self.count = 0;
        Some(batch)
    }
}
