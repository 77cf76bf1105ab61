//! What operators do with dead letters after the fact: list them per sink
//! (`sinkbox dead-letters list`) and send them again through a sink
//! (`sinkbox dead-letters replay`), removing each batch once it is
//! delivered, so a replay that is interrupted and run again never sends a
//! delivered batch twice.

mod files;
mod listing;
mod replay;

pub use listing::{SinkDeadLetters, list};
pub use replay::{ReplayOptions, ReplayReport, replay, replay_from_config};
