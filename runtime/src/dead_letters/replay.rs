//! `sinkbox dead-letters replay`: a sink's dead letters sent again through
//! a sink, batch by batch, each removed from the files once delivered.
//!
//! Progress is kept in a journal beside each file (`<file>.replayed`, one
//! synced line per batch delivered, or per part of one delivered), so a
//! replay interrupted anywhere and run again skips what was delivered. At
//! the end of each file, the file is rewritten without the delivered
//! records (a new file renamed over it) and the journal removed. A batch
//! delivered just before a crash, before its journal line, is the one thing
//! sent twice. A replay holds a lock on the sink's dead letters; a running
//! sinkbox that writes them holds it too, so the two never overlap.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::files::{dead_letter_dir, files_of};
use crate::config::{BuildContext, Config, ConfigError};
use crate::pipeline::{DeadLetterBatch, RetryPolicy, read_dead_letter_batches};
use crate::registry::sink_registry::SinkRegistry;
use crate::sink::{Sink, WriteOutcome};

/// How long a replay keeps retrying a destination that fails, unless the
/// sink sets `max_retry_duration`: an operator is waiting.
const REPLAY_RETRY_WINDOW: Duration = Duration::from_secs(30);

/// What to replay and how.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// Only batches whose reason this matches; the others stay.
    pub reason: Option<regex::Regex>,
    /// Count what would be sent; send nothing, change nothing.
    pub dry_run: bool,
    /// Retries of a batch the sink answers `retryable`; the replay stops
    /// (what is left stays) when they run out.
    pub retry: RetryPolicy,
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Batches (or their rest) delivered now, and their records.
    pub delivered_batches: u64,
    /// Records delivered now.
    pub delivered_records: u64,
    /// Batches an earlier, interrupted replay had delivered: skipped.
    pub already_delivered_batches: u64,
    /// Batches whose reason did not match: kept as they are.
    pub unmatched_batches: u64,
    /// Batches (and records) the sink refused again: kept, with the new
    /// reason.
    pub refused_batches: u64,
    /// Records the sink refused again.
    pub refused_records: u64,
    /// Batches left for the next replay because the sink kept failing.
    pub left_batches: u64,
    /// With `dry_run`: batches and records that would be sent.
    pub would_send_batches: u64,
    /// With `dry_run`: records that would be sent.
    pub would_send_records: u64,
    /// Why the replay stopped before the end, if it did.
    pub stopped: Option<String>,
}

/// What became of one batch handed to the sink.
enum Delivery {
    /// Every record.
    Delivered,
    /// The first `delivered` records; the rest was refused for `why`
    /// (`stop`: false) or the sink kept failing (`stop`: true).
    Kept {
        delivered: u32,
        why: String,
        stop: bool,
    },
}

/// Replays the dead letters of `from`, found under `data_dir`, through
/// `sink` (started by the caller). Holds `from`'s dead-letter lock
/// throughout: it fails at once, saying so, while a running sinkbox
/// writes them.
pub fn replay(
    data_dir: &Path,
    from: &str,
    sink: &mut dyn Sink,
    options: &ReplayOptions,
) -> Result<ReplayReport, String> {
    let dir = dead_letter_dir(data_dir);
    let mut report = ReplayReport::default();
    if !dir.is_dir() {
        return Ok(report);
    }
    let _lock = crate::pipeline::lock_for_replay(&dir, from)?;
    let files = files_of(&dir, from).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in files {
        replay_file(&file, sink, options, &mut report)?;
    }
    Ok(report)
}

/// Builds the sink named `to` (or `from`) as `config` configures it,
/// starts it, replays `from`'s dead letters through it with its retry
/// settings, and stops it.
pub fn replay_from_config(
    config: &Config,
    registry: &SinkRegistry,
    from: &str,
    to: Option<&str>,
    mut options: ReplayOptions,
) -> Result<ReplayReport, String> {
    let target = to.unwrap_or(from);
    let Some(settings) = config.sink(target) else {
        let known: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "no sink is named `{target}` in the configuration; its sinks are {}",
            known.join(", ")
        ));
    };
    options.retry = settings.retry.clone();
    if options.retry.max_retry_duration.is_none() {
        options.retry.max_retry_duration = Some(REPLAY_RETRY_WINDOW);
    }
    if options.dry_run {
        return replay(&config.runtime.data_dir, from, &mut NoSink, &options);
    }
    let mut sink = BuildContext::new(config, registry)
        .build(settings)
        .map_err(|e: ConfigError| e.to_string())?;
    sink.start()
        .map_err(|e| format!("sink `{target}` could not start: {e}"))?;
    let report = replay(&config.runtime.data_dir, from, sink.as_mut(), &options);
    let _ = sink.flush();
    sink.stop();
    report
}

/// Stands in for the sink in a dry run, which sends nothing.
struct NoSink;

impl Sink for NoSink {
    fn start(&mut self) -> Result<(), crate::sink::SinkError> {
        Ok(())
    }

    fn write(&mut self, _: &crate::batch::Batch) -> WriteOutcome {
        WriteOutcome::Fatal("a dry run sends nothing".into())
    }
}

/// A batch's key in the journal: stable while the file is not rewritten.
fn key_of(batch: &DeadLetterBatch) -> String {
    format!(
        "{}#{}#{}",
        batch.at,
        batch.first_sequence(),
        batch.records.len()
    )
}

fn journal_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".replayed");
    PathBuf::from(name)
}

/// Records delivered so far, per batch key, by an earlier replay.
fn read_journal(path: &Path) -> HashMap<String, usize> {
    #[derive(serde::Deserialize)]
    struct Line {
        key: String,
        done: usize,
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    // A line cut short by a crash is not valid JSON: skipped.
    text.lines()
        .filter_map(|line| serde_json::from_str::<Line>(line).ok())
        .map(|line| (line.key, line.done))
        .collect()
}

fn replay_file(
    file: &Path,
    sink: &mut dyn Sink,
    options: &ReplayOptions,
    report: &mut ReplayReport,
) -> Result<(), String> {
    let shown = |e: std::io::Error| format!("{}: {e}", file.display());
    // Its errors name the file and line already.
    let batches = read_dead_letter_batches(file).map_err(|e| e.to_string())?;
    let journal_path = journal_path(file);
    let done = read_journal(&journal_path);
    let mut journal = None;
    // What stays in the file: each batch's records not delivered, with
    // its reason.
    let mut kept: Vec<DeadLetterBatch> = Vec::new();
    let mut changed = false;
    for mut batch in batches {
        let skip = done.get(&key_of(&batch)).copied().unwrap_or(0);
        if skip >= batch.records.len() {
            report.already_delivered_batches += 1;
            changed = true;
            continue;
        }
        let key = key_of(&batch);
        if skip > 0 {
            batch.records.drain(..skip);
            changed = true;
        }
        let matches = options
            .reason
            .as_ref()
            .is_none_or(|pattern| pattern.is_match(&batch.reason));
        if !matches {
            report.unmatched_batches += 1;
            kept.push(batch);
            continue;
        }
        if report.stopped.is_some() {
            report.left_batches += 1;
            kept.push(batch);
            continue;
        }
        if options.dry_run {
            report.would_send_batches += 1;
            report.would_send_records += batch.records.len() as u64;
            kept.push(batch);
            continue;
        }
        let delivery = deliver(sink, &batch, &options.retry);
        let delivered = match &delivery {
            Delivery::Delivered => batch.records.len(),
            Delivery::Kept { delivered, .. } => *delivered as usize,
        };
        if delivered > 0 {
            changed = true;
            let journal = match &mut journal {
                Some(journal) => journal,
                None => journal.insert(
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .mode(0o600)
                        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                        .open(&journal_path)
                        .map_err(shown)?,
                ),
            };
            let line = serde_json::json!({"key": key, "done": skip + delivered});
            writeln!(journal, "{line}")
                .and_then(|()| journal.sync_data())
                .map_err(shown)?;
            report.delivered_records += delivered as u64;
        }
        match delivery {
            Delivery::Delivered => report.delivered_batches += 1,
            Delivery::Kept {
                delivered,
                why,
                stop,
            } => {
                batch.records.drain(..delivered as usize);
                if stop {
                    report.left_batches += 1;
                    report.stopped = Some(format!("the sink kept failing: {why}"));
                } else {
                    report.refused_batches += 1;
                    report.refused_records += batch.records.len() as u64;
                    batch.reason = format!("refused again on replay: {why}");
                    changed = true;
                }
                kept.push(batch);
            }
        }
    }
    if options.dry_run || !changed {
        return Ok(());
    }
    rewrite(file, &kept).map_err(shown)?;
    let _ = std::fs::remove_file(&journal_path);
    Ok(())
}

/// Replaces `file` with `kept` (a new file synced, then renamed over it),
/// or removes it when nothing is kept.
fn rewrite(file: &Path, kept: &[DeadLetterBatch]) -> std::io::Result<()> {
    if kept.is_empty() {
        return std::fs::remove_file(file);
    }
    let mut tmp_name = file.as_os_str().to_owned();
    tmp_name.push(".rewrite");
    let tmp = PathBuf::from(tmp_name);
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    for batch in kept {
        let entry = crate::pipeline::encode_dead_letter(
            &batch.sink,
            &batch.to_batch(),
            &batch.reason,
            &batch.at,
        )?;
        out.write_all(&entry)?;
    }
    out.sync_data()?;
    std::fs::rename(&tmp, file)?;
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Hands `batch` to `sink` until it is delivered, refused, or the retry
/// settings run out.
fn deliver(sink: &mut dyn Sink, batch: &DeadLetterBatch, policy: &RetryPolicy) -> Delivery {
    let mut rest = batch.to_batch();
    let mut delivered = 0u32;
    let mut retries = 0u32;
    let mut restarts = 0u32;
    let mut failing_since: Option<Instant> = None;
    loop {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.write(&rest)))
            .unwrap_or_else(|_| WriteOutcome::Fatal("the sink panicked in `write`".into()));
        let (pause, why) = match outcome {
            WriteOutcome::Accepted => return Delivery::Delivered,
            WriteOutcome::Partial { accepted, .. } if accepted >= rest.len() => {
                return Delivery::Delivered;
            }
            WriteOutcome::Partial { accepted, reason } => {
                delivered += accepted;
                rest = rest.skip(accepted);
                retries += 1;
                if accepted > 0 {
                    failing_since = None;
                }
                (policy.backoff(retries), reason)
            }
            WriteOutcome::Retryable(reason) => {
                retries += 1;
                (policy.backoff(retries), reason)
            }
            WriteOutcome::Deferred { wait, reason } => (wait, reason),
            WriteOutcome::Rejected(reason) => {
                return Delivery::Kept {
                    delivered,
                    why: reason,
                    stop: false,
                };
            }
            WriteOutcome::Refused {
                handled,
                refused,
                retry_reason,
            } => {
                // Delivered up to the first refused record; from there the
                // batch stays, with the first refusal's reason.
                let first = refused
                    .first()
                    .map(|(range, why)| (range.start.min(handled), why.clone()));
                match first {
                    Some((start, why)) => {
                        return Delivery::Kept {
                            delivered: delivered + start,
                            why,
                            stop: false,
                        };
                    }
                    None if handled >= rest.len() => return Delivery::Delivered,
                    None => {
                        delivered += handled;
                        rest = rest.skip(handled);
                        retries += 1;
                        (policy.backoff(retries), retry_reason)
                    }
                }
            }
            WriteOutcome::Fatal(reason) => {
                restarts += 1;
                if restarts > policy.max_restarts || sink.restart().is_err() {
                    return Delivery::Kept {
                        delivered,
                        why: reason,
                        stop: true,
                    };
                }
                continue;
            }
        };
        let since = *failing_since.get_or_insert_with(Instant::now);
        if policy.give_up(retries, since.elapsed(), false).is_some() {
            return Delivery::Kept {
                delivered,
                why,
                stop: true,
            };
        }
        std::thread::sleep(pause.min(Duration::from_secs(5)));
    }
}
