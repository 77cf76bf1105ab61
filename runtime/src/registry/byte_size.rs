//! Sizes in configuration: a plain number of bytes or a string with a unit
//! (`"64MiB"`, `"10 MB"`, `"512KiB"`).

use serde::{Deserialize, Deserializer, de};

/// Deserializes a size into bytes, for `#[serde(with = "byte_size")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer).map_err(|_| {
        de::Error::custom(
            "expected a size: a number of bytes or a string such as \"64MiB\" or \"10 MB\"",
        )
    })? {
        Raw::Bytes(n) => Ok(n),
        Raw::Text(text) => parse(&text).map_err(de::Error::custom),
    }
}

/// Parses `"64MiB"`, `"10 MB"`, `"512KiB"` or `"4096"` into bytes.
pub fn parse(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| {
            format!("`{text}` is not a size; write a number of bytes or a number with a unit such as \"64MiB\", \"10 MB\" or \"512KiB\"")
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_units() {
        assert_eq!(super::parse("64MiB").unwrap(), 64 * 1024 * 1024);
        assert_eq!(super::parse("10 MB").unwrap(), 10_000_000);
        assert_eq!(super::parse("512KiB").unwrap(), 512 * 1024);
        assert_eq!(super::parse("4096").unwrap(), 4096);
        assert!(super::parse("lots").unwrap_err().contains("not a size"));
    }
}
