//! A runtime pipeline as this process made it: what it was built from (so
//! a forked child can build its own), the process generation that owns it,
//! and the list of live pipelines that interpreter exit shuts down.

use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use pyo3::prelude::*;

use crate::errors::ConfigError;
use crate::fork;

/// What a pipeline was built from.
pub enum Recipe {
    /// Sink URIs, as `sinkbox run --sink` reads them.
    Uris(Vec<String>),
    /// A `sinkbox.toml` file.
    File(PathBuf),
    /// Configuration text, its relative paths resolving against `base`.
    Toml { text: String, base: PathBuf },
}

impl Recipe {
    /// Builds the pipeline, as `sinkbox run` would; a configuration error
    /// carries the CLI's message.
    pub fn build(&self) -> PyResult<Arc<Made>> {
        let registry = sinkbox::registry::SinkRegistry::builtin();
        let loader = sinkbox::config::ConfigLoader::new(&registry);
        let loader = match self {
            Recipe::Uris(uris) => uris
                .iter()
                .fold(loader, |loader, uri| loader.cli_sink(uri.clone())),
            Recipe::File(path) => loader.file(path.clone()),
            Recipe::Toml { text, base } => loader.toml(text, "<toml>", base),
        };
        let config = loader
            .load()
            .map_err(|err| ConfigError::new_err(err.to_string()))?;
        let pipeline = sinkbox::config::build_pipeline(&config)
            .map_err(|err| ConfigError::new_err(format!("{err:#}")))?;
        Ok(Made::new(pipeline))
    }
}

/// A runtime pipeline and the process generation that made it.
pub struct Made {
    /// Dropped only in the process that made it: after `os.fork()` the
    /// child has none of its threads, and its locks may have been held at
    /// the fork, so the child leaves it alone.
    pipeline: ManuallyDrop<sinkbox::Pipeline>,
    generation: u64,
}

/// Every pipeline made in this process, for `shutdown_all` at exit.
/// Locked only while holding the GIL, which `os.fork()` holds too, so a
/// child never inherits it locked.
static LIVE: Mutex<Vec<Weak<Made>>> = Mutex::new(Vec::new());

impl Made {
    fn new(pipeline: sinkbox::Pipeline) -> Arc<Self> {
        let made = Arc::new(Self {
            pipeline: ManuallyDrop::new(pipeline),
            generation: fork::generation(),
        });
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|weak| weak.strong_count() > 0);
        live.push(Arc::downgrade(&made));
        made
    }

    /// The runtime pipeline.
    pub fn pipeline(&self) -> &sinkbox::Pipeline {
        &self.pipeline
    }

    /// Whether this process made it (it was not inherited through a fork).
    pub fn is_here(&self) -> bool {
        self.generation == fork::generation()
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        if self.is_here() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.pipeline) };
        }
    }
}

/// Shuts down every pipeline this process made and has not shut down,
/// all within `timeout` seconds together; the names of the sinks that had
/// not finished. What interpreter exit (and a `multiprocessing` child's
/// exit) calls, so records emitted just before the end are delivered.
#[pyfunction]
#[pyo3(signature = (timeout = 30.0))]
pub fn shutdown_all(py: Python<'_>, timeout: f64) -> Vec<String> {
    let here: Vec<Arc<Made>> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|made| made.is_here())
        .collect();
    let deadline = Instant::now() + crate::seconds::timeout(timeout);
    py.detach(|| {
        here.iter()
            .flat_map(|made| {
                let left = deadline.saturating_duration_since(Instant::now());
                made.pipeline.shutdown_within(left).unfinished
            })
            .collect()
    })
}
