//! Sources: where records come into a pipeline from outside the process
//! that runs it. Each source is a folder: its type (options and their
//! reading) in `config.rs` apart from its running code; what the HTTP
//! sources share is in `util/`.

pub mod http_server;
pub mod nats;
pub mod otlp;
mod running_source;
mod source_catalog;
mod source_kind;
pub mod util;

pub use running_source::RunningSource;
pub use source_catalog::{source_from_table, source_from_uri, source_types};
pub use source_kind::SourceKind;
pub use util::server_options::{AckMode, HttpServerAuth, HttpServerOptions};
pub use util::source_type::SourceType;
pub use util::stats::SourceStats;
