//! `sinkbox.Pipeline`: a pipeline built from a configuration file, TOML
//! text or sink URIs, exactly as `sinkbox run` builds one, with `emit`,
//! `flush`, `shutdown` and `stats`. Records are written as JSON in Rust;
//! the GIL is released while the runtime takes them (a `block` queue may
//! make an emit wait) and while it flushes or shuts down.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::errors::emit_error;
use crate::log_record::write_log_record;
use crate::made_pipeline::{Made, Recipe};
use crate::python_json::write_dict;
use crate::python_text::utf8;

/// A running pipeline and its sinks.
#[pyclass(module = "sinkbox._sinkbox", frozen)]
pub struct Pipeline {
    /// How it was made, so a forked child can make its own.
    recipe: Recipe,
    /// The pipeline made where the constructor ran.
    first: Arc<Made>,
    /// The one a forked child made at its first use (see `current`).
    forked: Mutex<Option<Arc<Made>>>,
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
    fn made(recipe: Recipe) -> PyResult<Self> {
        Ok(Self {
            first: recipe.build()?,
            recipe,
            forked: Mutex::new(None),
        })
    }

    /// The pipeline this process uses. In a process forked after the
    /// pipeline was made, none of its threads exist (and a lock one held at
    /// the fork would never be released), so the child makes its own from
    /// the same configuration at its first use; the parent's records stay
    /// the parent's to deliver. Made while holding the GIL, which
    /// `os.fork()` also holds, so a fork never copies a half-made one.
    fn current(&self) -> PyResult<Arc<Made>> {
        if self.first.is_here() {
            return Ok(Arc::clone(&self.first));
        }
        let mut forked = self.forked.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(made) = forked.as_ref().filter(|made| made.is_here()) {
            return Ok(Arc::clone(made));
        }
        let made = self.recipe.build()?;
        // A pipeline from an earlier generation belongs to another process:
        // `Made`'s drop leaves it alone.
        *forked = Some(Arc::clone(&made));
        Ok(made)
    }

    /// The pipeline this process made, if it made one: what `flush` and
    /// `shutdown` act on (a forked child that never emitted has nothing to
    /// deliver).
    fn made_here(&self) -> Option<Arc<Made>> {
        if self.first.is_here() {
            return Some(Arc::clone(&self.first));
        }
        let forked = self.forked.lock().unwrap_or_else(|e| e.into_inner());
        forked.as_ref().filter(|made| made.is_here()).cloned()
    }

    /// Hands a record this module wrote to the runtime.
    fn take_written(
        &self,
        py: Python<'_>,
        json: Vec<u8>,
        level: Option<tracing::Level>,
    ) -> PyResult<()> {
        if self.first.is_here() {
            let pipeline = self.first.pipeline();
            return py
                .detach(|| pipeline.emit_written_json(level, &json))
                .map_err(emit_error);
        }
        let made = self.current()?;
        py.detach(|| made.pipeline().emit_written_json(level, &json))
            .map_err(emit_error)
    }

    /// Hands a record to the runtime, written here or given as JSON text
    /// (checked).
    fn take(&self, py: Python<'_>, record: Record, level: Option<tracing::Level>) -> PyResult<()> {
        match record {
            Record::Written(json) => self.take_written(py, json, level),
            Record::Given(json) => {
                let made = self.current()?;
                py.detach(|| match level {
                    Some(level) => made.pipeline().emit_json_at(level, &json),
                    None => made.pipeline().emit_json(&json),
                })
                .map_err(emit_error)
            }
        }
    }

    fn record(record: &Bound<'_, PyAny>) -> PyResult<Record> {
        if let Ok(dict) = record.cast::<PyDict>() {
            let mut out = Vec::with_capacity(256);
            write_dict(dict, &mut out, 0)?;
            return Ok(Record::Written(out));
        }
        if let Ok(text) = record.cast::<PyString>() {
            return Ok(Record::Given(utf8(text)?.as_bytes().to_vec()));
        }
        if let Ok(bytes) = record.cast::<PyBytes>() {
            return Ok(Record::Given(bytes.as_bytes().to_vec()));
        }
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "a record is a dict, a str holding one JSON document, or bytes; got {}",
            record.get_type().name()?
        )))
    }
}

/// A record on its way to the runtime.
enum Record {
    /// JSON this module wrote (valid by construction).
    Written(Vec<u8>),
    /// JSON text the caller gave, checked by the runtime.
    Given(Vec<u8>),
}

#[pymethods]
impl Pipeline {
    /// A pipeline with the sinks these URIs name (`file:///var/log/app.ndjson`,
    /// `stdout://`, …), as `sinkbox run --sink` reads them.
    #[new]
    #[pyo3(signature = (sinks))]
    fn new(sinks: Vec<String>) -> PyResult<Self> {
        Self::made(Recipe::Uris(sinks))
    }

    /// A pipeline from a `sinkbox.toml` file (relative paths in it resolve
    /// against its directory).
    #[staticmethod]
    fn from_config(path: PathBuf) -> PyResult<Self> {
        Self::made(Recipe::File(path))
    }

    /// A pipeline from configuration text; relative paths resolve against
    /// `base_dir` (default: the working directory).
    #[staticmethod]
    #[pyo3(signature = (text, base_dir = None))]
    fn from_toml(text: &str, base_dir: Option<PathBuf>) -> PyResult<Self> {
        Self::made(Recipe::Toml {
            text: text.to_owned(),
            base: base_dir.unwrap_or_else(|| PathBuf::from(".")),
        })
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
        self.take(py, Self::record(record)?, level)
    }

    /// Emits every record of an iterable; the number emitted.
    fn emit_many(&self, py: Python<'_>, records: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut count = 0;
        for record in records.try_iter()? {
            self.take(py, Self::record(&record?)?, None)?;
            count += 1;
        }
        Ok(count)
    }

    /// Emits a `logging.LogRecord` (what `SinkboxHandler` calls).
    fn emit_log_record(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let (json, level) = write_log_record(record)?;
        self.take_written(py, json, Some(level))
    }

    /// Delivers everything emitted so far; the names of the sinks that had
    /// not finished when `timeout` (seconds) passed. In a forked child it
    /// acts on the child's own pipeline (the parent delivers its records).
    #[pyo3(signature = (timeout = 30.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> Vec<String> {
        let Some(made) = self.made_here() else {
            return Vec::new();
        };
        let report = py.detach(|| made.pipeline().flush(crate::seconds::timeout(timeout)));
        report
            .timed_out
            .into_iter()
            .chain(report.failed.into_iter().map(|(name, _)| name))
            .collect()
    }

    /// Delivers what is queued and stops every sink, waiting at most
    /// `timeout` seconds; the names of the sinks that had not finished
    /// (what they held went to their dead letters or disk buffers). In a
    /// forked child it shuts down the child's own pipeline, if the child
    /// used one, and never touches the parent's.
    #[pyo3(signature = (timeout = 30.0))]
    fn shutdown(&self, py: Python<'_>, timeout: f64) -> Vec<String> {
        let Some(made) = self.made_here() else {
            return Vec::new();
        };
        py.detach(|| {
            made.pipeline()
                .shutdown_within(crate::seconds::timeout(timeout))
        })
        .unfinished
    }

    /// Every sink's counters, as a list of dicts (in a forked child, the
    /// child's own pipeline's).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let made = self.current()?;
        let text = serde_json::to_string(&made.pipeline().stats())
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// `with Pipeline(...) as pipeline:` shuts it down when the block ends.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Shuts the pipeline down (waiting at most 30 seconds); an exception
    /// from the block goes on.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.shutdown(py, 30.0);
        false
    }

    /// The names of the sinks the pipeline feeds.
    fn sink_names(&self) -> Vec<String> {
        self.first.pipeline().sink_names()
    }
}
