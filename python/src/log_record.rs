//! A `logging.LogRecord` as a record, written in Rust: the time (RFC 3339,
//! UTC), `level`, `logger`, `message` (formatted with its args), where it
//! was logged, the thread and process, every `extra=` field, and the
//! exception and stack when there are any. The level travels beside the
//! record, so `when = 'level >= "warn"'` reads nothing.

use std::io::Write;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFrozenSet, PyString, PyType};

use crate::python_json::{write_json, write_key, write_value};
use crate::python_text::utf8;

/// The attributes every `LogRecord` has; any other attribute came from
/// `extra=` and is written as a field of its own.
const STANDARD: &[&str] = &[
    "name",
    "msg",
    "args",
    "levelname",
    "levelno",
    "pathname",
    "filename",
    "module",
    "exc_info",
    "exc_text",
    "stack_info",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "processName",
    "process",
    "taskName",
    "message",
    "asctime",
];

static STANDARD_SET: PyOnceLock<Py<PyFrozenSet>> = PyOnceLock::new();
/// The attribute names a new `LogRecord` has, in the order its
/// constructor sets them (this Python's own): a record's `__dict__` starts
/// with them, extras follow, so most keys are told standard by identity.
static CONSTRUCTED_ORDER: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();
static LOG_RECORD_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A record's attributes, read from its `__dict__` (one hash lookup each
/// with interned names: the handler's main cost per call), falling back to
/// `getattr` for a record class that computes one.
struct Attributes<'a, 'py> {
    record: &'a Bound<'py, PyAny>,
    dict: Bound<'py, PyDict>,
}

impl<'py> Attributes<'_, 'py> {
    fn get(&self, name: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let Some(value) = self.dict.get_item(name)? {
            return Ok(Some(value));
        }
        Ok(self.record.getattr(name).ok())
    }

    /// The attribute when it is set and not `None`.
    fn present(&self, name: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.get(name)?.filter(|value| !value.is_none()))
    }
}

/// Writes `,"key":` before a field.
fn field(out: &mut Vec<u8>, key: &str) {
    out.push(b',');
    write_json(out, key);
    out.push(b':');
}

/// Writes a value as a JSON string: a `str` as itself, anything else as
/// its `str()`.
fn write_text(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    match value.cast::<PyString>() {
        Ok(text) => write_json(out, utf8(text)?),
        Err(_) => write_json(out, utf8(&value.str()?)?),
    }
    Ok(())
}

/// `record.getMessage()`: for a plain `LogRecord` done here (`str(msg)`,
/// then `% args` when there are args) without a Python call; a subclass's
/// own `getMessage` is called.
fn message<'py>(
    record: &Bound<'py, PyAny>,
    attributes: &Attributes<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = record.py();
    let plain = LOG_RECORD_TYPE.import(py, "logging", "LogRecord")?;
    if !record.get_type().is(plain) {
        return record.call_method0(intern!(py, "getMessage"));
    }
    let msg = attributes
        .get(intern!(py, "msg"))?
        .unwrap_or_else(|| py.None().into_bound(py));
    let text = match msg.cast::<PyString>() {
        Ok(_) => msg,
        Err(_) => msg.str()?.into_any(),
    };
    match attributes.get(intern!(py, "args"))? {
        Some(args) if args.is_truthy()? => text.rem(args),
        _ => Ok(text),
    }
}

/// The record's JSON and its level.
pub fn write_log_record(record: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, tracing::Level)> {
    let py = record.py();
    let attributes = Attributes {
        record,
        dict: record
            .getattr(intern!(py, "__dict__"))?
            .cast_into::<PyDict>()?,
    };
    let mut out = Vec::with_capacity(512);
    let created: f64 = match attributes.get(intern!(py, "created"))? {
        Some(created) => created.extract()?,
        None => 0.0,
    };
    let at = crate::seconds::unix_time(created);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"timestamp\":\"{}\"",
        humantime::format_rfc3339_micros(at)
    );
    let levelno: i64 = match attributes.get(intern!(py, "levelno"))? {
        Some(number) => number.extract()?,
        None => 0,
    };
    for (key, attribute) in [
        ("level", intern!(py, "levelname")),
        ("logger", intern!(py, "name")),
    ] {
        if let Some(value) = attributes.present(attribute)? {
            field(&mut out, key);
            write_text(&mut out, &value)?;
        }
    }
    field(&mut out, "message");
    write_text(&mut out, &message(record, &attributes)?)?;
    for (key, attribute) in [
        ("module", intern!(py, "module")),
        ("function", intern!(py, "funcName")),
        ("thread_name", intern!(py, "threadName")),
    ] {
        if let Some(value) = attributes.present(attribute)? {
            field(&mut out, key);
            write_text(&mut out, &value)?;
        }
    }
    for (key, attribute) in [
        ("line", intern!(py, "lineno")),
        ("thread", intern!(py, "thread")),
        ("process", intern!(py, "process")),
    ] {
        if let Some(n) = attributes
            .present(attribute)?
            .and_then(|value| value.extract::<i64>().ok())
        {
            field(&mut out, key);
            write_json(&mut out, &n);
        }
    }
    if let Some(exc_info) = attributes.present(intern!(py, "exc_info"))?
        && exc_info.is_truthy()?
        && let Ok((kind, value, traceback)) =
            exc_info.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>, Bound<'_, PyAny>)>()
    {
        field(&mut out, "exception");
        out.extend_from_slice(b"{\"type\":");
        write_text(&mut out, &kind.getattr(intern!(py, "__name__"))?)?;
        out.extend_from_slice(b",\"message\":");
        write_text(&mut out, &value)?;
        out.extend_from_slice(b",\"traceback\":");
        let lines = py
            .import("traceback")?
            .call_method1("format_exception", (&kind, &value, &traceback))?;
        let joined = PyString::new(py, "").call_method1("join", (lines,))?;
        write_text(&mut out, &joined)?;
        out.push(b'}');
    }
    if let Some(stack) = attributes.present(intern!(py, "stack_info"))? {
        field(&mut out, "stack");
        write_text(&mut out, &stack)?;
    }
    // Every other attribute was given with `extra=`.
    let standard = STANDARD_SET
        .get_or_try_init(py, || {
            // Interned, as attribute names are: a lookup then compares
            // pointers, not text.
            let names = STANDARD.iter().map(|name| PyString::intern(py, name));
            PyFrozenSet::new(py, names).map(Bound::unbind)
        })?
        .bind(py);
    let constructed = CONSTRUCTED_ORDER.get_or_try_init(py, || constructed_order(py))?;
    for (i, (key, value)) in attributes.dict.iter().enumerate() {
        if constructed.get(i).is_some_and(|name| key.is(name)) || standard.contains(&key)? {
            continue;
        }
        if let Ok(name) = key.cast::<PyString>()
            && utf8(name)?.starts_with('_')
        {
            continue;
        }
        out.push(b',');
        write_key(&key, &mut out)?;
        write_value(&value, &mut out, 1)?;
    }
    out.push(b'}');
    Ok((out, crate::pipeline::level_of_number(levelno)))
}

/// The keys of a new `LogRecord`'s `__dict__`, in order.
fn constructed_order(py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
    let record = LOG_RECORD_TYPE.import(py, "logging", "LogRecord")?.call1((
        "n",
        20,
        "p",
        1,
        "m",
        py.None(),
        py.None(),
    ))?;
    let dict = record
        .getattr(intern!(py, "__dict__"))?
        .cast_into::<PyDict>()?;
    Ok(dict.keys().iter().map(Bound::unbind).collect())
}
