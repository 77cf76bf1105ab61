//! Durations in configuration tables read by serde (`[runtime]`,
//! `[runtime.batch]`): a string with a unit (`"200ms"`, `"5s"`, `"1m"`) or
//! a bare number of seconds, the same forms sink options take.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// Deserializes a duration, for `#[serde(with = "duration_text")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    let expected =
        "expected a duration such as \"250ms\", \"5s\" or \"1m\" (a bare number is seconds)";
    match Raw::deserialize(deserializer).map_err(|_| de::Error::custom(expected))? {
        Raw::Seconds(secs) => Ok(Duration::from_secs(secs)),
        Raw::Text(text) => match text.trim().parse::<u64>() {
            Ok(secs) => Ok(Duration::from_secs(secs)),
            Err(_) => humantime::parse_duration(text.trim())
                .map_err(|_| de::Error::custom(format!("`{text}` is not a duration; {expected}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(with = "super")]
        d: std::time::Duration,
    }

    #[test]
    fn takes_units_and_bare_seconds() {
        let read = |text: &str| toml::from_str::<T>(text).map(|t| t.d);
        assert_eq!(read("d = 2").unwrap().as_secs(), 2);
        assert_eq!(read("d = \"250ms\"").unwrap().as_millis(), 250);
        assert_eq!(read("d = \"3\"").unwrap().as_secs(), 3);
        assert!(
            read("d = \"soon\"")
                .unwrap_err()
                .to_string()
                .contains("is not a duration")
        );
        assert!(
            read("d = -1")
                .unwrap_err()
                .to_string()
                .contains("expected a duration")
        );
    }
}
