//! Routing: a `when` condition on any sink decides, on the host and once
//! per record, which records the sink takes.
//!
//! Every record is scanned once for all the fields the conditions of a
//! dispatch read ([`field_scan`]), each distinct condition is decided once
//! ([`condition_set`]), and a lane whose condition keeps part of a batch
//! gets one shared copy of the kept records ([`routing_table`]). Levels known
//! at emit time (the `tracing` layer, [`crate::Pipeline::emit_at`]) answer
//! level-only conditions without reading the record.

mod condition;
pub(crate) mod condition_set;
mod condition_tree;
pub(crate) mod field_scan;
pub(crate) mod field_value;
pub(crate) mod level;
mod parse;
pub(crate) mod routing_table;
mod table_check;

pub use condition::{Condition, ConditionError};
pub(crate) use routing_table::{RoutedBatch, RoutingTable, Selection};
pub use table_check::Conditions;
