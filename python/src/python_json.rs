//! Python values written as JSON in Rust (no `json.dumps`): dicts,
//! lists, tuples, strings, numbers, booleans and `None` as themselves;
//! anything else as its `repr`, cut to a bound, so an object a caller did
//! not mean to log can never make a record unbounded or fail the call.

use pyo3::prelude::*;

use crate::python_text::utf8;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Longest `repr` kept for a value that is not JSON.
const MAX_REPR_CHARS: usize = 1024;

/// Deepest nesting written; deeper values are written as their `repr`.
const MAX_DEPTH: usize = 64;

/// Writes `value` as JSON to `out`.
pub fn write_value(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    if value.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = value.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(int) = value.cast::<PyInt>() {
        match int.extract::<i64>() {
            Ok(n) => write_json(out, &n),
            Err(_) => match int.extract::<u64>() {
                Ok(n) => write_json(out, &n),
                // Past 64 bits: the digits, as a string.
                Err(_) => write_json(out, &int.str()?.to_string()),
            },
        }
    } else if let Ok(float) = value.cast::<PyFloat>() {
        let f = float.value();
        if f.is_finite() {
            write_json(out, &f);
        } else {
            out.extend_from_slice(b"null");
        }
    } else if let Ok(text) = value.cast::<PyString>() {
        write_json(out, utf8(text)?);
    } else if depth >= MAX_DEPTH {
        write_repr(value, out)?;
    } else if let Ok(dict) = value.cast::<PyDict>() {
        write_dict(dict, out, depth)?;
    } else if let Ok(list) = value.cast::<PyList>() {
        write_items(list.iter(), out, depth)?;
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        write_items(tuple.iter(), out, depth)?;
    } else {
        write_repr(value, out)?;
    }
    Ok(())
}

/// Writes a dict as an object; a key that is not a string is written as
/// its `str`.
pub fn write_dict(dict: &Bound<'_, PyDict>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    out.push(b'{');
    for (i, (key, value)) in dict.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(&key, out)?;
        write_value(&value, out, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

/// Writes `"key":`.
pub fn write_key(key: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    match key.cast::<PyString>() {
        Ok(text) => write_json(out, utf8(text)?),
        Err(_) => write_json(out, utf8(&key.str()?)?),
    }
    out.push(b':');
    Ok(())
}

fn write_items<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> PyResult<()> {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(&item, out, depth + 1)?;
    }
    out.push(b']');
    Ok(())
}

fn write_repr(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let repr = match value.repr() {
        Ok(repr) => utf8(&repr)?.to_owned(),
        Err(_) => format!("<unrepresentable {}>", value.get_type().name()?),
    };
    let bounded: String = if repr.chars().count() > MAX_REPR_CHARS {
        let mut cut: String = repr.chars().take(MAX_REPR_CHARS).collect();
        cut.push('…');
        cut
    } else {
        repr
    };
    write_json(out, &bounded);
    Ok(())
}

/// A string or number as JSON.
pub fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}
