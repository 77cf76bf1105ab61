//! Host-side bindings generated from the sink contract, one module per
//! version the host serves: `v0_2` from `wit/sink.wit`, `v0_1` from
//! `wit/deps/sink-0.1/sink.wit` (frozen: components built for it keep
//! loading).

// `batch.records` is lowered straight from the shared batch buffer: the one
// copy into the guest is the one the component model makes. Calls into the
// guest are async so that a guest blocked inside a host call (a WASI sleep
// or poll), where epoch interruption cannot reach it, is still cut off by a
// timer. `host.log` stays a plain sync function.

/// `sinkbox:sink@0.2.0`, the contract sinks are built for today.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sinkbox:sink/sink-world@0.2.0",
        ownership: Borrowing { duplicate_if_necessary: true },
        exports: { default: async },
    });

    pub use self::exports::sinkbox::sink0_2_0::sink::{
        Batch, FlushOutcome, HealthStatus, WriteOutcome,
    };
    pub use self::sinkbox::sink0_2_0::types::RecordResult;
    pub use self::sinkbox::sink0_2_0::{host, types};
}

/// `sinkbox:sink@0.1.0`, the first contract.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sinkbox:sink/sink-world@0.1.0",
        ownership: Borrowing { duplicate_if_necessary: true },
        exports: { default: async },
    });

    pub use self::exports::sinkbox::sink0_1_0::sink::{
        Batch, FlushOutcome, HealthStatus, WriteOutcome,
    };
    pub use self::sinkbox::sink0_1_0::{host, types};
}
