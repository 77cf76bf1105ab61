//! A record's own time, read from one of its fields, for protocols that
//! carry a timestamp per entry (Loki, OTLP).

use serde_json::Value;

/// Nanoseconds since the Unix epoch from a field value: an RFC 3339
/// string (`2026-12-01T10:00:00.5Z`, `…+02:00`), or a number of seconds,
/// milliseconds, microseconds or nanoseconds since the epoch, told apart
/// by magnitude (below 10¹¹ seconds, below 10¹⁴ milliseconds, below 10¹⁷
/// microseconds, else nanoseconds). `None` for anything else, and for times
/// before 1970.
pub(crate) fn unix_nanos(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => nanos_from_text(text),
        Value::Number(number) => nanos_from_number(number.as_f64()?, number.as_u64()),
        _ => None,
    }
}

/// Nanoseconds since the epoch from an RFC 3339 time.
pub(crate) fn nanos_from_text(text: &str) -> Option<u64> {
    let parsed =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    u64::try_from(parsed.unix_timestamp_nanos()).ok()
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
