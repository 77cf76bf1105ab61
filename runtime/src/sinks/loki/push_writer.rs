//! A push request's protobuf written straight from each entry's time and
//! line: every line is copied once, into its stream's encoded entries,
//! rather than into a `String` of an `EntryAdapter` that is encoded in a
//! second pass. The bytes are the ones prost writes for the same
//! [`PushRequest`](super::logproto::PushRequest) (tested below).

use prost::encoding::{encode_varint, encoded_len_varint};

/// Field 1 (length-delimited): `PushRequest.streams`,
/// `StreamAdapter.labels`, `EntryAdapter.timestamp`.
const FIELD_1_BYTES: u8 = 0x0a;
/// Field 2 (length-delimited): `StreamAdapter.entries`, `EntryAdapter.line`.
const FIELD_2_BYTES: u8 = 0x12;
/// Field 1 (varint): `Timestamp.seconds`.
const FIELD_1_VARINT: u8 = 0x08;
/// Field 2 (varint): `Timestamp.nanos`.
const FIELD_2_VARINT: u8 = 0x10;

/// One stream's entries, encoded as `StreamAdapter.entries` fields.
#[derive(Default)]
pub(crate) struct EncodedEntries {
    bytes: Vec<u8>,
    count: usize,
}

impl EncodedEntries {
    /// Appends one entry: `at` (nanoseconds since the epoch) and `line`.
    pub fn push(&mut self, at: u64, line: &str) {
        let seconds = (at / 1_000_000_000) as i64;
        let nanos = (at % 1_000_000_000) as i32;
        // proto3 leaves default values out, as prost does.
        let timestamp_len = if seconds != 0 {
            1 + encoded_len_varint(seconds as u64)
        } else {
            0
        } + if nanos != 0 {
            1 + encoded_len_varint(nanos as u64)
        } else {
            0
        };
        let line_len = if line.is_empty() {
            0
        } else {
            1 + encoded_len_varint(line.len() as u64) + line.len()
        };
        let entry_len = 1 + encoded_len_varint(timestamp_len as u64) + timestamp_len + line_len;
        let out = &mut self.bytes;
        out.reserve(1 + encoded_len_varint(entry_len as u64) + entry_len);
        out.push(FIELD_2_BYTES);
        encode_varint(entry_len as u64, out);
        out.push(FIELD_1_BYTES);
        encode_varint(timestamp_len as u64, out);
        if seconds != 0 {
            out.push(FIELD_1_VARINT);
            encode_varint(seconds as u64, out);
        }
        if nanos != 0 {
            out.push(FIELD_2_VARINT);
            encode_varint(nanos as u64, out);
        }
        if !line.is_empty() {
            out.push(FIELD_2_BYTES);
            encode_varint(line.len() as u64, out);
            out.extend_from_slice(line.as_bytes());
        }
        self.count += 1;
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.count
    }
}

/// The encoded `PushRequest` of `streams`, each its label set in
/// Prometheus form and its entries.
pub(crate) fn push_request<'a>(
    streams: impl Iterator<Item = (&'a str, &'a EncodedEntries)> + Clone,
) -> Vec<u8> {
    let stream_len = |labels: &str, entries: &EncodedEntries| {
        let labels_len = if labels.is_empty() {
            0
        } else {
            1 + encoded_len_varint(labels.len() as u64) + labels.len()
        };
        labels_len + entries.bytes.len()
    };
    let total: usize = streams
        .clone()
        .map(|(labels, entries)| {
            let len = stream_len(labels, entries);
            1 + encoded_len_varint(len as u64) + len
        })
        .sum();
    let mut out = Vec::with_capacity(total);
    for (labels, entries) in streams {
        out.push(FIELD_1_BYTES);
        encode_varint(stream_len(labels, entries) as u64, &mut out);
        if !labels.is_empty() {
            out.push(FIELD_1_BYTES);
            encode_varint(labels.len() as u64, &mut out);
            out.extend_from_slice(labels.as_bytes());
        }
        out.extend_from_slice(&entries.bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::loki::logproto::{EntryAdapter, PushRequest, StreamAdapter, Timestamp};
    use proptest::prelude::*;
    use prost::Message;

    fn prost_bytes(streams: &[(String, Vec<(u64, String)>)]) -> Vec<u8> {
        PushRequest {
            streams: streams
                .iter()
                .map(|(labels, entries)| StreamAdapter {
                    labels: labels.clone(),
                    entries: entries
                        .iter()
                        .map(|(at, line)| EntryAdapter {
                            timestamp: Some(Timestamp::from_unix_nanos(*at)),
                            line: line.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    fn written(streams: &[(String, Vec<(u64, String)>)]) -> Vec<u8> {
        let encoded: Vec<(String, EncodedEntries)> = streams
            .iter()
            .map(|(labels, entries)| {
                let mut encoded = EncodedEntries::default();
                for (at, line) in entries {
                    encoded.push(*at, line);
                }
                assert_eq!(encoded.len(), entries.len());
                (labels.clone(), encoded)
            })
            .collect();
        push_request(encoded.iter().map(|(l, e)| (l.as_str(), e)))
    }

    #[test]
    fn edge_values_are_written_as_prost_writes_them() {
        let streams = vec![
            (
                "{job=\"a\"}".to_string(),
                vec![
                    (0, String::new()),
                    (1_000_000_000, "x".into()),
                    (7, "é".repeat(200)),
                    (u64::MAX, "last".into()),
                ],
            ),
            (String::new(), vec![(1_795_860_000_123_456_789, "y".into())]),
        ];
        assert_eq!(written(&streams), prost_bytes(&streams));
        assert_eq!(written(&[]), prost_bytes(&[]));
    }

    proptest! {
        #[test]
        fn any_push_is_written_as_prost_writes_it(
            streams in proptest::collection::vec(
                (
                    ".{0,40}",
                    proptest::collection::vec((any::<u64>(), ".{0,300}"), 0..20),
                ),
                0..5,
            )
        ) {
            prop_assert_eq!(written(&streams), prost_bytes(&streams));
        }
    }
}
