//! What the pipeline keeps about a sandboxed sink beside the sink itself:
//! how to reload its module, and its diagnostics budget (for the count of
//! dropped guest lines). Found by looking at the sink's type, so the `Sink`
//! trait knows nothing of either.

use std::sync::Arc;

use crate::sink::Sink;
use crate::wasm::{GuestLogBudget, SinkReloader, WasmSink};

/// The reloader and log budget of `sink` if it is a [`WasmSink`].
pub(crate) fn sandboxed_parts(
    sink: &dyn Sink,
) -> (Option<Arc<dyn SinkReloader>>, Option<Arc<GuestLogBudget>>) {
    let any: &dyn std::any::Any = sink;
    match any.downcast_ref::<WasmSink>() {
        Some(wasm) => (Some(wasm.reloader()), Some(wasm.log_budget())),
        None => (None, None),
    }
}
