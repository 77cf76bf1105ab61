//! Sources: where records come into a pipeline from outside the process
//! that runs it. Each source is a folder: its options apart from its
//! running code; what the HTTP sources share is in `util/`.

pub mod http_server;
pub mod otlp;
pub mod util;

pub use util::running_source::RunningSource;
pub use util::server_options::{AckMode, HttpServerAuth, HttpServerOptions};
pub use util::stats::SourceStats;
