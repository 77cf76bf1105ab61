//! `sinkbox dead-letters replay`: a sink's dead letters sent again through
//! a sink, batch by batch, each record removed from the files once
//! delivered.
//!
//! Progress is kept in one journal per sink (`<sink>.replayed` beside the
//! files): after each batch the sink delivered (and flushed), the record
//! ranges it took are appended and synced, by the batch's own key (when it
//! was dead-lettered, its first sequence number, its length), so the
//! journal holds whatever file the batch is in now. A replay interrupted
//! anywhere and run again skips them. At the end of each file the file is
//! rewritten without the delivered records (a new file renamed over it);
//! the journal is removed when the replay ends. A batch delivered in the
//! instant before a crash, before its journal line, is the one thing sent
//! twice. A replay holds a lock on the sink's dead letters; a running
//! sinkbox that writes them holds it too, so the two never overlap.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::files::{dead_letter_dir, files_of};
use crate::config::{BuildContext, Config, ConfigError};
use crate::pipeline::outcome_plan::{Fate, Next, plan};
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

/// What became of a run of records handed to the sink.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Settled {
    /// Delivered.
    Delivered,
    /// Refused by the destination, for this reason: kept, with it.
    Refused(String),
    /// Not delivered because the sink kept failing: kept as it was, and
    /// the replay stops.
    Left(String),
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
    crate::sink_name::check_sink_name(from)?;
    let dir = dead_letter_dir(data_dir);
    let files = files_of(&dir, from).map_err(|e| format!("{}: {e}", dir.display()))?;
    if files.is_empty() {
        let others = super::files::sinks_in(&dir).unwrap_or_default();
        return Err(format!(
            "no dead letters of `{from}` in {}{}",
            dir.display(),
            if others.is_empty() {
                String::new()
            } else {
                format!("; sinks with dead letters: {}", others.join(", "))
            }
        ));
    }
    let mut report = ReplayReport::default();
    // A dry run reads only: no lock, no journal, no rewrite.
    let _lock = if options.dry_run {
        None
    } else {
        Some(crate::pipeline::lock_for_replay(&dir, from)?)
    };
    let mut journal = Journal::open(&dir.join(format!("{from}.replayed")));
    for file in files {
        replay_file(&file, sink, options, &mut journal, &mut report)?;
    }
    if !options.dry_run {
        journal.remove();
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
    options.retry = settings.settings.retry.clone();
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

/// A batch's key in the journal: when it was dead-lettered, its first
/// sequence number and its length, whatever file it is in.
fn key_of(batch: &DeadLetterBatch) -> String {
    format!(
        "{}#{}#{}",
        batch.at,
        batch.first_sequence(),
        batch.records.len()
    )
}

/// The record ranges delivered so far, by batch key, and the file they
/// are appended to.
struct Journal {
    path: PathBuf,
    delivered: HashMap<String, Vec<Range<usize>>>,
    file: Option<std::fs::File>,
}

impl Journal {
    /// Reads what an earlier, interrupted replay delivered.
    fn open(path: &Path) -> Self {
        #[derive(serde::Deserialize)]
        struct Line {
            key: String,
            delivered: [usize; 2],
        }
        let mut delivered: HashMap<String, Vec<Range<usize>>> = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(path) {
            // A line cut short by a crash is not valid JSON: skipped.
            for line in text
                .lines()
                .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            {
                let [start, end] = line.delivered;
                delivered.entry(line.key).or_default().push(start..end);
            }
        }
        Self {
            path: path.to_owned(),
            delivered,
            file: None,
        }
    }

    /// The ranges of the batch `key`, of `len` records, not delivered yet.
    fn pending(&self, key: &str, len: usize) -> Vec<Range<usize>> {
        let mut done = self.delivered.get(key).cloned().unwrap_or_default();
        done.sort_by_key(|r| r.start);
        let mut out = Vec::new();
        let mut next = 0;
        for range in done {
            if range.start > next {
                out.push(next..range.start.min(len));
            }
            next = next.max(range.end);
        }
        if next < len {
            out.push(next..len);
        }
        out.retain(|r| !r.is_empty());
        out
    }

    /// Notes, synced, that records `range` of batch `key` were delivered.
    fn note(&mut self, key: &str, range: Range<usize>) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&self.path)?,
            ),
        };
        let line = serde_json::json!({"key": key, "delivered": [range.start, range.end]});
        writeln!(file, "{line}")?;
        file.sync_data()?;
        self.delivered
            .entry(key.to_owned())
            .or_default()
            .push(range);
        Ok(())
    }

    /// The replay is over: every file is rewritten.
    fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Records `range` of `batch`, as a batch of their own, with `reason`.
fn part_of(batch: &DeadLetterBatch, range: Range<usize>, reason: &str) -> DeadLetterBatch {
    DeadLetterBatch {
        sink: batch.sink.clone(),
        reason: reason.to_owned(),
        at: batch.at.clone(),
        records: batch.records[range].to_vec(),
    }
}

fn replay_file(
    file: &Path,
    sink: &mut dyn Sink,
    options: &ReplayOptions,
    journal: &mut Journal,
    report: &mut ReplayReport,
) -> Result<(), String> {
    let shown = |e: std::io::Error| format!("{}: {e}", file.display());
    // Its errors name the file and line already.
    let batches = read_dead_letter_batches(file).map_err(|e| e.to_string())?;
    // What stays in the file: each batch's records not delivered, with
    // its reason.
    let mut kept: Vec<DeadLetterBatch> = Vec::new();
    let mut changed = false;
    for batch in batches {
        let key = key_of(&batch);
        let pending = journal.pending(&key, batch.records.len());
        if pending.is_empty() {
            report.already_delivered_batches += 1;
            changed = true;
            continue;
        }
        let untouched = pending.len() == 1 && pending[0] == (0..batch.records.len());
        if !untouched {
            changed = true;
        }
        let matches = options
            .reason
            .as_ref()
            .is_none_or(|pattern| pattern.is_match(&batch.reason));
        if !matches || report.stopped.is_some() || options.dry_run {
            if !matches {
                report.unmatched_batches += 1;
            } else if report.stopped.is_some() {
                report.left_batches += 1;
            } else {
                report.would_send_batches += 1;
                report.would_send_records += pending.iter().map(|r| r.len() as u64).sum::<u64>();
            }
            kept.extend(
                pending
                    .into_iter()
                    .map(|r| part_of(&batch, r, &batch.reason)),
            );
            continue;
        }
        let mut refused = false;
        for run in pending {
            if report.stopped.is_some() {
                kept.push(part_of(&batch, run, &batch.reason));
                continue;
            }
            let part = part_of(&batch, run.clone(), &batch.reason);
            for (range, settled) in deliver(sink, &part, &options.retry) {
                let (start, end) = (
                    run.start + range.start as usize,
                    run.start + range.end as usize,
                );
                match settled {
                    Settled::Delivered => {
                        // Handed off before it is noted: a sink that holds
                        // records until flushed must not have them noted
                        // as delivered first.
                        if let Err(why) = flushed(sink) {
                            report.stopped = Some(why);
                            kept.push(part_of(&batch, start..end, &batch.reason));
                            continue;
                        }
                        journal.note(&key, start..end).map_err(shown)?;
                        report.delivered_records += (end - start) as u64;
                        changed = true;
                    }
                    Settled::Refused(why) => {
                        refused = true;
                        report.refused_records += (end - start) as u64;
                        kept.push(part_of(&batch, start..end, &format!("on replay: {why}")));
                        changed = true;
                    }
                    Settled::Left(why) => {
                        report.stopped = Some(format!("the sink kept failing: {why}"));
                        kept.push(part_of(&batch, start..end, &batch.reason));
                    }
                }
            }
        }
        match (refused, &report.stopped) {
            (true, _) => report.refused_batches += 1,
            (false, Some(_)) => report.left_batches += 1,
            (false, None) => report.delivered_batches += 1,
        }
    }
    if options.dry_run || !changed {
        return Ok(());
    }
    rewrite(file, &kept).map_err(shown)
}

/// Flushes the sink; why not, if it did not.
fn flushed(sink: &mut dyn Sink) -> Result<(), String> {
    match sink.flush() {
        crate::sink::FlushOutcome::Done => Ok(()),
        crate::sink::FlushOutcome::Retryable(why) | crate::sink::FlushOutcome::Fatal(why) => {
            Err(format!("the sink did not flush: {why}"))
        }
    }
}

/// Replaces `file` with `kept` (a new file synced, then renamed over it),
/// or removes it when nothing is kept; then syncs the directory.
fn rewrite(file: &Path, kept: &[DeadLetterBatch]) -> std::io::Result<()> {
    if kept.is_empty() {
        std::fs::remove_file(file)?;
    } else {
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
    }
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Hands `batch` to `sink` until every record is delivered, refused, or
/// left because the retry settings ran out; says which, by record range.
/// Each answer is read as the pipeline reads it ([`plan`]).
fn deliver(
    sink: &mut dyn Sink,
    batch: &DeadLetterBatch,
    policy: &RetryPolicy,
) -> Vec<(Range<u32>, Settled)> {
    let whole = batch.to_batch();
    let mut settled: Vec<(Range<u32>, Settled)> = Vec::new();
    // Runs of the batch still to send, in order.
    let mut pending: VecDeque<Range<u32>> = VecDeque::new();
    if !whole.is_empty() {
        pending.push_back(0..whole.len());
    }
    let mut retries = 0u32;
    let mut restarts = 0u32;
    let mut failing_since: Option<Instant> = None;
    let leave = |pending: &mut VecDeque<Range<u32>>, settled: &mut Vec<_>, why: &str| {
        settled.extend(
            pending
                .drain(..)
                .map(|run| (run, Settled::Left(why.to_owned()))),
        );
    };
    while let Some(run) = pending.pop_front() {
        let piece = whole.skip(run.start).take(run.end - run.start);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.write(&piece)))
            .unwrap_or_else(|_| WriteOutcome::Fatal("the sink panicked in `write`".into()));
        let answer = plan(outcome, piece.len());
        let mut again = Vec::new();
        for (range, fate) in &answer.fates {
            let range = run.start + range.start..run.start + range.end;
            match fate {
                Fate::Delivered | Fate::Dropped { .. } => settled.push((range, Settled::Delivered)),
                Fate::DeadLetter(why) => settled.push((range, Settled::Refused(why.clone()))),
                Fate::Again { .. } => again.push(range),
            }
        }
        for range in again.into_iter().rev() {
            pending.push_front(range);
        }
        if answer.destination_works() == Some(true) {
            failing_since = None;
        }
        let (pause, why) = match answer.next {
            Next::Settled => continue,
            Next::Retry { reason, after } => {
                retries += 1;
                (
                    policy.backoff(retries).max(after.unwrap_or_default()),
                    reason,
                )
            }
            Next::Wait(wait, why) => (wait, why),
            Next::Restart(why) => {
                restarts += 1;
                if restarts > policy.max_restarts || sink.restart().is_err() {
                    leave(&mut pending, &mut settled, &why);
                    break;
                }
                continue;
            }
        };
        let since = *failing_since.get_or_insert_with(Instant::now);
        if policy.give_up(retries, since.elapsed(), false).is_some() {
            leave(&mut pending, &mut settled, &why);
            break;
        }
        std::thread::sleep(pause.min(Duration::from_secs(5)));
    }
    settled.sort_by_key(|(range, _)| range.start);
    settled
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::batch::Batch;
    use crate::pipeline::DeadLetterStore;
    use crate::sink::RecordResults;

    /// Answers each write with the next scripted outcome (then
    /// `accepted`), keeping the sequence numbers of what it was handed.
    struct ScriptedSink {
        script: Vec<WriteOutcome>,
        seen: Arc<Mutex<Vec<u64>>>,
    }

    impl Sink for ScriptedSink {
        fn start(&mut self) -> Result<(), crate::sink::SinkError> {
            Ok(())
        }

        fn write(&mut self, batch: &Batch) -> WriteOutcome {
            let first = batch.first_sequence();
            self.seen
                .lock()
                .unwrap()
                .extend((0..u64::from(batch.len())).map(|i| first + i));
            if self.script.is_empty() {
                WriteOutcome::Accepted
            } else {
                self.script.remove(0)
            }
        }
    }

    fn dead_letters(dir: &Path, batches: &[(u64, usize)]) {
        let mut store = DeadLetterStore::new(dir, "web", 1 << 20);
        for (first, n) in batches {
            let records: Vec<String> = (0..*n).map(|i| format!("{{\"i\":{i}}}")).collect();
            store
                .write(&Batch::from_records(&records, *first), "still failing")
                .unwrap();
        }
    }

    fn replayed(dir: &Path, script: Vec<WriteOutcome>) -> (ReplayReport, Vec<u64>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut sink = ScriptedSink {
            script,
            seen: seen.clone(),
        };
        let report = replay(dir, "web", &mut sink, &ReplayOptions::default()).unwrap();
        let seen = seen.lock().unwrap().clone();
        (report, seen)
    }

    #[test]
    fn only_the_records_refused_again_stay_and_nothing_delivered_is_sent_twice() {
        let dir = tempfile::tempdir().unwrap();
        dead_letters(dir.path(), &[(10, 6)]);
        let (report, seen) = replayed(
            dir.path(),
            vec![WriteOutcome::Records(
                RecordResults::new()
                    .rejected(1..2, "bad")
                    .rejected(4..5, "worse"),
            )],
        );
        assert_eq!(seen, (10..16).collect::<Vec<_>>());
        assert_eq!((report.delivered_records, report.refused_records), (4, 2));
        let file = dir.path().join("dead-letter/web.ndjson");
        let kept = read_dead_letter_batches(&file).unwrap();
        let kept: Vec<(u64, &str)> = kept
            .iter()
            .map(|b| (b.first_sequence(), b.reason.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                (11, "on replay: rejected: bad"),
                (14, "on replay: rejected: worse")
            ]
        );
        let (again, seen) = replayed(dir.path(), vec![]);
        assert_eq!(seen, [11, 14]);
        assert_eq!(again.delivered_records, 2);
        assert!(!file.exists());
        assert!(!dir.path().join("dead-letter/web.replayed").exists());
    }

    #[test]
    fn an_interrupted_replay_is_finished_from_its_journal_after_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        dead_letters(dir.path(), &[(0, 3), (3, 3)]);
        let file = dir.path().join("dead-letter/web.ndjson");
        // An earlier replay delivered the first batch and was killed
        // before rewriting; a running sinkbox then rotated the file.
        let first = &read_dead_letter_batches(&file).unwrap()[0];
        let mut journal = Journal::open(&dir.path().join("dead-letter/web.replayed"));
        journal.note(&key_of(first), 0..3).unwrap();
        drop(journal);
        std::fs::rename(&file, dir.path().join("dead-letter/web.ndjson.1")).unwrap();
        let (report, seen) = replayed(dir.path(), vec![]);
        assert_eq!(seen, [3, 4, 5]);
        assert_eq!(report.already_delivered_batches, 1);
        assert_eq!(report.delivered_batches, 1);
    }
}
