//! A `tracing` layer that turns an application's `tracing` events into
//! sinkbox records.

use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::pipeline::Pipeline;

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

fn on_sinkbox_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with("sinkbox-"))
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
        let mut record = Map::new();
        record.insert(
            "timestamp".into(),
            Value::String(humantime::format_rfc3339_micros(SystemTime::now()).to_string()),
        );
        record.insert(
            "level".into(),
            Value::String(meta.level().as_str().to_ascii_lowercase()),
        );
        record.insert("target".into(), Value::String(meta.target().to_owned()));
        event.record(&mut JsonVisitor(&mut record));
        // An event field named `level` must not contradict the level the
        // record is routed by: the event's own level wins (in place).
        record.insert(
            "level".into(),
            Value::String(meta.level().as_str().to_ascii_lowercase()),
        );
        // A closed pipeline refuses events; a logging layer must not fail the caller.
        let _ = self.pipeline.emit_at(*meta.level(), &record);
    }
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
