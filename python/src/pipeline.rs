//! `sinkbox.Pipeline`: a pipeline built from a configuration file, TOML
//! text or sink URIs, exactly as `sinkbox run` builds one, with `emit`,
//! `flush`, `shutdown` and `stats`. Records are written as JSON in Rust;
//! the GIL is released while the runtime takes them (a `block` queue may
//! make an emit wait) and while it flushes or shuts down.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::errors::{ConfigError, emit_error};
use crate::log_record::write_log_record;
use crate::python_json::write_value;

/// A running pipeline and its sinks.
#[pyclass(module = "sinkbox._sinkbox", frozen)]
pub struct Pipeline {
    /// Dropped only in the process that made it: after `os.fork()` the
    /// child has none of its threads, and its locks may have been held at
    /// the fork, so the child must not touch it (see `check_process`).
    inner: std::mem::ManuallyDrop<sinkbox::Pipeline>,
    /// The process that made it.
    pid: u32,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if std::process::id() == self.pid {
            // SAFETY: dropped once, here, and never used again.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.inner) };
        }
    }
}

fn build(loader: sinkbox::config::ConfigLoader<'_>) -> PyResult<sinkbox::Pipeline> {
    let config = loader
        .load()
        .map_err(|err| ConfigError::new_err(err.to_string()))?;
    sinkbox::config::build_pipeline(&config).map_err(|err| ConfigError::new_err(format!("{err:#}")))
}

/// The `tracing` level of a `logging` level number.
pub fn level_of_number(number: i64) -> tracing::Level {
    match number {
        n if n >= 40 => tracing::Level::ERROR,
        n if n >= 30 => tracing::Level::WARN,
        n if n >= 20 => tracing::Level::INFO,
        n if n >= 10 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    }
}

/// The `tracing` level a Python level stands for: a `logging` number
/// (10 debug, 20 info, 30 warning, 40 error and above) or a name.
fn level_of(level: &Bound<'_, PyAny>) -> PyResult<tracing::Level> {
    if let Ok(number) = level.extract::<i64>() {
        return Ok(level_of_number(number));
    }
    let name: String = level.extract()?;
    Ok(match name.to_ascii_lowercase().as_str() {
        "critical" | "fatal" | "error" => tracing::Level::ERROR,
        "warning" | "warn" => tracing::Level::WARN,
        "info" => tracing::Level::INFO,
        "debug" => tracing::Level::DEBUG,
        "trace" | "notset" => tracing::Level::TRACE,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "`{other}` is not a level; use a logging level number or debug, info, warning, error, critical"
            )));
        }
    })
}

impl Pipeline {
    fn made(inner: sinkbox::Pipeline) -> Self {
        Self {
            inner: std::mem::ManuallyDrop::new(inner),
            pid: std::process::id(),
        }
    }

    /// Refuses use from a process forked after the pipeline was made: its
    /// worker threads stayed in the parent, and a lock one of them held at
    /// the fork would never be released in the child.
    fn check_process(&self) -> PyResult<()> {
        if std::process::id() == self.pid {
            return Ok(());
        }
        Err(crate::errors::EmitError::new_err(format!(
            "this pipeline was made in process {} and this process was forked from it; make a new pipeline in the child (gunicorn: in post_fork; multiprocessing: in the worker, or use the spawn start method)",
            self.pid
        )))
    }

    fn take(&self, py: Python<'_>, json: Vec<u8>, level: Option<tracing::Level>) -> PyResult<()> {
        self.check_process()?;
        let inner = &*self.inner;
        py.detach(|| match level {
            Some(level) => inner.emit_json_at(level, &json),
            None => inner.emit_json(&json),
        })
        .map_err(emit_error)
    }

    fn record_bytes(record: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        if let Ok(text) = record.cast::<PyString>() {
            return Ok(text.to_cow()?.as_bytes().to_vec());
        }
        if let Ok(bytes) = record.cast::<PyBytes>() {
            return Ok(bytes.as_bytes().to_vec());
        }
        if record.cast::<PyDict>().is_err() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "a record is a dict, a str holding one JSON document, or bytes; got {}",
                record.get_type().name()?
            )));
        }
        let mut out = Vec::with_capacity(256);
        write_value(record, &mut out, 0)?;
        Ok(out)
    }
}

#[pymethods]
impl Pipeline {
    /// A pipeline with the sinks these URIs name (`file:///var/log/app.ndjson`,
    /// `stdout://`, …), as `sinkbox run --sink` reads them.
    #[new]
    #[pyo3(signature = (sinks))]
    fn new(sinks: Vec<String>) -> PyResult<Self> {
        let registry = sinkbox::registry::SinkRegistry::builtin();
        let mut loader = sinkbox::config::ConfigLoader::new(&registry);
        for uri in sinks {
            loader = loader.cli_sink(uri);
        }
        Ok(Self::made(build(loader)?))
    }

    /// A pipeline from a `sinkbox.toml` file (relative paths in it resolve
    /// against its directory).
    #[staticmethod]
    fn from_config(path: PathBuf) -> PyResult<Self> {
        let registry = sinkbox::registry::SinkRegistry::builtin();
        Ok(Self::made(build(
            sinkbox::config::ConfigLoader::new(&registry).file(path),
        )?))
    }

    /// A pipeline from configuration text; relative paths resolve against
    /// `base_dir` (default: the working directory).
    #[staticmethod]
    #[pyo3(signature = (text, base_dir = None))]
    fn from_toml(text: &str, base_dir: Option<PathBuf>) -> PyResult<Self> {
        let registry = sinkbox::registry::SinkRegistry::builtin();
        let base = base_dir.unwrap_or_else(|| PathBuf::from("."));
        Ok(Self::made(build(
            sinkbox::config::ConfigLoader::new(&registry).toml(text, "<toml>", &base),
        )?))
    }

    /// Emits one record: a dict (written as JSON in Rust), a str holding
    /// one JSON document, or bytes of one. With `level` (a `logging` level
    /// or its name), `when` conditions on `level` need not read it.
    #[pyo3(signature = (record, level = None))]
    fn emit(
        &self,
        py: Python<'_>,
        record: &Bound<'_, PyAny>,
        level: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let level = level.map(level_of).transpose()?;
        let json = Self::record_bytes(record)?;
        self.take(py, json, level)
    }

    /// Emits every record of an iterable; the number emitted.
    fn emit_many(&self, py: Python<'_>, records: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut count = 0;
        for record in records.try_iter()? {
            let json = Self::record_bytes(&record?)?;
            self.take(py, json, None)?;
            count += 1;
        }
        Ok(count)
    }

    /// Emits a `logging.LogRecord` (what `SinkboxHandler` calls).
    fn emit_log_record(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let (json, level) = write_log_record(record)?;
        self.take(py, json, Some(level))
    }

    /// Delivers everything emitted so far; the names of the sinks that had
    /// not finished when `timeout` (seconds) passed.
    #[pyo3(signature = (timeout = 30.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<Vec<String>> {
        self.check_process()?;
        let inner = &*self.inner;
        let report = py.detach(|| inner.flush(Duration::from_secs_f64(timeout.max(0.0))));
        Ok(report
            .timed_out
            .into_iter()
            .chain(report.failed.into_iter().map(|(name, _)| name))
            .collect())
    }

    /// Delivers what is queued and stops every sink, waiting at most
    /// `timeout` seconds; the names of the sinks that had not finished
    /// (what they held went to their dead letters or disk buffers). In a
    /// process forked from the one that made the pipeline it does nothing
    /// (the parent delivers its own records) and returns no names, so an
    /// exit handler in a forked worker never hangs.
    #[pyo3(signature = (timeout = 30.0))]
    fn shutdown(&self, py: Python<'_>, timeout: f64) -> Vec<String> {
        if self.check_process().is_err() {
            return Vec::new();
        }
        let inner = &*self.inner;
        py.detach(|| inner.shutdown_within(Duration::from_secs_f64(timeout.max(0.0))))
            .unfinished
    }

    /// Every sink's counters, as a list of dicts.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.check_process()?;
        let text = serde_json::to_string(&self.inner.stats())
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// The names of the sinks the pipeline feeds.
    fn sink_names(&self) -> Vec<String> {
        self.inner.sink_names()
    }
}
