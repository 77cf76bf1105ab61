//! `composite` sinks: one name in front of several other named sinks, with
//! a pattern that says how batches are spread over them.
//!
//! - `fanout`: every target gets every batch, each through its own queue
//!   and worker (with the target's own retry policy), so a failing target
//!   never holds the others back; a composite flush completes once every
//!   target has delivered and flushed.
//! - `round_robin`: batches go to the targets in turn; a target that fails
//!   is skipped for that batch.
//! - `failover`: batches go to the first target that works; one that fails
//!   is skipped until its health recovers.
//! - `route` (a type of its own): ordered rules, each a `when` condition and
//!   its targets; each record goes to the first rule that takes it (or to
//!   every one, `mode = "all"`), else to `default`.
//!
//! Targets are built once and shared: two composites naming the same sink
//! drive one instance (and one connection).

pub(crate) mod config;
mod failover;
mod fanout;
mod round_robin;
mod route;
pub(crate) mod route_config;
pub(crate) mod shared_sink;
pub(crate) mod target;
mod target_lanes;

pub use failover::FailoverSink;
pub use fanout::FanoutSink;
pub use round_robin::RoundRobinSink;
pub use route::{RouteCounters, RouteDefault, RouteMode, RouteRule, RouteSink};
pub use shared_sink::SharedSink;
pub use target::CompositeTarget;
