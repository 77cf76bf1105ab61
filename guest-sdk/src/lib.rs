//! Write sinkbox sinks in Rust.
//!
//! Implement [`Sink`] for your type and export it with one line:
//!
//! ```ignore
//! use sinkbox_guest::{Batch, Config, Sink, WriteOutcome};
//!
//! struct Counter { records: u64 }
//!
//! impl Sink for Counter {
//!     fn start(_config: Config) -> Result<Self, String> {
//!         Ok(Counter { records: 0 })
//!     }
//!     fn write(&mut self, batch: Batch) -> WriteOutcome {
//!         self.records += u64::from(batch.len());
//!         WriteOutcome::Accepted
//!     }
//! }
//!
//! sinkbox_guest::export_sink!(Counter);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (the crate is
//! a `cdylib`); the `.wasm` in `target/wasm32-wasip2/release/` is the sink
//! component `sinkbox` loads.

#![warn(missing_docs)]

extern crate self as sinkbox_guest;

mod batch;
mod config;
mod exporter;
#[cfg(feature = "http")]
pub mod http;
pub mod log;
mod per_record;

pub use batch::Batch;
pub use config::Config;
pub use exporter::Exporter;
pub use per_record::PerRecord;

/// The bindings generated from the sinkbox WIT contract. Most sinks never
/// need them: the SDK re-exports the types a sink uses.
// Generated: what they mean is documented in `wit/sink.wit`.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "sink-world",
        pub_export_macro: true,
        export_macro_name: "__export_sink_world",
        default_bindings_module: "::sinkbox_guest::bindings",
        runtime_path: "::sinkbox_guest::__private::wit_bindgen::rt",
    });
}

pub use bindings::exports::sinkbox::sink0_2_0::sink::{FlushOutcome, HealthStatus, WriteOutcome};
pub use bindings::sinkbox::sink0_2_0::types::Level;
pub use bindings::sinkbox::sink0_2_0::types::{
    DroppedRecords, PartialWrite, RecordResult, RecordResults, ResultRange, RetryAfter,
};

/// A sink: receives batches of JSON records from the host.
///
/// The host calls `start` once per instance, then `write` once per batch,
/// `flush` when the application flushes and before `stop`. Calls never
/// overlap. See `wit/sink.wit` for what the host does with each outcome.
pub trait Sink: Sized + 'static {
    /// Creates the sink from its configuration (the `config` table of the
    /// host config). Return `Err` with a message that says which option is
    /// wrong and what would be right.
    fn start(config: Config) -> Result<Self, String>;

    /// Delivers one batch.
    fn write(&mut self, batch: Batch) -> WriteOutcome;

    /// Hands off everything accepted so far. Must be idempotent.
    fn flush(&mut self) -> FlushOutcome {
        FlushOutcome::Done
    }

    /// Releases resources; called once, after a final `flush`.
    fn stop(&mut self) {}

    /// Reports health; must be cheap.
    fn health(&mut self) -> HealthStatus {
        HealthStatus::Healthy
    }
}

/// Exports a [`Sink`] implementation as the component's sink. Use it once,
/// at the crate root: `sinkbox_guest::export_sink!(MySink);`
#[macro_export]
macro_rules! export_sink {
    ($sink:ty) => {
        type __SinkboxExportedSink = $crate::Exporter<$sink>;
        $crate::bindings::__export_sink_world!(__SinkboxExportedSink with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}
