//! A record's own time, read from one of its fields, for protocols that
//! carry a timestamp per entry (Loki, OTLP).

#[cfg(test)]
use serde_json::Value;

/// Nanoseconds since the Unix epoch from a field value: an RFC 3339
/// string (`2026-12-01T10:00:00.5Z`, `…+02:00`), or a number of seconds,
/// milliseconds, microseconds or nanoseconds since the epoch, told apart
/// by magnitude (below 10¹¹ seconds, below 10¹⁴ milliseconds, below 10¹⁷
/// microseconds, else nanoseconds). `None` for anything else, and for times
/// before 1970. The sinks read times from raw fields (`Field::unix_nanos`)
/// or OTLP values; this form over a parsed value is the tests' reference.
#[cfg(test)]
pub(crate) fn unix_nanos(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => nanos_from_text(text),
        Value::Number(number) => nanos_from_number(number.as_f64()?, number.as_u64()),
        _ => None,
    }
}

/// Nanoseconds since the epoch from an RFC 3339 time.
pub(crate) fn nanos_from_text(text: &str) -> Option<u64> {
    let text = text.trim();
    // The common shapes read directly; anything else (or anything the
    // direct reader is unsure of) through the full parser.
    if let Some(nanos) = rfc3339_direct(text.as_bytes()) {
        return Some(nanos);
    }
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(parsed.unix_timestamp_nanos()).ok()
}

/// [`nanos_from_text`] of a JSON string's raw bytes (no escape in them):
/// the common shapes read straight from the bytes, with no UTF-8 check
/// first (the direct reader takes ASCII digits and separators only).
pub(crate) fn nanos_from_raw(raw: &[u8]) -> Option<u64> {
    rfc3339_direct(raw).or_else(|| nanos_from_text(&String::from_utf8_lossy(raw)))
}

/// Reads times of many records, remembering the last one's whole second
/// (`YYYY-MM-DDTHH:MM:SS`): a record of the same second, as most in a
/// batch are, reads only its fraction and zone.
#[derive(Default)]
pub(crate) struct TimeReader {
    second: [u8; 19],
    /// The remembered second, in seconds since the epoch before its zone
    /// offset; `None` until one is read.
    local_seconds: Option<i64>,
}

impl TimeReader {
    /// As [`nanos_from_raw`].
    pub fn nanos_from_raw(&mut self, raw: &[u8]) -> Option<u64> {
        if let (Some(local), Some(second)) = (self.local_seconds, raw.get(..19))
            && raw.len() >= 20
            && *second == self.second
        {
            return rfc3339_rest(raw, local).or_else(|| nanos_from_raw(raw));
        }
        let local = rfc3339_local_seconds(raw);
        if let (Some(local), Some(second)) = (local, raw.get(..19)) {
            self.second.copy_from_slice(second);
            self.local_seconds = Some(local);
        }
        match local {
            Some(local) => rfc3339_rest(raw, local).or_else(|| nanos_from_raw(raw)),
            None => nanos_from_raw(raw),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` read in one pass, the way
/// nearly every logger writes time: `None` for any other shape, and for
/// values the full parser must judge (a leap second, a fraction past
/// nanoseconds).
fn rfc3339_direct(b: &[u8]) -> Option<u64> {
    rfc3339_rest(b, rfc3339_local_seconds(b)?)
}

/// The whole-second part, `YYYY-MM-DDTHH:MM:SS`, in seconds since the
/// epoch as if it were UTC; `None` for any other shape or an impossible
/// date.
fn rfc3339_local_seconds(b: &[u8]) -> Option<i64> {
    let digits = |at: usize, n: usize| -> Option<u64> {
        let slice = b.get(at..at + n)?;
        slice.iter().try_fold(0u64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
        })
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year as i64, month as i64, day as i64);
    Some(days * 86_400 + (hour * 3600 + minute * 60 + second) as i64)
}

/// The time whose whole second (before its zone) is `local`, from the
/// fraction and zone after byte 19 of `b`.
fn rfc3339_rest(b: &[u8], local: i64) -> Option<u64> {
    let mut at = 19;
    let mut fraction = 0u64;
    if *b.get(at)? == b'.' {
        let start = at + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let count = end - start;
        if count == 0 || count > 9 {
            return None;
        }
        fraction = b[start..end]
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
            * 10u64.pow(9 - count as u32);
        at = end;
    }
    let offset_seconds: i64 = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let field = |x: u8, y: u8| -> Option<i64> {
                (x.is_ascii_digit() && y.is_ascii_digit())
                    .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
            };
            let (hours, minutes) = (field(*h1, *h2)?, field(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 3600 + minutes * 60;
            if *sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    let seconds = u64::try_from(local - offset_seconds).ok()?;
    seconds.checked_mul(1_000_000_000)?.checked_add(fraction)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Writes nanoseconds since the epoch as RFC 3339 in UTC
/// (`2025-12-01T10:00:00.5Z`), with as many fraction digits as it needs
/// and none for a whole second (what `time`'s RFC 3339 format writes,
/// without its allocations).
pub(crate) fn write_rfc3339(nanos: u64, out: &mut Vec<u8>) {
    let seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    let two = |out: &mut Vec<u8>, n: u64| {
        out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8])
    };
    let year = year as u64;
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, of_day / 3600);
    out.push(b':');
    two(out, of_day / 60 % 60);
    out.push(b':');
    two(out, of_day % 60);
    if fraction != 0 {
        out.push(b'.');
        let mut digits = [0u8; 9];
        let mut rest = fraction;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let used = 9 - digits.iter().rev().take_while(|d| **d == b'0').count();
        out.extend_from_slice(&digits[..used]);
    }
    out.push(b'Z');
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u64;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u64;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Nanoseconds since the epoch from a number of seconds, milliseconds,
/// microseconds or nanoseconds (told apart by magnitude); `whole` is the
/// number when it is a whole one, read exactly.
pub(crate) fn nanos_from_number(n: f64, whole: Option<u64>) -> Option<u64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let factor: u64 = if n < 1e11 {
        1_000_000_000
    } else if n < 1e14 {
        1_000_000
    } else if n < 1e17 {
        1_000
    } else {
        1
    };
    // Exact for integers, whatever their unit.
    if let Some(whole) = whole {
        return whole.checked_mul(factor);
    }
    let nanos = n * factor as f64;
    (nanos < u64::MAX as f64).then_some(nanos as u64)
}

/// Now, in nanoseconds since the Unix epoch.
pub(crate) fn now_unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    proptest::proptest! {
        /// A reader that remembers the last second reads every time in a
        /// sequence as reading each alone does.
        #[test]
        fn remembered_seconds_read_as_fresh_ones(
            texts in proptest::collection::vec(
                "(2026-11-22T10:00:0[0-2](\\.[0-9]{0,10})?(Z|[+-]0[0-2]:[0-5]0|x)?|2026-02-29T10:00:00Z|.{0,22})",
                1..20,
            )
        ) {
            let mut reader = TimeReader::default();
            for text in &texts {
                proptest::prop_assert_eq!(reader.nanos_from_raw(text.as_bytes()), nanos_from_raw(text.as_bytes()), "{}", text);
            }
        }

        /// Reading a string's raw bytes gives what reading its text does,
        /// for times in every shape and for anything else.
        #[test]
        fn raw_bytes_read_as_text_does(
            text in "( ?[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?(Z|z|[+-][0-2][0-9]:[0-5][0-9])? ?|.{0,30})"
        ) {
            proptest::prop_assert_eq!(nanos_from_raw(text.as_bytes()), nanos_from_text(&text));
        }

        /// The direct writer writes what the `time` crate writes, and the
        /// reader reads it back.
        #[test]
        fn written_times_are_rfc3339_and_read_back(nanos in proptest::prelude::any::<u64>()) {
            let mut written = Vec::new();
            write_rfc3339(nanos, &mut written);
            let expected = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            proptest::prop_assert_eq!(std::str::from_utf8(&written).unwrap(), expected.as_str());
            proptest::prop_assert_eq!(nanos_from_text(&expected), Some(nanos));
        }
    }

    /// The full parser's answer, for comparison.
    fn slow(text: &str) -> Option<u64> {
        let parsed =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .ok()?;
        u64::try_from(parsed.unix_timestamp_nanos()).ok()
    }

    #[test]
    fn the_direct_reader_agrees_with_the_full_parser() {
        for text in [
            "2026-11-22T10:00:00Z",
            "2026-11-22t10:00:00.5z",
            "2024-02-29T23:59:59.123456789+05:30",
            "2000-03-01T00:00:00-00:00",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T10:00:60Z",
            "2026-11-22T10:00:00.Z",
            "2026-11-22T10:00:00.1234567891Z",
            "2026-11-22T10:00:00+0530",
            "2026-11-22 10:00:00Z",
            "2026-11-22T10:00:00",
        ] {
            let direct = rfc3339_direct(text.as_bytes());
            if direct.is_some() {
                assert_eq!(direct, slow(text), "{text}");
            }
            assert_eq!(nanos_from_text(text), slow(text), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_valid_time_reads_the_same_both_ways(
            days in 0i64..60_000,
            second in 0i64..86_400,
            nanos in 0u32..1_000_000_000,
            digits in 0usize..10,
            offset in -1439i32..1440,
        ) {
            let at = time::OffsetDateTime::from_unix_timestamp(days * 86_400 + second)
                .unwrap()
                .replace_nanosecond(nanos)
                .unwrap()
                .to_offset(time::UtcOffset::from_whole_seconds(offset * 60).unwrap());
            let fraction = if digits == 0 {
                String::new()
            } else {
                format!(".{:09}", at.nanosecond())[..=digits].to_owned()
            };
            let zone = if offset == 0 {
                "Z".to_owned()
            } else {
                let sign = if offset < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)
            };
            let text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}{zone}",
                at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute(), at.second()
            );
            proptest::prop_assert_eq!(rfc3339_direct(text.as_bytes()), slow(&text), "{}", text);
        }
    }

    #[test]
    fn strings_and_numbers_in_every_unit_agree() {
        let ns = 1_764_583_200_500_000_000u64; // 2025-12-01T10:00:00.5Z
        assert_eq!(unix_nanos(&json!("2025-12-01T10:00:00.5Z")), Some(ns));
        assert_eq!(unix_nanos(&json!("2025-12-01T12:00:00.5+02:00")), Some(ns));
        assert_eq!(unix_nanos(&json!(1_764_583_200.5)), Some(ns));
        assert_eq!(unix_nanos(&json!(1_764_583_200_500u64)), Some(ns));
        assert_eq!(unix_nanos(&json!(1_764_583_200_500_000u64)), Some(ns));
        assert_eq!(unix_nanos(&json!(ns)), Some(ns));
        assert_eq!(unix_nanos(&json!(1_764_583_200u64)), Some(ns - 500_000_000));
        for bad in [
            json!("yesterday"),
            json!(-1),
            json!(true),
            json!(null),
            json!({}),
        ] {
            assert_eq!(unix_nanos(&bad), None, "{bad}");
        }
    }
}
