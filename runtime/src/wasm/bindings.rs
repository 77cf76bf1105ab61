//! Host-side bindings generated from `wit/sink.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sink-world",
    // `batch.records` is lowered straight from the shared batch buffer: the
    // one copy into the guest is the one the component model makes.
    ownership: Borrowing { duplicate_if_necessary: true },
});

pub use self::exports::sinkbox::sink::sink::{Batch, FlushOutcome, HealthStatus, WriteOutcome};
pub use self::sinkbox::sink::types::Level;
