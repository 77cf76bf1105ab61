//! The `sinkbox._sinkbox` extension module: a thin PyO3 layer over the
//! sinkbox runtime. Python's `sinkbox` package wraps it; everything a sink
//! does happens in Rust, with the GIL released while the runtime works.

mod errors;
mod fork;
mod log_record;
mod made_pipeline;
mod pipeline;
mod python_json;
mod python_text;
mod seconds;

use pyo3::prelude::*;

/// The module Python imports as `sinkbox._sinkbox`.
#[pymodule]
fn _sinkbox(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    fork::watch().map_err(|err| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("cannot watch for os.fork(): {err}"))
    })?;
    module.add_class::<pipeline::Pipeline>()?;
    module.add_function(wrap_pyfunction!(made_pipeline::shutdown_all, module)?)?;
    module.add("ConfigError", py.get_type::<errors::ConfigError>())?;
    module.add("EmitError", py.get_type::<errors::EmitError>())?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
