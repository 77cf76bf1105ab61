//! A push request's protobuf written straight from each entry's time and
//! line: every line is copied once, into its stream's field, rather than
//! into a `String` of an `EntryAdapter` that is encoded in a second pass;
//! a push of one stream is compressed from that field as it is. The bytes
//! are the ones prost writes for the same
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

/// Room kept at the front of a stream's buffer for its field tag and
/// length, which are known only once its last entry is in: a tag byte and
/// the longest varint.
const HEAD_ROOM: usize = 1 + 10;

/// One `PushRequest.streams` field being written: its label set, then its
/// entries as they come. Finished in place, so a push of one stream is
/// this buffer as it is, never copied.
pub(crate) struct EncodedStream {
    /// `HEAD_ROOM` bytes, the labels field, the entries.
    bytes: Vec<u8>,
    count: usize,
}

impl EncodedStream {
    /// A stream labelled `labels` (Prometheus form), written into `buffer`
    /// (emptied first: a buffer kept from an earlier request saves growing
    /// a new one).
    pub fn new(mut buffer: Vec<u8>, labels: &str) -> Self {
        buffer.clear();
        buffer.resize(HEAD_ROOM, 0);
        if !labels.is_empty() {
            buffer.push(FIELD_1_BYTES);
            encode_varint(labels.len() as u64, &mut buffer);
            buffer.extend_from_slice(labels.as_bytes());
        }
        Self {
            bytes: buffer,
            count: 0,
        }
    }

    /// Appends one entry: `at` (nanoseconds since the epoch) and `line`.
    pub fn push(&mut self, at: u64, line: &str) {
        let seconds = at / 1_000_000_000;
        let nanos = at % 1_000_000_000;
        // proto3 leaves default values out, as prost does.
        let timestamp_len = if seconds != 0 {
            1 + encoded_len_varint(seconds)
        } else {
            0
        } + if nanos != 0 {
            1 + encoded_len_varint(nanos)
        } else {
            0
        };
        let line_len = if line.is_empty() {
            0
        } else {
            1 + encoded_len_varint(line.len() as u64) + line.len()
        };
        let entry_len = 1 + encoded_len_varint(timestamp_len as u64) + timestamp_len + line_len;
        // Everything up to the line's bytes, written in registers and
        // appended at once.
        let mut head = EntryHead::default();
        head.byte(FIELD_2_BYTES);
        head.varint(entry_len as u64);
        head.byte(FIELD_1_BYTES);
        head.varint(timestamp_len as u64);
        if seconds != 0 {
            head.byte(FIELD_1_VARINT);
            head.varint(seconds);
        }
        if nanos != 0 {
            head.byte(FIELD_2_VARINT);
            head.varint(nanos);
        }
        if !line.is_empty() {
            head.byte(FIELD_2_BYTES);
            head.varint(line.len() as u64);
        }
        let out = &mut self.bytes;
        out.reserve(head.len + line.len());
        out.extend_from_slice(&head.bytes[..head.len]);
        out.extend_from_slice(line.as_bytes());
        self.count += 1;
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The whole `streams` field: tag, length, labels, entries. Entries
    /// pushed after this need another call.
    pub fn finish(&mut self) -> &[u8] {
        let mut head = EntryHead::default();
        head.byte(FIELD_1_BYTES);
        head.varint((self.bytes.len() - HEAD_ROOM) as u64);
        // Right-aligned in the room: the field starts where its head does.
        let start = HEAD_ROOM - head.len;
        self.bytes[start..HEAD_ROOM].copy_from_slice(&head.bytes[..head.len]);
        &self.bytes[start..]
    }

    /// The buffer back, for the next stream.
    pub fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }
}

/// An entry's bytes before its line (tags, lengths and the timestamp: at
/// most five tags and five varints of up to ten bytes), or a stream
/// field's tag and length, written in registers.
struct EntryHead {
    bytes: [u8; 56],
    len: usize,
}

impl Default for EntryHead {
    fn default() -> Self {
        Self {
            bytes: [0; 56],
            len: 0,
        }
    }
}

impl EntryHead {
    #[inline(always)]
    fn byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value` as a protobuf varint: seven bits a byte, low first.
    #[inline(always)]
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80);
            value >>= 7;
        }
        self.byte(value as u8);
    }
}

/// Writes push bodies, snappy-compressed, reusing its encoder (whose hash
/// table is 32 KiB) and its buffers from request to request (they stay as
/// large as the largest request so far: about `max_bytes`).
pub(crate) struct PushCompressor {
    encoder: snap::raw::Encoder,
    /// The uncompressed push, when it has more than one stream.
    joined: Vec<u8>,
    compressed: Vec<u8>,
}

impl Default for PushCompressor {
    fn default() -> Self {
        Self {
            encoder: snap::raw::Encoder::new(),
            joined: Vec::new(),
            compressed: Vec::new(),
        }
    }
}

impl PushCompressor {
    /// The snappy block (the format Loki reads, not the framed one) of the
    /// `PushRequest` whose `streams` fields are `streams` (each from
    /// [`EncodedStream::finish`]).
    pub fn compress(&mut self, streams: &[&[u8]]) -> bytes::Bytes {
        let plain: &[u8] = match streams {
            [one] => one,
            _ => {
                self.joined.clear();
                for stream in streams {
                    self.joined.extend_from_slice(stream);
                }
                &self.joined
            }
        };
        self.compressed
            .resize(snap::raw::max_compress_len(plain.len()), 0);
        let written = self
            .encoder
            .compress(plain, &mut self.compressed)
            .expect("snappy compresses any buffer under 4 GiB");
        // The compressed body is a fraction of the buffer: copying it out
        // costs less than a fresh buffer's pages for every request.
        bytes::Bytes::copy_from_slice(&self.compressed[..written])
    }
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
        let mut encoded: Vec<EncodedStream> = streams
            .iter()
            .map(|(labels, entries)| {
                // A used buffer, to show its old bytes never leak in.
                let mut stream = EncodedStream::new(vec![7; 100], labels);
                for (at, line) in entries {
                    stream.push(*at, line);
                }
                assert_eq!(stream.len(), entries.len());
                stream
            })
            .collect();
        let fields: Vec<&[u8]> = encoded.iter_mut().map(|s| s.finish()).collect();
        let compressed = PushCompressor::default().compress(&fields);
        snap::raw::Decoder::new()
            .decompress_vec(&compressed)
            .unwrap()
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
        // Stream lengths of three and four varint bytes, in the room kept
        // at the front, alone and beside another stream.
        for size in [20_000, 2_100_000] {
            let long = vec![("{a=\"b\"}".to_string(), vec![(1, "x".repeat(size))])];
            assert_eq!(written(&long), prost_bytes(&long));
            let two = [long.clone(), streams.clone()].concat();
            assert_eq!(written(&two), prost_bytes(&two));
        }
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
