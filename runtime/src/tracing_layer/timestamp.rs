//! RFC 3339 timestamps with microseconds, as `humantime` writes them, with
//! the date and time of day worked out once per second per thread: events
//! in the same second differ only in their six digits of microseconds.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SS`, the part of the timestamp that changes once a second.
type SecondText = [u8; 19];

thread_local! {
    /// The last second formatted on this thread, and its text.
    static LAST_SECOND: Cell<(u64, SecondText)> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// Appends `now` as `"2026-12-02T19:07:05.123456Z"` (quotes included):
/// byte for byte what `humantime::format_rfc3339_micros` writes.
pub(crate) fn write_quoted_rfc3339_micros(out: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let text = LAST_SECOND.with(|last| {
        let (cached_secs, text) = last.get();
        if cached_secs == secs {
            return text;
        }
        let mut text = [0u8; 19];
        let full =
            humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs))
                .to_string();
        // Years past 9999 do not fit the cache's shape: write them whole.
        if full.len() != 20 {
            return [0; 19];
        }
        text.copy_from_slice(&full.as_bytes()[..19]);
        last.set((secs, text));
        text
    });
    if text[0] == 0 {
        out.push(b'"');
        out.extend_from_slice(humantime::format_rfc3339_micros(now).to_string().as_bytes());
        out.push(b'"');
        return;
    }
    let micros = since.subsec_micros();
    let mut tail = *b".000000Z\"";
    let mut rest = micros;
    for digit in tail[1..7].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.push(b'"');
    out.extend_from_slice(&text);
    out.extend_from_slice(&tail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn matches_humantime_for_times_within_and_across_seconds() {
        let base = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        for offset_us in [
            0u64,
            1,
            999_999,
            1_000_000,
            1_000_001,
            59_999_999,
            86_400_000_123,
        ] {
            let at = base + Duration::from_micros(offset_us);
            let mut out = Vec::new();
            write_quoted_rfc3339_micros(&mut out, at);
            let expected = format!("\"{}\"", humantime::format_rfc3339_micros(at));
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn the_epoch_and_nanoseconds_are_cut_to_micros_as_humantime_does() {
        let at = UNIX_EPOCH + Duration::from_nanos(1_999);
        let mut out = Vec::new();
        write_quoted_rfc3339_micros(&mut out, at);
        assert_eq!(out, b"\"1970-01-01T00:00:00.000001Z\"");
    }
}
