//! The `http_server` source: other machines `POST` records (NDJSON, a JSON
//! array, or one JSON object; gzip or zstd bodies), and the answer is 200
//! only once the pipeline's sinks have settled them (end-to-end
//! acknowledgements), or, with `ack = "received"`, once they are queued.

pub mod config;
pub mod metrics;
mod options;
mod request_body;
mod server;

pub use options::{AckMode, HttpServerAuth, HttpServerOptions};
pub use server::{HttpServerSource, HttpServerStats};
