//! The exceptions Python code sees, each carrying the runtime's own
//! message (for a configuration: file, line, option and the fix, as the
//! CLI prints it).

use pyo3::create_exception;
use pyo3::exceptions::PyException;

create_exception!(
    _sinkbox,
    ConfigError,
    PyException,
    "The configuration cannot be used; the message names the file, line and option, and how to fix it."
);

create_exception!(
    _sinkbox,
    EmitError,
    PyException,
    "A record was not taken: the pipeline is shut down, or a sink's queue is full under `overflow = \"error\"`."
);

/// An emit error as the exception Python code catches: records that are
/// not JSON are a `ValueError`, everything else an `EmitError`.
pub fn emit_error(err: sinkbox::pipeline::EmitError) -> pyo3::PyErr {
    match err {
        sinkbox::pipeline::EmitError::InvalidJson(_) => {
            pyo3::exceptions::PyValueError::new_err(err.to_string())
        }
        other => EmitError::new_err(other.to_string()),
    }
}
