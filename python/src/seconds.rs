//! Seconds given by Python code (`time.time()` floats, `timeout=`
//! arguments) as Rust times, for every float: `nan`, `inf`, negative and
//! huge values are clamped, never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest wait a `timeout` stands for: ten years ("no limit" in
/// practice, and far from overflowing a deadline).
const LONGEST_WAIT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The last second an RFC 3339 timestamp can hold: 9999-12-31T23:59:59Z
/// (a float this large has no room for its microseconds).
const LATEST_SECONDS: f64 = 253_402_300_799.0;

/// A `timeout` in seconds: `nan` and negative mean no wait, `inf` and
/// huge values the longest wait.
pub fn timeout(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(seconds).map_or(LONGEST_WAIT, |wait| wait.min(LONGEST_WAIT))
}

/// A Unix time in seconds (`LogRecord.created`) as a time RFC 3339 can
/// write: `nan` and negative values are the epoch, values past year 9999
/// its last second.
pub fn unix_time(seconds: f64) -> SystemTime {
    let seconds = if seconds.is_nan() {
        0.0
    } else {
        seconds.clamp(0.0, LATEST_SECONDS)
    };
    UNIX_EPOCH + Duration::try_from_secs_f64(seconds).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_float_is_a_wait() {
        assert_eq!(timeout(f64::NAN), Duration::ZERO);
        assert_eq!(timeout(-1.0), Duration::ZERO);
        assert_eq!(timeout(1.5), Duration::from_millis(1500));
        assert_eq!(timeout(f64::INFINITY), LONGEST_WAIT);
        assert_eq!(timeout(1e300), LONGEST_WAIT);
    }

    #[test]
    fn every_float_is_a_writable_time() {
        for seconds in [
            f64::NAN,
            f64::NEG_INFINITY,
            -5.0,
            0.0,
            1.7e9,
            1e300,
            f64::INFINITY,
        ] {
            let text = humantime::format_rfc3339_micros(unix_time(seconds)).to_string();
            assert_eq!(
                text.len(),
                "1970-01-01T00:00:00.000000Z".len(),
                "{seconds}: {text}"
            );
        }
        assert_eq!(
            humantime::format_rfc3339_micros(unix_time(f64::INFINITY)).to_string(),
            "9999-12-31T23:59:59.000000Z"
        );
    }
}
