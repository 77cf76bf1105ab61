//! What the pipeline keeps about a sandboxed sink beside the sink itself:
//! how to reload its module, its diagnostics budget (for the count of
//! dropped guest lines) and its HTTP egress (for its HTTP counters). Found by looking at the sink's type, so the `Sink`
//! trait knows nothing of either.

use std::sync::Arc;

use crate::sink::Sink;
use crate::wasm::{GuestLogBudget, SinkEgress, SinkReloader, WasmSink};

/// What the pipeline keeps of a [`WasmSink`].
#[derive(Default)]
pub(crate) struct SandboxedParts {
    pub reloader: Option<Arc<dyn SinkReloader>>,
    pub log_budget: Option<Arc<GuestLogBudget>>,
    pub http: Option<Arc<SinkEgress>>,
}

/// The reloader, log budget and HTTP egress of `sink` if it is a
/// [`WasmSink`]; nothing for a native sink.
pub(crate) fn sandboxed_parts(sink: &dyn Sink) -> SandboxedParts {
    let any: &dyn std::any::Any = sink;
    match any.downcast_ref::<WasmSink>() {
        Some(wasm) => SandboxedParts {
            reloader: Some(wasm.reloader()),
            log_budget: Some(wasm.log_budget()),
            http: wasm.http_egress(),
        },
        None => SandboxedParts::default(),
    }
}
