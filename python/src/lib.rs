//! The `sinkbox._sinkbox` extension module: a thin PyO3 layer over the
//! sinkbox runtime. Python's `sinkbox` package wraps it; everything a sink
//! does happens in Rust, with the GIL released while the runtime works.

mod errors;
mod log_record;
mod pipeline;
mod python_json;

use pyo3::prelude::*;

/// The module Python imports as `sinkbox._sinkbox`.
#[pymodule]
fn _sinkbox(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add_class::<pipeline::Pipeline>()?;
    module.add("ConfigError", py.get_type::<errors::ConfigError>())?;
    module.add("EmitError", py.get_type::<errors::EmitError>())?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
