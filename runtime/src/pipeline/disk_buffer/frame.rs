//! One batch on disk: a 32-byte header (magic, payload length, CRC32C,
//! record count, first sequence number, when it was written) and the
//! batch's bytes. The CRC covers everything after it, so a torn write, a
//! flipped bit or a stray length is caught before a byte reaches a sink.

/// `SBF1`, at the start of every frame: a reader that lost its place looks
/// for it.
pub(crate) const MAGIC: u32 = 0x3146_4253;
/// Bytes before the payload.
pub(crate) const HEADER: usize = 32;

/// A frame's header, as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Payload bytes.
    pub len: u32,
    /// Records in the batch.
    pub count: u32,
    /// The first record's sequence number.
    pub first_sequence: u64,
    /// Milliseconds since the epoch when it was written.
    pub written_ms: u64,
}

impl FrameHeader {
    /// The last record's sequence number.
    pub fn last_sequence(&self) -> u64 {
        self.first_sequence
            .saturating_add(u64::from(self.count.max(1)) - 1)
    }
}

/// Appends the frame of `payload` to `out`.
pub(crate) fn encode(header: &FrameHeader, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&header.len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&header.count.to_le_bytes());
    out.extend_from_slice(&header.first_sequence.to_le_bytes());
    out.extend_from_slice(&header.written_ms.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32c::crc32c(&out[start + 12..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

/// What is at the start of `bytes`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A whole, intact frame: its header; the payload is
    /// `bytes[HEADER..HEADER + len]`.
    Frame(FrameHeader),
    /// Fewer bytes than the frame says it has: a write cut short.
    Torn,
    /// Not a frame, or a frame whose checksum fails.
    Damaged,
}

/// Reads the frame at the start of `bytes`; `max_len` bounds a believable
/// payload length.
pub(crate) fn decode(bytes: &[u8], max_len: u64) -> Decoded {
    if bytes.len() < HEADER {
        return if bytes.is_empty()
            || bytes[..bytes.len().min(4)] == MAGIC.to_le_bytes()[..bytes.len().min(4)]
        {
            Decoded::Torn
        } else {
            Decoded::Damaged
        };
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let long = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    if word(0) != MAGIC {
        return Decoded::Damaged;
    }
    let len = word(4);
    if u64::from(len) > max_len {
        return Decoded::Damaged;
    }
    let end = HEADER + len as usize;
    if bytes.len() < end {
        return Decoded::Torn;
    }
    if crc32c::crc32c(&bytes[12..end]) != word(8) {
        return Decoded::Damaged;
    }
    // Numbers that cannot be (a crafted file): damage, not arithmetic.
    if long(16).checked_add(u64::from(word(12))).is_none() {
        return Decoded::Damaged;
    }
    Decoded::Frame(FrameHeader {
        len,
        count: word(12),
        first_sequence: long(16),
        written_ms: long(24),
    })
}

/// Where the first intact frame after `from` starts, if any.
pub(crate) fn intact_after(bytes: &[u8], from: usize, max_len: u64) -> Option<usize> {
    let mut at = resync(bytes, from);
    while at < bytes.len() {
        if matches!(decode(&bytes[at..], max_len), Decoded::Frame(_)) {
            return Some(at);
        }
        at = resync(bytes, at);
    }
    None
}

/// Where the next frame may start after damage at `from`: the next
/// offset holding the magic, or the end.
pub(crate) fn resync(bytes: &[u8], from: usize) -> usize {
    let magic = MAGIC.to_le_bytes();
    bytes
        .get(from + 1..)
        .and_then(|rest| memchr::memmem::find(rest, &magic))
        .map_or(bytes.len(), |at| from + 1 + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(first_sequence: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(
            &FrameHeader {
                len: payload.len() as u32,
                count: 2,
                first_sequence,
                written_ms: 7,
            },
            payload,
            &mut out,
        );
        out
    }

    #[test]
    fn a_frame_reads_back_and_any_flipped_bit_is_caught() {
        let bytes = frame(40, b"{\"a\":1}\n{\"a\":2}\n");
        let Decoded::Frame(header) = decode(&bytes, 1 << 20) else {
            panic!()
        };
        assert_eq!(
            (header.first_sequence, header.count, header.last_sequence()),
            (40, 2, 41)
        );
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(
                decode(&flipped, 1 << 20),
                Decoded::Frame(header),
                "bit {bit} flipped went unnoticed"
            );
        }
    }

    #[test]
    fn a_cut_frame_is_torn_and_resync_finds_the_next() {
        let mut bytes = frame(1, b"x\n");
        let second = frame(3, b"y\n");
        for cut in 1..bytes.len() {
            assert_eq!(
                decode(&bytes[..cut], 1 << 20),
                Decoded::Torn,
                "cut at {cut}"
            );
        }
        bytes[20] ^= 0xff;
        let first_len = bytes.len();
        bytes.extend_from_slice(&second);
        assert_eq!(decode(&bytes, 1 << 20), Decoded::Damaged);
        assert_eq!(resync(&bytes, 0), first_len);
    }
}
