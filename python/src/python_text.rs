//! A Python `str` read as UTF-8 without a copy.
//!
//! The stable ABI of CPython 3.9 (this wheel's floor) offers only
//! `PyUnicode_AsUTF8String`, which makes a new `bytes` object for every
//! string read: the largest cost of writing a log record. CPython caches a
//! string's UTF-8 form and `PyUnicode_AsUTF8AndSize` returns it; the
//! function is exported, with this signature, by every CPython since 3.3
//! and joined the stable ABI in 3.10, so calling it from this abi3 module
//! is sound on every version the wheel installs on.

use std::ffi::c_char;

use pyo3::ffi::{Py_ssize_t, PyObject};
use pyo3::prelude::*;
use pyo3::types::PyString;

unsafe extern "C" {
    fn PyUnicode_AsUTF8AndSize(unicode: *mut PyObject, size: *mut Py_ssize_t) -> *const c_char;
}

/// The text of `text`; a string holding a lone surrogate (which UTF-8
/// cannot carry) is a `UnicodeEncodeError`.
pub fn utf8<'a>(text: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    let mut size: Py_ssize_t = 0;
    // SAFETY: `text` is a live `str` and we hold the GIL (a `Bound`).
    let data = unsafe { PyUnicode_AsUTF8AndSize(text.as_ptr(), &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(text.py()));
    }
    let len = usize::try_from(size).unwrap_or(0);
    // SAFETY: CPython returns the string's cached UTF-8 form, `size` bytes
    // long, valid (and unchanged: `str` is immutable) while the string
    // lives, which `'a` ties to the borrow of `text`.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
    // SAFETY: CPython's UTF-8 encoder produced the bytes (surrogates were
    // refused above).
    Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
}
