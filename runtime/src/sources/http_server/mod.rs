//! The `http_server` source: other machines `POST` records (NDJSON, a JSON
//! array, or one JSON object; gzip or zstd bodies), and the answer is 200
//! only once the pipeline's sinks have settled them (end-to-end
//! acknowledgements), or, with `ack = "received"`, once they are queued.

pub(crate) mod config;
mod json_records;
mod protocol;

use crate::pipeline::Pipeline;
pub use crate::sources::RunningSource;
pub use crate::sources::util::server_options::{AckMode, HttpServerAuth, HttpServerOptions};

/// Starts an `http_server` source named `name` feeding `pipeline`: it
/// listens on `options.address` (bound before this returns, so a port in
/// use is an error here) until stopped or dropped.
pub fn start(
    name: &str,
    pipeline: Pipeline,
    options: HttpServerOptions,
) -> Result<RunningSource, String> {
    crate::sources::util::http_listener::start_http_source(
        name,
        pipeline,
        options,
        Box::new(protocol::JsonRecords),
    )
}
