//! A batch of records, serialized once and shared by every sink.

use bytes::Bytes;

/// A batch of newline-terminated JSON records.
///
/// The bytes are serialized once when events are emitted and shared (reference
/// counted) by every sink: native sinks read them in place, the wasm adapter
/// copies them once into the guest. Every record is one compact JSON value
/// followed by `\n`, so splitting on `\n` is exact.
#[derive(Clone, Debug)]
pub struct Batch {
    bytes: Bytes,
    count: u32,
    first_sequence: u64,
    /// One level rank per record when it was known at emit time (0 where it
    /// was not), so level conditions need not read the records.
    levels: Option<Bytes>,
    /// Where each record ends, when the batcher noted it (routing then need
    /// not search for newlines again).
    ends: Option<RecordEnds>,
    /// The end-to-end acknowledgement its records carry, if they were
    /// emitted with one; every slice and copy of the batch carries it too.
    ack: Option<std::sync::Arc<crate::acknowledgement::AckState>>,
}

/// Record ends as offsets into the buffer the batch was built in: record `i`
/// of this batch ends (past its newline) at `all[first + i] - base`.
#[derive(Clone, Debug)]
struct RecordEnds {
    all: std::sync::Arc<Vec<u32>>,
    first: usize,
    base: u32,
}

impl Batch {
    /// Wraps newline-terminated records. `count` must be the number of `\n`
    /// in `bytes`; the pipeline guarantees it.
    pub(crate) fn new(bytes: Bytes, count: u32, first_sequence: u64) -> Self {
        debug_assert_eq!(memchr::memchr_iter(b'\n', &bytes).count(), count as usize);
        Self {
            bytes,
            count,
            first_sequence,
            levels: None,
            ends: None,
            ack: None,
        }
    }

    /// The same batch, carrying `ack`.
    pub(crate) fn with_ack(
        mut self,
        ack: std::sync::Arc<crate::acknowledgement::AckState>,
    ) -> Self {
        self.ack = Some(ack);
        self
    }

    /// The acknowledgement its records carry, if any.
    pub(crate) fn ack(&self) -> Option<&std::sync::Arc<crate::acknowledgement::AckState>> {
        self.ack.as_ref()
    }

    /// The same batch without its acknowledgement (a copy whose settling is
    /// someone else's to report).
    pub(crate) fn without_ack(mut self) -> Self {
        self.ack = None;
        self
    }

    /// The same batch, knowing where each record ends (`ends[i]` is the
    /// offset just past record `i`'s newline).
    pub(crate) fn with_ends(mut self, ends: Vec<u32>) -> Self {
        debug_assert_eq!(ends.len(), self.count as usize);
        debug_assert!(ends.last().is_none_or(|e| *e as usize == self.bytes.len()));
        self.ends = Some(RecordEnds {
            all: std::sync::Arc::new(ends),
            first: 0,
            base: 0,
        });
        self
    }

    /// Where each record ends, if known: the offsets and what to subtract
    /// from each.
    pub(crate) fn ends(&self) -> Option<(&[u32], u32)> {
        let ends = self.ends.as_ref()?;
        let all = ends.all.get(ends.first..ends.first + self.count as usize)?;
        Some((all, ends.base))
    }

    /// Like [`Batch::new`], with the records' levels known at emit time.
    pub(crate) fn with_levels(
        bytes: Bytes,
        count: u32,
        first_sequence: u64,
        levels: Option<Bytes>,
    ) -> Self {
        debug_assert!(levels.as_ref().is_none_or(|l| l.len() == count as usize));
        Self {
            levels,
            ..Self::new(bytes, count, first_sequence)
        }
    }

    /// The level rank of each record known at emit time (0: unknown).
    pub(crate) fn levels(&self) -> Option<&[u8]> {
        self.levels.as_deref()
    }

    /// The same records numbered from `first_sequence` (a sink with a
    /// condition numbers the records it takes itself). Shares the buffer.
    pub(crate) fn renumbered(&self, first_sequence: u64) -> Batch {
        Batch {
            first_sequence,
            ..self.clone()
        }
    }

    /// One batch holding `parts` one after another, numbered from the first
    /// part. The parts' sequence numbers must follow on, and there must be
    /// at least one part.
    pub(crate) fn concat(parts: &[Batch]) -> Batch {
        debug_assert!(
            parts
                .windows(2)
                .all(|w| w[0].first_sequence + u64::from(w[0].count) == w[1].first_sequence)
        );
        let Some(first) = parts.first() else {
            return Batch::new(Bytes::new(), 0, 0);
        };
        if parts.len() == 1 {
            return first.clone();
        }
        let total: usize = parts.iter().map(|p| p.bytes.len()).sum();
        let count: u32 = parts.iter().map(|p| p.count).sum();
        let mut bytes = Vec::with_capacity(total);
        let levels = parts.iter().any(|p| p.levels.is_some()).then(|| {
            let mut levels = Vec::with_capacity(count as usize);
            for part in parts {
                match part.levels() {
                    Some(l) => levels.extend_from_slice(l),
                    None => levels.resize(levels.len() + part.count as usize, 0),
                }
            }
            Bytes::from(levels)
        });
        let mut ends = u32::try_from(total)
            .is_ok()
            .then(|| Vec::with_capacity(count as usize));
        for part in parts {
            let offset = bytes.len() as u32;
            bytes.extend_from_slice(&part.bytes);
            match (&mut ends, part.ends()) {
                (Some(ends), Some((part_ends, base))) => {
                    ends.extend(part_ends.iter().map(|e| e - base + offset));
                }
                (slot, _) => *slot = None,
            }
        }
        let batch = Batch::with_levels(Bytes::from(bytes), count, first.first_sequence, levels);
        match ends {
            Some(ends) => batch.with_ends(ends),
            None => batch,
        }
    }

    /// Builds a batch from records given one per item, for tests and embedders
    /// that drive a sink directly. Each record must be one JSON value without
    /// raw newlines.
    pub fn from_records<I, R>(records: I, first_sequence: u64) -> Self
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        let mut buf = Vec::new();
        let mut count = 0u32;
        for record in records {
            buf.extend_from_slice(record.as_ref());
            buf.push(b'\n');
            count += 1;
        }
        Self::new(Bytes::from(buf), count, first_sequence)
    }

    /// The records as one buffer: each record followed by `\n`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The same buffer, shared rather than copied (a request body that is
    /// the records as they are).
    pub fn shared_bytes(&self) -> bytes::Bytes {
        self.bytes.clone()
    }

    /// How many records the batch holds.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The pipeline sequence number of the first record.
    pub fn first_sequence(&self) -> u64 {
        self.first_sequence
    }

    /// The records, each without its trailing newline.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let bytes: &[u8] = &self.bytes;
        let mut start = 0;
        memchr::memchr_iter(b'\n', bytes).map(move |end| {
            let record = &bytes[start..end];
            start = end + 1;
            record
        })
    }

    /// The batch without its first `n` records (used to retry the tail of a
    /// partially accepted batch). Shares the same buffer.
    pub fn skip(&self, n: u32) -> Batch {
        if n == 0 {
            return self.clone();
        }
        if n >= self.count {
            return Batch::new(Bytes::new(), 0, self.first_sequence + u64::from(self.count));
        }
        let offset = match self.ends() {
            Some((ends, base)) => (ends[n as usize - 1] - base) as usize,
            None => memchr::memchr_iter(b'\n', &self.bytes)
                .nth(n as usize - 1)
                .map_or(self.bytes.len(), |i| i + 1),
        };
        let mut rest = Batch::with_levels(
            self.bytes.slice(offset..),
            self.count - n,
            self.first_sequence + u64::from(n),
            self.levels.as_ref().map(|l| l.slice(n as usize..)),
        );
        rest.ends = self.ends.as_ref().map(|ends| RecordEnds {
            all: ends.all.clone(),
            first: ends.first + n as usize,
            base: ends.base + offset as u32,
        });
        rest.ack = self.ack.clone();
        rest
    }

    /// The first `n` records of the batch. Shares the same buffer.
    pub fn take(&self, n: u32) -> Batch {
        if n >= self.count {
            return self.clone();
        }
        let rest = self.skip(n);
        let end = self.bytes.len() - rest.bytes.len();
        let mut head = Batch::with_levels(
            self.bytes.slice(..end),
            n,
            self.first_sequence,
            self.levels.as_ref().map(|l| l.slice(..n as usize)),
        );
        head.ends = self.ends.clone();
        head.ack = self.ack.clone();
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_and_take_split_on_record_boundaries() {
        let batch = Batch::from_records([r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3}"#], 10);
        let tail = batch.skip(1);
        assert_eq!(tail.len(), 2);
        assert_eq!(tail.first_sequence(), 11);
        assert_eq!(tail.bytes(), b"{\"a\":2}\n{\"a\":3}\n");
        let head = batch.take(2);
        assert_eq!(head.len(), 2);
        assert_eq!(head.bytes(), b"{\"a\":1}\n{\"a\":2}\n");
        assert!(batch.skip(3).is_empty());
        assert_eq!(batch.skip(3).first_sequence(), 13);
        let records: Vec<&[u8]> = batch.records().collect();
        assert_eq!(records, vec![&b"{\"a\":1}"[..], b"{\"a\":2}", b"{\"a\":3}"]);
    }

    #[test]
    fn known_record_ends_follow_skip_and_take() {
        let plain = Batch::from_records([r#"{"a":1}"#, r#"{"bb":2}"#, r#"{"c":33}"#, "4"], 0);
        let ends: Vec<u32> = memchr::memchr_iter(b'\n', plain.bytes())
            .map(|i| i as u32 + 1)
            .collect();
        let batch = plain.clone().with_ends(ends);
        for n in 0..=4 {
            let (with, without) = (batch.skip(n), plain.skip(n));
            assert_eq!(with.bytes(), without.bytes());
            let (with, without) = (batch.skip(n).take(2), plain.skip(n).take(2));
            assert_eq!(with.bytes(), without.bytes());
            if let Some((ends, base)) = with.ends() {
                let expected: Vec<u32> = memchr::memchr_iter(b'\n', with.bytes())
                    .map(|i| i as u32 + 1)
                    .collect();
                let got: Vec<u32> = ends.iter().map(|e| e - base).collect();
                assert_eq!(got, expected, "skip {n} take 2");
            }
        }
    }
}
