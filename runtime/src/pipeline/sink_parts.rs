//! What the pipeline keeps about a sink beside the sink itself: for a
//! sandboxed sink, how to reload its module, its diagnostics budget (for
//! the count of dropped guest lines) and its HTTP egress (for its HTTP
//! counters), found by looking at the sink's type, so the `Sink` trait
//! knows nothing of them; for a routing sink, its counts
//! ([`Sink::routed_counts`]).

use std::sync::Arc;

use crate::sink::{RoutedCounts, Sink};
use crate::wasm::{GuestLogBudget, SinkEgress, SinkReloader, WasmSink};

/// What the pipeline keeps of a [`WasmSink`] or a routing sink.
#[derive(Default)]
pub(crate) struct SinkParts {
    pub reloader: Option<Arc<dyn SinkReloader>>,
    pub log_budget: Option<Arc<GuestLogBudget>>,
    pub http: Option<Arc<SinkEgress>>,
    pub route: Option<Arc<dyn RoutedCounts>>,
}

/// The reloader, log budget and HTTP egress of `sink` if it is a
/// [`WasmSink`], its routing counts if it routes; nothing for any other
/// sink.
pub(crate) fn sink_parts(sink: &dyn Sink) -> SinkParts {
    if let Some(route) = sink.routed_counts() {
        return SinkParts {
            route: Some(route),
            ..SinkParts::default()
        };
    }
    let any: &dyn std::any::Any = sink;
    match any.downcast_ref::<WasmSink>() {
        Some(wasm) => SinkParts {
            reloader: Some(wasm.reloader()),
            log_budget: Some(wasm.log_budget()),
            http: wasm.http_egress(),
            route: None,
        },
        None => SinkParts::default(),
    }
}
