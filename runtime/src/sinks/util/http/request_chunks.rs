//! Splitting a pipeline batch into requests that respect a server's limits
//! (`max_events` records and `max_bytes` of records per request), on record
//! boundaries.

use crate::batch::Batch;

/// The batch cut into consecutive pieces of at most `max_events` records
/// and at most `max_bytes` bytes of records (newlines included). A single
/// record larger than `max_bytes` gets a piece of its own, so nothing is
/// ever dropped here; the sink decides what to do with it.
pub(crate) fn request_chunks(batch: &Batch, max_events: u32, max_bytes: u64) -> Vec<Batch> {
    let max_events = max_events.max(1);
    // The usual case, a batch within both limits, needs no pass over its
    // records (each record counts its length and newline: the buffer's
    // length).
    if batch.len() <= max_events && batch.bytes().len() as u64 <= max_bytes {
        return vec![batch.clone()];
    }
    let mut chunks = Vec::new();
    let mut rest = batch.clone();
    while !rest.is_empty() {
        let mut count = 0u32;
        let mut bytes = 0u64;
        for record in rest.records() {
            let size = record.len() as u64 + 1;
            if count > 0 && (count == max_events || bytes + size > max_bytes) {
                break;
            }
            count += 1;
            bytes += size;
        }
        chunks.push(rest.take(count));
        rest = rest.skip(count);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_respect_both_limits_and_keep_every_record_in_order() {
        let records: Vec<String> = (0..10).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
        let batch = Batch::from_records(&records, 100);
        let by_count = request_chunks(&batch, 4, 1 << 20);
        assert_eq!(
            by_count.iter().map(|c| c.len()).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        assert_eq!(by_count[1].first_sequence(), 104);
        // Each record is 8 bytes with its newline: 20 bytes hold two.
        let by_bytes = request_chunks(&batch, 100, 20);
        assert!(
            by_bytes
                .iter()
                .all(|c| c.bytes().len() <= 20 && c.len() == 2)
        );
        let joined: Vec<u8> = by_bytes.iter().flat_map(|c| c.bytes().to_vec()).collect();
        assert_eq!(joined, batch.bytes());
        let whole = request_chunks(&batch, 10, batch.bytes().len() as u64);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].bytes(), batch.bytes());
        assert_eq!(
            request_chunks(&batch, 10, batch.bytes().len() as u64 - 1).len(),
            2
        );
        let huge = Batch::from_records(["x".repeat(100)], 0);
        assert_eq!(request_chunks(&huge, 10, 20).len(), 1);
    }
}
