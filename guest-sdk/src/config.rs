//! A sink's own options, as given in the host config.

use std::str::FromStr;

/// The key/value options from the sink's `config` table.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// Wraps key/value pairs (the host passes them to `start`).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or `default`.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// The value of `key`, or an error that says it is required.
    pub fn require(&self, key: &str) -> Result<&str, String> {
        self.get(key).ok_or_else(|| {
            format!("the option `{key}` is required; set it in the sink's `config` table")
        })
    }

    /// The value of `key` parsed as `T`; `Ok(None)` when unset, `Err` with
    /// a clear message when it does not parse.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| format!("the option `{key}` = `{text}` is not valid: {e}")),
        }
    }

    /// Every pair, in the order given.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Keys that are not in `known`: lets a sink reject typos in its options.
    pub fn unknown_keys<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        self.pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !known.contains(k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new(vec![
            ("threshold".into(), "250".into()),
            ("mode".into(), "fast".into()),
            ("mode".into(), "slow".into()),
        ])
    }

    #[test]
    fn the_last_value_of_a_key_wins() {
        assert_eq!(config().get("mode"), Some("slow"));
        assert_eq!(config().get_or("absent", "dflt"), "dflt");
    }

    #[test]
    fn parse_and_require_say_which_option_is_wrong() {
        assert_eq!(config().parse::<u32>("threshold"), Ok(Some(250)));
        assert_eq!(config().parse::<u32>("absent"), Ok(None));
        let err = config().parse::<u32>("mode").unwrap_err();
        assert_eq!(
            err,
            "the option `mode` = `slow` is not valid: invalid digit found in string"
        );
        assert_eq!(
            config().require("path").unwrap_err(),
            "the option `path` is required; set it in the sink's `config` table"
        );
        assert_eq!(config().unknown_keys(&["threshold"]), vec!["mode", "mode"]);
    }
}
