//! What the pipeline keeps about a sink beside the sink itself: for a
//! sandboxed sink, how to reload its module, its diagnostics budget (for
//! the count of dropped guest lines) and its HTTP egress (for its HTTP
//! counters); for a `route` composite, its routing counters. Found by
//! looking at the sink's type, so the `Sink` trait knows nothing of them.

use std::sync::Arc;

use crate::composite::{RouteCounters, RouteSink};
use crate::sink::Sink;
use crate::wasm::{GuestLogBudget, SinkEgress, SinkReloader, WasmSink};

/// What the pipeline keeps of a [`WasmSink`] or a [`RouteSink`].
#[derive(Default)]
pub(crate) struct SinkParts {
    pub reloader: Option<Arc<dyn SinkReloader>>,
    pub log_budget: Option<Arc<GuestLogBudget>>,
    pub http: Option<Arc<SinkEgress>>,
    pub route: Option<Arc<RouteCounters>>,
}

/// The reloader, log budget and HTTP egress of `sink` if it is a
/// [`WasmSink`], its counters if it is a [`RouteSink`]; nothing for any
/// other sink.
pub(crate) fn sink_parts(sink: &dyn Sink) -> SinkParts {
    let any: &dyn std::any::Any = sink;
    if let Some(route) = any.downcast_ref::<RouteSink>() {
        return SinkParts {
            route: Some(route.counters()),
            ..SinkParts::default()
        };
    }
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
