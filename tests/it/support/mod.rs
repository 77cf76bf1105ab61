//! Shared helpers for the integration tests, one concern a file; every
//! helper is reachable as `crate::support::NAME`.

mod cli;
mod counted_type;
mod guests;
mod pipelines;
mod ports;
mod recording_sink;
mod records;
mod waiting;

pub use cli::*;
pub use counted_type::*;
pub use guests::*;
pub use pipelines::*;
pub use ports::*;
pub use recording_sink::*;
pub use records::*;
pub use waiting::*;
