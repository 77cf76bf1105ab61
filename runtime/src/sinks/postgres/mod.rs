//! `postgres`: batches into a PostgreSQL table, one transaction per batch,
//! bad rows isolated.

pub(crate) mod config;
mod load;
pub(crate) mod rows;
pub(crate) mod sink;
pub(crate) mod table;

pub use sink::{PostgresSink, PostgresSinkOptions, PostgresWriteMode};
pub use table::ExtraColumn;
