//! [`Pipeline`], the handle applications hold: emit, flush, shut down,
//! stats; and the state every clone shares.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};

use super::batch_timer::TimerWake;
use super::batcher;
use super::open_batches::OpenBatches;
use super::prometheus;
use super::{
    BatchOptions, EmitError, FlushReport, PipelineBuilder, ShutdownReport, SinkLane, SinkStats,
    shutdown,
};
use crate::acknowledgement::{AckReport, AckState, Acknowledgement};
use crate::batch::Batch;
use crate::routing::{RoutedBatch, RoutingTable};
use crate::sink::Health;

/// A running pipeline. Cheap to clone; every clone drives the same sinks.
///
/// Events are serialized once into the open batch; a batch closes when it
/// reaches `max_records`, `max_bytes` or its `timeout`, and is then shared by
/// every sink's queue. Dropping the last handle shuts the pipeline down.
#[derive(Clone)]
pub struct Pipeline {
    pub(super) inner: Arc<Handle>,
}

/// Shared by every clone of a [`Pipeline`]; shuts the pipeline down when the
/// last clone is dropped. Threads inside the pipeline hold `Arc<Inner>`, not
/// this, so they never keep it alive.
pub(super) struct Handle(pub(super) Arc<Inner>);

impl std::ops::Deref for Handle {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

pub(super) struct Inner {
    /// The batches being filled, one per shard of producer threads.
    pub(super) open: OpenBatches,
    /// Wakes the batch timer when a batch opens while it has none to watch.
    pub(super) timer_wake: TimerWake,
    /// The next sequence number. Held while a closed batch is numbered and
    /// pushed to the queues, so every sink sees batches in sequence order.
    /// A timed lock, so `flush` can give up at its deadline while a
    /// producer waits on a full queue.
    pub(super) dispatch: parking_lot::Mutex<u64>,
    pub(super) options: BatchOptions,
    /// How often the batch timer flushes every sink while records flow.
    pub(super) flush_interval: Duration,
    /// Batches dispatched so far: the batch timer flushes only when some
    /// arrived since its last flush.
    pub(super) dispatched: AtomicU64,
    /// The top-level sinks. Replaced as a whole by a configuration reload;
    /// `dispatch` reads it without a lock.
    pub(super) lanes: ArcSwap<Vec<Arc<SinkLane>>>,
    /// The `when` conditions of those sinks; replaced with them, under the
    /// dispatch turn.
    pub(super) routes: ArcSwapOption<RoutingTable>,
    /// Held by `shutdown` and by a configuration reload, so they take turns.
    pub(super) stopping: Mutex<()>,
    /// What the pipeline was built from, for reloads to diff (see
    /// [`PipelineBuilder::origin`]).
    pub(super) origin: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// Where dead letters go, for lanes a reload adds.
    pub(super) data_dir: PathBuf,
    pub(super) closed: AtomicBool,
    pub(super) timer: Mutex<Option<JoinHandle<()>>>,
    /// The running shutdown's deadline; any caller may bring it forward.
    pub(super) shutdown_deadline: parking_lot::Mutex<Option<shutdown::ShutdownDeadline>>,
    /// What the shutdown left unfinished, for every caller.
    pub(super) leftovers: parking_lot::Mutex<shutdown::Leftovers>,
}

impl Pipeline {
    /// Starts building a pipeline programmatically.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// Emits one event, serialized to JSON exactly once.
    pub fn emit<T: serde::Serialize + ?Sized>(&self, event: &T) -> Result<(), EmitError> {
        self.append(0, |buf| {
            serde_json::to_writer(buf, event).map_err(EmitError::Serialize)
        })
    }

    /// Emits one event whose level is known: sinks whose `when` condition
    /// tests only `level` are answered from `level` without reading the
    /// record (so `level` must be what the event's own `level` field says;
    /// the `tracing` layer emits this way).
    pub fn emit_at<T: serde::Serialize + ?Sized>(
        &self,
        level: tracing::Level,
        event: &T,
    ) -> Result<(), EmitError> {
        self.append(crate::routing::level::tracing_rank(&level), |buf| {
            serde_json::to_writer(buf, event).map_err(EmitError::Serialize)
        })
    }

    /// Emits one event given as JSON bytes. The bytes must hold exactly one
    /// JSON value in UTF-8; they are copied as they are (line breaks between
    /// tokens become spaces, so a record stays on one line).
    pub fn emit_json(&self, json: &[u8]) -> Result<(), EmitError> {
        let json = checked_json(json)?;
        self.append(0, |buf| {
            append_one_line(buf, json);
            Ok(())
        })
    }

    /// As [`Pipeline::emit_json`], for a record whose level is known (as
    /// for [`Pipeline::emit_at`]: a `when` that tests only `level` is
    /// answered without reading the record): what a language binding uses,
    /// having written the record itself.
    pub fn emit_json_at(&self, level: tracing::Level, json: &[u8]) -> Result<(), EmitError> {
        let json = checked_json(json)?;
        self.append(crate::routing::level::tracing_rank(&level), |buf| {
            append_one_line(buf, json);
            Ok(())
        })
    }

    /// As [`Pipeline::emit_json`] (or [`Pipeline::emit_json_at`] with a
    /// level), for bytes the caller wrote itself as exactly one JSON value
    /// in UTF-8 without raw line breaks (a language binding's own
    /// serializer): copied without being checked again. Bytes that break
    /// that promise reach the sinks as they are.
    pub fn emit_written_json(
        &self,
        level: Option<tracing::Level>,
        json: &[u8],
    ) -> Result<(), EmitError> {
        let rank = level.map_or(0, |level| crate::routing::level::tracing_rank(&level));
        self.append(rank, |buf| {
            buf.extend_from_slice(json);
            Ok(())
        })
    }

    /// Emits `records` (each one JSON value, as for [`Pipeline::emit_json`])
    /// as a batch of their own carrying an acknowledgement, which resolves
    /// once every sink that takes them (after `when`, `route` and
    /// composites) has settled them: delivered, dead-lettered, dropped by
    /// its overflow policy, or written to its disk buffer (after a sync).
    /// What a source answers its client with: an HTTP 200 only once
    /// [`Acknowledgement::wait`] says the records are safe. Nothing is
    /// emitted if any record is not valid JSON. Waits, like `emit`, while a
    /// `block` queue is full.
    pub fn emit_acknowledged<I, R>(&self, records: I) -> Result<Acknowledgement, EmitError>
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        self.emit_with_acknowledgement(records, true, false)
    }

    /// As [`Pipeline::emit_acknowledged`], but never waits for room: when a
    /// sink's `block` queue is full, nothing is emitted and the answer is
    /// [`EmitError::Full`], so a source can tell its client to come back
    /// (an HTTP 503 with `Retry-After`) instead of holding it.
    pub fn try_emit_acknowledged<I, R>(&self, records: I) -> Result<Acknowledgement, EmitError>
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        self.emit_with_acknowledgement(records, false, false)
    }

    /// As [`Pipeline::try_emit_acknowledged`], for records the caller has
    /// already checked to be one JSON value each, in UTF-8 (a source that
    /// checked every record before answering its client): not checked
    /// again.
    pub(crate) fn try_emit_checked_acknowledged<I, R>(
        &self,
        records: I,
    ) -> Result<Acknowledgement, EmitError>
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        self.emit_with_acknowledgement(records, false, true)
    }

    fn emit_with_acknowledgement<I, R>(
        &self,
        records: I,
        may_wait: bool,
        checked: bool,
    ) -> Result<Acknowledgement, EmitError>
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for record in records {
            let record = record.as_ref();
            let json = if checked {
                record.trim_ascii()
            } else {
                checked_json(record)?
            };
            append_one_line(&mut buf, json);
            buf.push(b'\n');
            ends.push(u32::try_from(buf.len()).unwrap_or(u32::MAX));
        }
        let state = AckState::new();
        let count = u32::try_from(ends.len()).unwrap_or(u32::MAX);
        if count > 0 {
            let mut turn = self.inner.dispatch.lock();
            if self.inner.closed.load(Ordering::Acquire) {
                return Err(EmitError::Closed);
            }
            // Checked under the dispatch turn: only the worker can change
            // a queue from full to not full meanwhile, never the reverse.
            if !may_wait
                && let Some(full) = self.inner.lanes.load().iter().find(|l| l.would_block())
            {
                return Err(EmitError::Full(full.name().to_owned()));
            }
            let first = *turn;
            *turn += u64::from(count);
            let mut batch = Batch::new(bytes::Bytes::from(buf), count, first);
            if u32::try_from(batch.bytes().len()).is_ok() {
                batch = batch.with_ends(ends);
            }
            self.inner.dispatch(batch.with_ack(state.clone()), false);
        }
        // The emitter's own hold: every queue holds it by now.
        state.release(AckReport::default());
        Ok(Acknowledgement::new(state))
    }

    /// Emits one record the caller has already written as one line of valid
    /// JSON (the `tracing` layer), with its level rank (0: unknown).
    pub(crate) fn emit_rendered(&self, level: u8, json: &[u8]) -> Result<(), EmitError> {
        debug_assert!(serde_json::from_slice::<serde::de::IgnoredAny>(json).is_ok());
        debug_assert!(!json.contains(&b'\n'));
        self.append(level, |buf| {
            buf.extend_from_slice(json);
            Ok(())
        })
    }

    /// Appends one record; `level` is its level rank if known (0: not).
    fn append(
        &self,
        level: u8,
        serialize: impl FnOnce(&mut Vec<u8>) -> Result<(), EmitError>,
    ) -> Result<(), EmitError> {
        let mut open = self.inner.open.for_this_thread().lock();
        // Checked under the lock: shutdown closes the open batch under this
        // lock after setting `closed`, so no accepted event misses it.
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(EmitError::Closed);
        }
        let start = open.buf.len();
        // A panicking `Serialize` impl must not leave half a record behind
        // nor poison the batch for every other caller.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serialize(&mut open.buf))) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                open.buf.truncate(start);
                return Err(err);
            }
            Err(panic) => {
                open.buf.truncate(start);
                drop(open);
                std::panic::resume_unwind(panic);
            }
        }
        open.buf.push(b'\n');
        open.count += 1;
        let end = u32::try_from(open.buf.len()).unwrap_or(u32::MAX);
        open.ends.push(end);
        open.note_level(level);
        if open.count == 1 {
            open.opened_at = Instant::now();
            self.inner.timer_wake.batch_opened();
        }
        if open.is_full(&self.inner.options) {
            let hint = open.buf.len();
            // The turn is taken before the shard is let go, so this shard's
            // batches are numbered and queued in the order they closed.
            let mut turn = self.inner.dispatch.lock();
            let batch = open.close(&mut turn, hint);
            drop(open);
            if let Some(batch) = batch {
                self.inner.dispatch(batch, false);
            }
            drop(turn);
        }
        Ok(())
    }

    /// Waits until every sink has handed off everything emitted before this
    /// call, or until `timeout` passes; the report names the sinks that did not
    /// finish or failed.
    ///
    /// The deadline holds even while a producer waits on a sink's full
    /// `block` queue: the sinks behind it are reported as not finished and
    /// the open batch stays open (nothing is lost). After
    /// [`Pipeline::shutdown`] there is nothing left to flush and it returns
    /// at once.
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        if self.inner.closed.load(Ordering::Acquire) {
            return FlushReport::default();
        }
        let deadline = deadline_after(timeout);
        if !self.inner.close_open_batch_until(deadline) {
            let lanes = self.inner.lanes.load();
            let mut timed_out: Vec<String> = lanes
                .iter()
                .filter(|lane| lane.is_full())
                .map(|lane| lane.name().to_owned())
                .collect();
            if timed_out.is_empty() {
                timed_out = lanes.iter().map(|lane| lane.name().to_owned()).collect();
            }
            return FlushReport {
                timed_out,
                failed: Vec::new(),
            };
        }
        let tickets: Vec<_> = self
            .inner
            .lanes
            .load()
            .iter()
            .map(|lane| (lane.name().to_owned(), lane.request_flush(deadline)))
            .collect();
        let mut report = FlushReport::default();
        for (name, ticket) in tickets {
            match ticket.wait_until(deadline) {
                Some(Ok(())) => {}
                Some(Err(why)) => report.failed.push((name, why)),
                None => report.timed_out.push(name),
            }
        }
        report
    }

    /// Refuses further events, delivers everything queued, flushes and stops
    /// every sink, and returns the final counters. Waits as long as the
    /// sinks take; see [`Pipeline::shutdown_within`] for a deadline. Calling
    /// it again (from any thread) waits for the first call to end.
    pub fn shutdown(&self) -> Vec<SinkStats> {
        self.inner.shutdown();
        self.stats()
    }

    /// Like [`Pipeline::shutdown`], but returns by `timeout`: shortly
    /// before it, a sink still delivering stops retrying, and every batch
    /// it has not delivered is written to its dead-letter file (a
    /// disk-buffered sink leaves it in its buffer), so nothing accepted is
    /// lost without a trace. The report names those sinks. Called while
    /// another thread's shutdown runs, it brings that shutdown's deadline
    /// forward and returns when it ends.
    pub fn shutdown_within(&self, timeout: Duration) -> ShutdownReport {
        self.inner
            .shorten_shutdown(shutdown::ShutdownDeadline::after(Instant::now(), timeout));
        let leftovers = self.inner.shutdown();
        ShutdownReport {
            stats: self.stats(),
            unfinished: leftovers.unfinished,
            left_behind: leftovers.left_behind,
        }
    }

    /// Counters of every sink, in configuration order.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.inner
            .lanes
            .load()
            .iter()
            .map(|lane| lane.stats())
            .collect()
    }

    /// Every sink's counters and health in the Prometheus text format, as
    /// `sinkbox run --metrics-addr` serves them.
    pub fn prometheus_text(&self) -> String {
        prometheus::render(&self.stats(), &self.health())
    }

    /// The last known health of every sink, in configuration order.
    pub fn health(&self) -> Vec<(String, Health)> {
        self.inner
            .lanes
            .load()
            .iter()
            .map(|lane| (lane.name().to_owned(), lane.health()))
            .collect()
    }

    /// The names of the sinks, in configuration order.
    pub fn sink_names(&self) -> Vec<String> {
        self.inner
            .lanes
            .load()
            .iter()
            .map(|lane| lane.name().to_owned())
            .collect()
    }
}

/// What a reload needs of a running pipeline; the reload itself lives in
/// [`crate::reload`].
impl Pipeline {
    /// Taken by a configuration reload and by shutdown, so they take turns.
    pub(crate) fn reload_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.stopping.lock().unwrap()
    }

    /// Whether the pipeline was shut down.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// What the pipeline was built from.
    pub(crate) fn origin(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<Box<dyn std::any::Any + Send>>> {
        self.inner.origin.lock().unwrap()
    }

    /// The top-level sinks' lanes.
    pub(crate) fn lanes(&self) -> Arc<Vec<Arc<SinkLane>>> {
        self.inner.lanes.load_full()
    }

    /// Where dead letters go.
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }

    /// Replaces the set of top-level sinks: everything emitted before goes
    /// to the old set (the open batch is closed for it), everything after to
    /// the new one; no batch is split between them.
    pub(crate) fn replace_lanes(
        &self,
        next: Vec<Arc<SinkLane>>,
        routes: Option<Arc<RoutingTable>>,
    ) {
        // Every shard at once, so no event is accepted between the last
        // batch for the old set and the swap.
        let mut shards: Vec<_> = self.inner.open.iter().map(|shard| shard.lock()).collect();
        let mut turn = self.inner.dispatch.lock();
        for open in &mut shards {
            if let Some(batch) = open.close(&mut turn, 0) {
                self.inner.dispatch(batch, true);
            }
        }
        drop(shards);
        self.inner.lanes.store(Arc::new(next));
        self.inner.routes.store(routes);
    }
}

impl Inner {
    /// Pushes a closed batch to every queue. `force` ignores capacity (used by
    /// flush and shutdown, which must not wait behind a full queue).
    pub(super) fn dispatch(&self, batch: Batch, force: bool) {
        self.dispatched.fetch_add(1, Ordering::Relaxed);
        let routed = RoutedBatch::new(batch, self.routes.load_full());
        for lane in self.lanes.load().iter() {
            lane.push(routed.clone(), force);
        }
    }

    /// Closes every open batch and queues it for every sink.
    pub(super) fn close_open_batch(&self, force: bool) {
        for shard in self.open.iter() {
            self.close_shard(shard.lock(), force);
        }
    }

    /// Closes one shard's open batch (its lock held) and queues it. Takes
    /// the dispatch turn even for an empty shard, so whatever a producer is
    /// still pushing is queued before this returns (shutdown's `Stop` and
    /// flush tickets must come after it).
    pub(super) fn close_shard(
        &self,
        mut open: parking_lot::MutexGuard<'_, batcher::OpenBatch>,
        force: bool,
    ) {
        let mut turn = self.dispatch.lock();
        let batch = open.close(&mut turn, 0);
        drop(open);
        if let Some(batch) = batch {
            self.dispatch(batch, force);
        }
    }

    /// Closes every open batch and queues it for every sink, unless a
    /// producer holds the dispatch turn (waiting on a full queue) past
    /// `deadline`; then the batches left stay open and `false` says so.
    pub(super) fn close_open_batch_until(&self, deadline: Instant) -> bool {
        for shard in self.open.iter() {
            let mut open = shard.lock();
            let Some(mut turn) = self.dispatch.try_lock_until(deadline) else {
                return false;
            };
            let batch = open.close(&mut turn, 0);
            drop(open);
            if let Some(batch) = batch {
                self.dispatch(batch, true);
            }
        }
        true
    }
}

fn deadline_after(timeout: Duration) -> Instant {
    shutdown::instant_after(Instant::now(), timeout)
}

/// `json` trimmed, if it holds exactly one JSON value in UTF-8.
fn checked_json(json: &[u8]) -> Result<&[u8], EmitError> {
    let json = json.trim_ascii();
    let mut values =
        serde_json::Deserializer::from_slice(json).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => {}
        Some(Err(err)) => return Err(EmitError::InvalidJson(err)),
        None => {
            return Err(EmitError::InvalidJson(serde::de::Error::custom(
                "empty input; expected one JSON value",
            )));
        }
    }
    if values.byte_offset() != json.len() {
        return Err(EmitError::InvalidJson(serde::de::Error::custom(format!(
            "trailing characters after the JSON value at byte {}",
            values.byte_offset()
        ))));
    }
    // serde_json skips strings without checking their UTF-8. The SIMD
    // check first; the standard one only to say where the bad byte is.
    if simdutf8::basic::from_utf8(json).is_err()
        && let Err(err) = std::str::from_utf8(json)
    {
        return Err(EmitError::InvalidJson(serde::de::Error::custom(format!(
            "invalid UTF-8 at byte {}",
            err.valid_up_to()
        ))));
    }
    Ok(json)
}

/// Appends checked `json` on one line (without the newline).
fn append_one_line(buf: &mut Vec<u8>, json: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(json);
    // In valid JSON a raw CR or LF can only be whitespace between tokens,
    // so a space keeps the value and the one-line framing.
    for byte in &mut buf[start..] {
        if *byte == b'\n' || *byte == b'\r' {
            *byte = b' ';
        }
    }
}
