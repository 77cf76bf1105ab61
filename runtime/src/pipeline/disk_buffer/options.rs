//! A sink's `buffer = { type = "disk", … }` settings.

use std::time::Duration;

/// What a full disk buffer does with the next batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for the sink to free space (back-pressure on `emit`).
    Block,
    /// Drop the batch that arrived, counting its records.
    DropNewest,
}

/// What happens to a buffered batch older than `max_age` that the sink
/// still cannot deliver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MaxAgeAction {
    /// It stays and is retried; the sink's health turns `degraded`.
    #[default]
    Degrade,
    /// Its next failure sends it to the dead letters (it has been tried
    /// against the failure), making room behind it.
    DeadLetter,
}

/// When written batches are forced to the disk (`fdatasync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After every batch: a power loss loses nothing the buffer took.
    Batch,
    /// At most every 500 ms: a power loss may lose the last half second;
    /// a killed process loses nothing either way.
    Interval,
}

/// A per-sink disk buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskBufferOptions {
    /// Most bytes of batches on disk, segments included.
    pub max_size: u64,
    /// What happens past `max_size`.
    pub when_full: WhenFull,
    /// When writes are synced.
    pub sync: SyncPolicy,
    /// Health turns `degraded` when the oldest undelivered batch is older.
    pub max_age: Option<Duration>,
    /// What else happens to a batch older than `max_age`.
    pub max_age_action: MaxAgeAction,
}

impl Default for DiskBufferOptions {
    fn default() -> Self {
        Self {
            max_size: 1 << 30,
            when_full: WhenFull::Block,
            sync: SyncPolicy::Batch,
            max_age: None,
            max_age_action: MaxAgeAction::Degrade,
        }
    }
}

/// The smallest `max_size` taken: room for a few segments.
pub(crate) const MIN_MAX_SIZE: u64 = 1 << 20;

/// How often `interval` syncs.
pub(crate) const SYNC_INTERVAL: Duration = Duration::from_millis(500);

impl DiskBufferOptions {
    /// Bytes after which the writer starts a new segment file: an eighth
    /// of the buffer, between 256 KiB and 64 MiB, so space comes back in
    /// steps while few files are open.
    pub(crate) fn segment_size(&self) -> u64 {
        (self.max_size / 8).clamp(256 << 10, 64 << 20)
    }

    /// Reads `buffer = { type = "disk", max_size = "1GiB", when_full =
    /// "block", sync = "batch", max_age = "10m" }`; `None` for the memory
    /// queue (no table, or `type = "memory"`).
    pub(crate) fn from_table(table: &[(String, String)]) -> Result<Option<Self>, String> {
        if table.is_empty() {
            return Ok(None);
        }
        let mut options = Self::default();
        let mut kind = None;
        for (key, value) in table {
            match key.as_str() {
                "type" => kind = Some(value.as_str()),
                "max_size" => {
                    options.max_size = value
                        .parse::<bytesize::ByteSize>()
                        .map_err(|_| {
                            format!("`max_size = \"{value}\"` is not a size, such as \"1GiB\"")
                        })?
                        .as_u64();
                    if options.max_size < MIN_MAX_SIZE {
                        return Err(
                            "`max_size` must be at least 1MiB; the default is \"1GiB\"".into()
                        );
                    }
                }
                "when_full" => {
                    options.when_full = match value.as_str() {
                        "block" => WhenFull::Block,
                        "drop_newest" => WhenFull::DropNewest,
                        other => {
                            return Err(format!(
                                "`when_full = \"{other}\"`: write \"block\" or \"drop_newest\""
                            ));
                        }
                    }
                }
                "sync" => {
                    options.sync = match value.as_str() {
                        "batch" => SyncPolicy::Batch,
                        "interval" => SyncPolicy::Interval,
                        other => {
                            return Err(format!(
                                "`sync = \"{other}\"`: write \"batch\" or \"interval\""
                            ));
                        }
                    }
                }
                "max_age" => {
                    options.max_age = Some(humantime::parse_duration(value).map_err(|_| {
                        format!("`max_age = \"{value}\"` is not a duration, such as \"10m\"")
                    })?)
                }
                "max_age_action" => {
                    options.max_age_action = match value.as_str() {
                        "degrade" => MaxAgeAction::Degrade,
                        "dead_letter" => MaxAgeAction::DeadLetter,
                        other => {
                            return Err(format!(
                                "`max_age_action = \"{other}\"`: write \"degrade\" or \"dead_letter\""
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown key `{other}`; a buffer takes type, max_size, when_full, sync, max_age and max_age_action"
                    ));
                }
            }
        }
        if options.max_age_action == MaxAgeAction::DeadLetter && options.max_age.is_none() {
            return Err(
                "`max_age_action = \"dead_letter\"` needs `max_age`, such as max_age = \"1h\""
                    .into(),
            );
        }
        match kind {
            Some("disk") => Ok(Some(options)),
            Some("memory") => Ok(None),
            Some(other) => Err(format!(
                "`type = \"{other}\"`: write \"disk\" or \"memory\""
            )),
            None => Err("say which buffer: type = \"disk\" (or \"memory\", the default)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_read_and_mistakes_are_named() {
        let table = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let options = DiskBufferOptions::from_table(&table(&[
            ("type", "disk"),
            ("max_size", "64MiB"),
            ("when_full", "drop_newest"),
            ("sync", "interval"),
            ("max_age", "10m"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(options.max_size, 64 << 20);
        assert_eq!(options.when_full, WhenFull::DropNewest);
        assert_eq!(options.segment_size(), 8 << 20);
        assert_eq!(
            DiskBufferOptions::from_table(&table(&[("type", "memory")])).unwrap(),
            None
        );
        for (pairs, says) in [
            (
                vec![("type", "disk"), ("max_size", "10KB")],
                "at least 1MiB",
            ),
            (
                vec![("type", "disk"), ("when_full", "drop_oldest")],
                "drop_newest",
            ),
            (vec![("type", "tape")], "\"disk\" or \"memory\""),
            (vec![("max_size", "1GiB")], "say which buffer"),
            (
                vec![("type", "disk"), ("max_age_action", "dead_letter")],
                "needs `max_age`",
            ),
            (
                vec![("type", "disk"), ("size", "1GiB")],
                "unknown key `size`",
            ),
        ] {
            let err = DiskBufferOptions::from_table(&table(&pairs)).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
