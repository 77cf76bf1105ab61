//! Host-side bindings generated from `wit/sink.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sink-world",
    // `batch.records` is lowered straight from the shared batch buffer: the
    // one copy into the guest is the one the component model makes.
    ownership: Borrowing { duplicate_if_necessary: true },
    // Calls into the guest are async so that a guest blocked inside a host
    // call (a WASI sleep or poll), where epoch interruption cannot reach it,
    // is still cut off by a timer. `host.log` stays a plain sync function.
    exports: { default: async },
});

pub use self::exports::sinkbox::sink::sink::{Batch, FlushOutcome, HealthStatus, WriteOutcome};
pub use self::sinkbox::sink::types::Level;
