//! Counts records by level and reports the counts through the host's log on
//! every flush and on stop.
//!
//! Options (the sink's `config` table):
//! - `level_field`: the field holding the level (default `level`).

use std::collections::BTreeMap;

use sinkbox_guest::{Batch, Config, FlushOutcome, Sink, WriteOutcome, log};

#[derive(serde::Deserialize)]
struct Levelled<'a> {
    #[serde(borrow)]
    level: Option<std::borrow::Cow<'a, str>>,
}

struct StatsSink {
    level_field: String,
    by_level: BTreeMap<String, u64>,
    total: u64,
    malformed: u64,
    reported_total: Option<u64>,
}

impl StatsSink {
    fn summary(&self) -> String {
        let levels: Vec<String> = self
            .by_level
            .iter()
            .map(|(level, n)| format!("{level}={n}"))
            .collect();
        format!(
            "stats: total={} {} malformed={}",
            self.total,
            levels.join(" "),
            self.malformed
        )
    }
}

impl Sink for StatsSink {
    fn start(config: Config) -> Result<Self, String> {
        if let Some(key) = config.unknown_keys(&["level_field"]).first() {
            return Err(format!(
                "unknown option `{key}`; the only option is `level_field`"
            ));
        }
        Ok(StatsSink {
            level_field: config.get_or("level_field", "level").to_owned(),
            by_level: BTreeMap::new(),
            total: 0,
            malformed: 0,
            reported_total: None,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        for record in batch.records() {
            let level = if self.level_field == "level" {
                // Fast path: borrow the one field instead of building a tree.
                match serde_json::from_slice::<Levelled>(record) {
                    Ok(r) => Some(
                        r.level
                            .map(|l| l.to_ascii_lowercase())
                            .unwrap_or_else(|| "none".into()),
                    ),
                    Err(_) => None,
                }
            } else {
                serde_json::from_slice::<serde_json::Value>(record)
                    .ok()
                    .map(|v| {
                        v.get(&self.level_field)
                            .and_then(|l| l.as_str())
                            .map(str::to_ascii_lowercase)
                            .unwrap_or_else(|| "none".into())
                    })
            };
            match level {
                Some(level) => *self.by_level.entry(level).or_default() += 1,
                None => self.malformed += 1,
            }
            self.total += 1;
        }
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        // Idempotent: report only when something changed since the last flush.
        if self.reported_total != Some(self.total) {
            log::info(&self.summary());
            self.reported_total = Some(self.total);
        }
        FlushOutcome::Done
    }

    fn stop(&mut self) {
        log::info(&format!("final {}", self.summary()));
    }
}

sinkbox_guest::export_sink!(StatsSink);
