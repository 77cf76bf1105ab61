//! A `logging.LogRecord` as a record, written in Rust: the time (RFC 3339,
//! UTC), `level`, `logger`, `message` (formatted with its args), where it
//! was logged, the thread and process, every `extra=` field, and the
//! exception and stack when there are any. The level travels beside the
//! record, so `when = 'level >= "warn"'` reads nothing.

use std::time::{Duration, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::python_json::{write_json, write_key, write_value};

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

/// The record's JSON and its level.
pub fn write_log_record(record: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, tracing::Level)> {
    let py = record.py();
    let mut out = Vec::with_capacity(512);
    out.push(b'{');
    let created: f64 = record.getattr("created")?.extract()?;
    let at = UNIX_EPOCH + Duration::from_secs_f64(created.max(0.0));
    out.extend_from_slice(b"\"timestamp\":");
    write_json(&mut out, &humantime::format_rfc3339_micros(at).to_string());
    let levelno: i64 = record.getattr("levelno")?.extract()?;
    let text = |name: &str| -> PyResult<Option<String>> {
        let value = record.getattr(name)?;
        if value.is_none() {
            return Ok(None);
        }
        Ok(Some(value.str()?.to_cow()?.into_owned()))
    };
    let field = |out: &mut Vec<u8>, key: &str| {
        out.push(b',');
        write_json(out, key);
        out.push(b':');
    };
    for (key, attribute) in [("level", "levelname"), ("logger", "name")] {
        if let Some(value) = text(attribute)? {
            field(&mut out, key);
            write_json(&mut out, &value);
        }
    }
    field(&mut out, "message");
    let message = record.call_method0("getMessage")?;
    write_json(&mut out, &*message.str()?.to_cow()?);
    for (key, attribute) in [
        ("module", "module"),
        ("function", "funcName"),
        ("thread_name", "threadName"),
    ] {
        if let Some(value) = text(attribute)? {
            field(&mut out, key);
            write_json(&mut out, &value);
        }
    }
    for (key, attribute) in [
        ("line", "lineno"),
        ("thread", "thread"),
        ("process", "process"),
    ] {
        let value = record.getattr(attribute)?;
        if let Ok(n) = value.extract::<i64>() {
            field(&mut out, key);
            write_json(&mut out, &n);
        }
    }
    let exc_info = record.getattr("exc_info")?;
    if exc_info.is_truthy()?
        && let Ok((kind, value, traceback)) =
            exc_info.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>, Bound<'_, PyAny>)>()
    {
        field(&mut out, "exception");
        out.extend_from_slice(b"{\"type\":");
        write_json(&mut out, &*kind.getattr("__name__")?.str()?.to_cow()?);
        out.extend_from_slice(b",\"message\":");
        write_json(&mut out, &*value.str()?.to_cow()?);
        out.extend_from_slice(b",\"traceback\":");
        let lines = py
            .import("traceback")?
            .call_method1("format_exception", (&kind, &value, &traceback))?;
        let joined = pyo3::types::PyString::new(py, "").call_method1("join", (lines,))?;
        write_json(&mut out, &*joined.str()?.to_cow()?);
        out.push(b'}');
    }
    if let Some(stack) = text("stack_info")? {
        field(&mut out, "stack");
        write_json(&mut out, &stack);
    }
    // Every other attribute was given with `extra=`.
    let attributes = record.getattr("__dict__")?;
    let attributes = attributes.cast::<PyDict>()?;
    for (key, value) in attributes.iter() {
        let standard = key
            .extract::<String>()
            .is_ok_and(|k| STANDARD.contains(&k.as_str()) || k.starts_with('_'));
        if standard {
            continue;
        }
        out.push(b',');
        write_key(&key, &mut out)?;
        write_value(&value, &mut out, 1)?;
    }
    out.push(b'}');
    Ok((out, crate::pipeline::level_of_number(levelno)))
}
