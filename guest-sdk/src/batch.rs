//! The batch a sink receives: records as byte slices, parsed on demand.

use crate::bindings::exports::sinkbox::sink::sink::Batch as RawBatch;

/// One batch of newline-terminated JSON records.
///
/// Iterating [`Batch::records`] yields each record as `&[u8]` without
/// copying; [`Batch::parse`] deserializes them with serde_json on demand.
pub struct Batch {
    raw: RawBatch,
}

impl Batch {
    pub(crate) fn new(raw: RawBatch) -> Self {
        Self { raw }
    }

    /// How many records the batch holds.
    pub fn len(&self) -> u32 {
        self.raw.count
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.count == 0
    }

    /// The sequence number of the first record; record `i` has
    /// `first_sequence() + i`.
    pub fn first_sequence(&self) -> u64 {
        self.raw.first_sequence
    }

    /// All records as one buffer, each followed by `\n`.
    pub fn bytes(&self) -> &[u8] {
        &self.raw.records
    }

    /// Each record's JSON text, without the newline.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let bytes = self.raw.records.strip_suffix(b"\n").unwrap_or(&self.raw.records);
        bytes.split(|b| *b == b'\n').filter(move |_| !self.raw.records.is_empty())
    }

    /// Each record parsed as `T`. A record that does not parse yields `Err`
    /// and iteration goes on.
    pub fn parse<'a, T: serde::Deserialize<'a> + 'a>(
        &'a self,
    ) -> impl Iterator<Item = Result<T, serde_json::Error>> + 'a {
        self.records().map(serde_json::from_slice)
    }
}
