//! The batch a sink receives: records as byte slices, parsed on demand.

use crate::bindings::exports::sinkbox::sink0_2_0::sink::Batch as RawBatch;

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
    /// `first_sequence() + i`. Unique per sink while the pipeline runs (a
    /// sink with a `when` condition numbers what it takes itself).
    pub fn first_sequence(&self) -> u64 {
        self.raw.first_sequence
    }

    /// All records as one buffer, each followed by `\n`.
    pub fn bytes(&self) -> &[u8] {
        &self.raw.records
    }

    /// Each record's JSON text, without the newline.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> + '_ {
        // memchr scans a word (or a SIMD vector) at a time: far fewer loop
        // iterations, and so far fewer epoch checks, than a byte-wise split.
        let bytes = self.raw.records.as_slice();
        let mut start = 0;
        memchr::memchr_iter(b'\n', bytes).map(move |end| {
            let record = &bytes[start..end];
            start = end + 1;
            record
        })
    }

    /// Each record parsed as `T`. A record that does not parse yields `Err`
    /// and iteration goes on.
    pub fn parse<'a, T: serde::Deserialize<'a> + 'a>(
        &'a self,
    ) -> impl Iterator<Item = Result<T, serde_json::Error>> + 'a {
        self.records().map(serde_json::from_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: &[u8], count: u32) -> Batch {
        Batch::new(RawBatch {
            records: records.to_vec(),
            count,
            first_sequence: 7,
        })
    }

    #[test]
    fn records_split_on_newlines_without_copying() {
        let batch = batch(b"{\"a\":1}\n{\"a\":2}\n", 2);
        let records: Vec<&[u8]> = batch.records().collect();
        assert_eq!(records, vec![&b"{\"a\":1}"[..], b"{\"a\":2}"]);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.first_sequence(), 7);
    }

    #[test]
    fn an_empty_batch_has_no_records() {
        assert_eq!(batch(b"", 0).records().count(), 0);
        assert!(batch(b"", 0).is_empty());
    }

    #[test]
    fn parse_yields_errors_per_record_and_goes_on() {
        #[derive(serde::Deserialize)]
        struct R {
            a: u32,
        }
        let batch = batch(b"{\"a\":1}\n{\"b\":2}\n{\"a\":3}\n", 3);
        let parsed: Vec<Option<u32>> = batch.parse::<R>().map(|r| r.ok().map(|r| r.a)).collect();
        assert_eq!(parsed, vec![Some(1), None, Some(3)]);
    }
}
