//! A `tracing` layer that turns an application's `tracing` events into
//! sinkbox records.

mod record_writer;
mod timestamp;

use std::cell::RefCell;
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::pipeline::Pipeline;
use record_writer::{RecordWriter, write_json_str};

thread_local! {
    /// Each thread's record buffer and `Debug` scratch, reused by every event.
    static BUFFERS: RefCell<(Vec<u8>, String)> = const { RefCell::new((Vec::new(), String::new())) };
}

/// Buffers grown past this by one huge event are given back afterwards.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Emits every `tracing` event as one record:
/// `{"timestamp":"…","level":"info","target":"app::db","message":"…",<fields>}`.
///
/// Only events at `info` or more severe are kept unless
/// [`SinkboxLayer::with_min_level`] says otherwise. Events from sinkbox itself
/// (targets starting with `sinkbox`) and every event raised on a sinkbox
/// thread (a sink's worker, the batch timer) are skipped, so the pipeline
/// never feeds on its own diagnostics nor waits on its own queue.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
/// # let pipeline: sinkbox::Pipeline = todo!();
/// tracing_subscriber::registry().with(sinkbox::SinkboxLayer::new(pipeline)).init();
/// tracing::info!(user = "ada", "logged in");
/// ```
pub struct SinkboxLayer {
    pipeline: Pipeline,
    min_level: Level,
}

impl SinkboxLayer {
    /// A layer that emits `info`, `warn` and `error` events into `pipeline`.
    pub fn new(pipeline: Pipeline) -> Self {
        Self {
            pipeline,
            min_level: Level::INFO,
        }
    }

    /// Keeps events at `level` or more severe (`Level::TRACE` keeps all).
    pub fn with_min_level(mut self, level: Level) -> Self {
        self.min_level = level;
        self
    }
}

thread_local! {
    /// Whether this thread is one of sinkbox's own (names never change).
    static ON_SINKBOX_THREAD: bool = std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with("sinkbox-"));
}

fn on_sinkbox_thread() -> bool {
    ON_SINKBOX_THREAD.with(|on| *on)
}

impl<S: Subscriber> Layer<S> for SinkboxLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // In tracing, more verbose levels compare greater.
        if *meta.level() > self.min_level
            || meta.target().starts_with("sinkbox")
            || on_sinkbox_thread()
        {
            return;
        }
        let rank = crate::routing::level::tracing_rank(meta.level());
        if record_writer::callsite_needs_map(meta) {
            // A closed pipeline refuses events; a logging layer must not fail the caller.
            let _ = self.pipeline.emit_at(*meta.level(), &map_record(event));
            return;
        }
        let emit = |out: &mut Vec<u8>, scratch: &mut String| {
            write_record(event, out, scratch);
            let _ = self.pipeline.emit_rendered(rank, out);
        };
        // `try_with`: an event logged while the thread's locals are torn
        // down (from another local's `Drop`) must not panic the caller.
        let used_buffers = BUFFERS.try_with(|buffers| match buffers.try_borrow_mut() {
            Ok(mut buffers) => {
                let (out, scratch) = &mut *buffers;
                emit(out, scratch);
                if out.capacity() > KEEP_CAPACITY {
                    *out = Vec::new();
                }
                if scratch.capacity() > KEEP_CAPACITY {
                    *scratch = String::new();
                }
            }
            // An event raised while this thread renders another (a field's
            // `Debug` that logs) gets buffers of its own.
            Err(_) => emit(&mut Vec::new(), &mut String::new()),
        });
        if used_buffers.is_err() {
            emit(&mut Vec::new(), &mut String::new());
        }
    }
}

/// The record as `{"timestamp","level","target",<fields>}`, written into
/// `out` (cleared first).
fn write_record(event: &Event<'_>, out: &mut Vec<u8>, scratch: &mut String) {
    let meta = event.metadata();
    out.clear();
    out.extend_from_slice(b"{\"timestamp\":");
    timestamp::write_quoted_rfc3339_micros(out, SystemTime::now());
    out.extend_from_slice(b",\"level\":\"");
    out.extend_from_slice(level_text(meta.level()).as_bytes());
    out.extend_from_slice(b"\",\"target\":");
    write_json_str(out, meta.target());
    event.record(&mut RecordWriter {
        out: &mut *out,
        scratch,
    });
    out.push(b'}');
}

fn level_text(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// The record built as a map, for events whose fields repeat a name or
/// reuse one of the layer's own keys: a later value replaces an earlier one
/// in place, and the event's own level always wins.
fn map_record(event: &Event<'_>) -> Map<String, Value> {
    let meta = event.metadata();
    let mut record = Map::new();
    record.insert(
        "timestamp".into(),
        Value::String(humantime::format_rfc3339_micros(SystemTime::now()).to_string()),
    );
    record.insert(
        "level".into(),
        Value::String(level_text(meta.level()).into()),
    );
    record.insert("target".into(), Value::String(meta.target().to_owned()));
    event.record(&mut JsonVisitor(&mut record));
    record.insert(
        "level".into(),
        Value::String(level_text(meta.level()).into()),
    );
    record
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::record_writer::needs_map;
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::prelude::*;

    /// Renders every event both ways, for the test to compare.
    #[derive(Clone, Default)]
    struct BothWays(Arc<Mutex<Vec<(String, Value, bool)>>>);

    impl<S: Subscriber> Layer<S> for BothWays {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let mut out = Vec::new();
            write_record(event, &mut out, &mut String::new());
            let mut map = map_record(event);
            map.insert("timestamp".into(), Value::String("T".into()));
            self.0.lock().unwrap().push((
                String::from_utf8(out).unwrap(),
                Value::Object(map),
                needs_map(event.metadata().fields()),
            ));
        }
    }

    #[derive(Debug)]
    struct Odd {
        #[allow(dead_code)]
        text: &'static str,
    }

    #[test]
    fn the_direct_record_is_the_map_record_byte_for_byte() {
        let seen = BothWays::default();
        let subscriber = tracing_subscriber::registry().with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                user = "ada \"the\" \\ first\n\u{1}\u{7f}é☃",
                n = -3i64,
                "logged in"
            );
            tracing::warn!(
                big = u64::MAX,
                ratio = 0.1f64,
                nan = f64::NAN,
                inf = f64::INFINITY,
                ok = true,
                "m"
            );
            tracing::error!(odd = ?Odd { text: "a\tb" }, wide = 1u128 << 100, shown = %"x\ny");
            tracing::info!(target: "t\"arget", "weird target");
            tracing::info!(message = "explicit", x = 1);
            tracing::info!(target = "overrides", "own key as a field");
            tracing::info!(a = 1, a = 2, "repeated field");
            tracing::info!(level = "debug", "level field");
        });
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen.len(), 8);
        for (direct, map, needs) in seen.iter() {
            if *needs {
                continue;
            }
            // Same keys in the same order, same values, same escapes.
            let timestamp_end = direct.find(",\"level\"").unwrap();
            let direct_rest = &direct[timestamp_end..];
            let map_text = serde_json::to_string(map).unwrap();
            assert_eq!(
                direct_rest,
                &map_text["{\"timestamp\":\"T\"".len()..],
                "{direct}"
            );
            let parsed: Value = serde_json::from_str(direct).unwrap();
            assert!(parsed["timestamp"].as_str().unwrap().ends_with('Z'));
        }
        assert_eq!(seen.iter().filter(|(_, _, needs)| *needs).count(), 3);
    }
}
