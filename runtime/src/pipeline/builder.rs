//! [`PipelineBuilder`]: sinks, batching and the data dir of a pipeline built
//! in code, and starting it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};

use super::batch_timer::{self, TimerWake};
use super::handle::{Handle, Inner};
use super::open_batches::OpenBatches;
use super::{BatchOptions, Pipeline, PipelineError, SinkLane, SinkSpec};
use crate::routing::RoutingTable;
use crate::sink::Sink;

/// Where dead letters go unless told otherwise, relative to the working
/// directory (or to the config file, for a configured pipeline).
pub const DEFAULT_DATA_DIR: &str = "sinkbox-data";

/// Builds a [`Pipeline`] programmatically.
pub struct PipelineBuilder {
    batch: BatchOptions,
    flush_interval: Duration,
    data_dir: Option<PathBuf>,
    sinks: Vec<SinkSpec>,
    origin: Option<Box<dyn std::any::Any + Send>>,
}

/// How often a pipeline flushes its sinks while records flow, unless told
/// otherwise (like Fluent Bit's `Flush`).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

impl Default for PipelineBuilder {
    fn default() -> Self {
        Self {
            batch: BatchOptions::default(),
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            data_dir: None,
            sinks: Vec::new(),
            origin: None,
        }
    }
}

impl PipelineBuilder {
    /// Sets how often, while records flow, every sink is asked to flush
    /// what it accepted (default 1 s; zero: only on [`Pipeline::flush`] and
    /// at shutdown). The open batch is closed first, so no record waits
    /// longer than this in the pipeline or a sink's buffers.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Sets when batches close.
    pub fn batch(mut self, batch: BatchOptions) -> Self {
        self.batch = batch;
        self
    }

    /// Sets the directory for dead-letter files (default `sinkbox-data`).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Remembers what the sinks were built from (a configuration, its
    /// engine and budgets), for a configuration reload to compare with. The
    /// pipeline keeps it without looking into it.
    pub(crate) fn origin(mut self, origin: Box<dyn std::any::Any + Send>) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Adds a sink with default queue and retry settings.
    pub fn sink(self, name: impl Into<String>, sink: impl Sink + 'static) -> Self {
        self.sink_spec(SinkSpec::new(name, sink))
    }

    /// Adds a sink with its own queue and retry settings.
    pub fn sink_spec(mut self, spec: SinkSpec) -> Self {
        self.sinks.push(spec);
        self
    }

    /// Starts every sink on its own worker and returns the running pipeline.
    /// Fails, stopping the sinks already started, if a name repeats or a sink
    /// cannot start.
    pub fn build(self) -> Result<Pipeline, PipelineError> {
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let mut seen = std::collections::HashSet::new();
        for spec in &self.sinks {
            if let Err(why) = crate::sink_name::check_sink_name(&spec.name) {
                return Err(PipelineError::InvalidName(why));
            }
            if !seen.insert(spec.name.clone()) {
                return Err(PipelineError::DuplicateSink(spec.name.clone()));
            }
        }
        let routes = RoutingTable::from_lanes(
            self.sinks
                .iter()
                .map(|spec| (spec.name.as_str(), spec.settings.when.as_ref())),
        );
        let mut lanes: Vec<Arc<SinkLane>> = Vec::new();
        for spec in self.sinks {
            match SinkLane::spawn(&spec.name, spec.sink, &spec.settings, None, &data_dir) {
                Ok(lane) => lanes.push(Arc::new(lane)),
                Err(message) => {
                    for lane in &lanes {
                        lane.request_stop();
                        lane.join();
                    }
                    return Err(PipelineError::SinkStart {
                        sink: spec.name,
                        message,
                    });
                }
            }
        }
        let inner = Arc::new(Inner {
            open: OpenBatches::new(),
            timer_wake: TimerWake::default(),
            dispatch: parking_lot::Mutex::new(0),
            options: self.batch,
            flush_interval: self.flush_interval,
            dispatched: AtomicU64::new(0),
            lanes: ArcSwap::from_pointee(lanes),
            routes: ArcSwapOption::new(routes),
            stopping: Mutex::new(()),
            origin: Mutex::new(self.origin),
            data_dir,
            closed: AtomicBool::new(false),
            timer: Mutex::new(None),
            shutdown_deadline: parking_lot::Mutex::new(None),
            leftovers: parking_lot::Mutex::new(Default::default()),
        });
        let timer_inner = inner.clone();
        let timer = std::thread::Builder::new()
            .name("sinkbox-batch-timer".into())
            .spawn(move || batch_timer::run(&timer_inner))
            .map_err(|err| PipelineError::Thread(err.to_string()))?;
        inner.timer_wake.set_thread(timer.thread().clone());
        *inner.timer.lock().unwrap() = Some(timer);
        Ok(Pipeline {
            inner: Arc::new(Handle(inner)),
        })
    }
}
