//! Reading input lines of bounded size, and the input's counters.
//!
//! A line longer than the limit is never held whole: its bytes are
//! counted and skipped as they are read, up to its newline, and the line
//! is reported as oversized. `sinkbox run` and `sinkbox route` read their
//! input through it.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What [`LineReader::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, in the caller's buffer (without its newline).
    Complete,
    /// A line longer than the limit, of this many bytes: skipped.
    Oversized(u64),
    /// The input ended.
    End,
}

/// Lines of at most `max` bytes from `inner`.
pub struct LineReader<R> {
    inner: R,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Reads `inner`, taking lines of at most `max` bytes.
    pub fn new(inner: R, max: u64) -> Self {
        Self {
            inner,
            max: usize::try_from(max).unwrap_or(usize::MAX),
        }
    }

    /// The next line into `line` (cleared first).
    pub fn next_line(&mut self, line: &mut Vec<u8>) -> std::io::Result<Line> {
        line.clear();
        // Bytes of a line found too long, skipped so far.
        let mut skipped: Option<u64> = None;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                return Ok(match skipped {
                    Some(bytes) => Line::Oversized(bytes),
                    None if line.is_empty() => Line::End,
                    None => Line::Complete,
                });
            }
            let (chunk, found_end) = match memchr::memchr(b'\n', available) {
                Some(at) => (&available[..at], Some(at + 1)),
                None => (available, None),
            };
            let taken = found_end.unwrap_or(available.len());
            match &mut skipped {
                Some(bytes) => *bytes += chunk.len() as u64,
                None if line.len() + chunk.len() > self.max => {
                    skipped = Some((line.len() + chunk.len()) as u64);
                    line.clear();
                }
                None => line.extend_from_slice(chunk),
            }
            self.inner.consume(taken);
            if found_end.is_some() {
                return Ok(match skipped {
                    Some(bytes) => Line::Oversized(bytes),
                    None => Line::Complete,
                });
            }
        }
    }
}

/// What `sinkbox run` read, for the summary and `/metrics`.
#[derive(Debug, Default)]
pub struct InputCounters {
    /// Lines read, blank and oversized ones included.
    pub lines: AtomicU64,
    /// Bytes read, newlines included.
    pub bytes: AtomicU64,
    /// Records handed to the pipeline.
    pub events: AtomicU64,
    /// Lines skipped as not JSON.
    pub malformed: AtomicU64,
    /// Lines skipped as longer than the limit.
    pub oversized: AtomicU64,
    /// Lines taken as text (`--input-format text` or `auto`).
    pub as_text: AtomicU64,
}

impl InputCounters {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// The value of `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus_text(&self) -> String {
        let mut out = String::new();
        for (name, help, counter) in [
            ("lines", "Input lines read.", &self.lines),
            ("bytes", "Input bytes read, newlines included.", &self.bytes),
            (
                "events",
                "Records read and handed to the pipeline.",
                &self.events,
            ),
            (
                "malformed",
                "Input lines skipped as not JSON.",
                &self.malformed,
            ),
            (
                "oversized",
                "Input lines skipped as longer than --max-record-bytes.",
                &self.oversized,
            ),
        ] {
            out.push_str(&format!(
                "# HELP sinkbox_input_{name}_total {help}\n# TYPE sinkbox_input_{name}_total counter\nsinkbox_input_{name}_total {}\n",
                Self::get(counter)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 7 bytes per `fill_buf`, so lines
    /// cross buffer edges.
    fn lines(input: &[u8], max: u64) -> Vec<(Line, Vec<u8>)> {
        let mut reader = LineReader::new(std::io::BufReader::with_capacity(7, input), max);
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            let found = reader.next_line(&mut line).unwrap();
            if found == Line::End {
                return out;
            }
            out.push((found, line.clone()));
        }
    }

    #[test]
    fn a_line_past_the_limit_is_skipped_and_counted_without_being_held() {
        let long = "x".repeat(40);
        let input = format!("{{\"a\":1}}\n{long}\n\nabcdefghij\nlast");
        assert_eq!(
            lines(input.as_bytes(), 10),
            vec![
                (Line::Complete, b"{\"a\":1}".to_vec()),
                (Line::Oversized(40), vec![]),
                (Line::Complete, vec![]),
                (Line::Complete, b"abcdefghij".to_vec()),
                (Line::Complete, b"last".to_vec()),
            ]
        );
        // An oversized last line without a newline.
        assert_eq!(
            lines(long.as_bytes(), 10),
            vec![(Line::Oversized(40), vec![])]
        );
    }
}
