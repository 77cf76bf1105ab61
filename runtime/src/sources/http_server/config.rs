//! The `http_server` source type: the server options every HTTP source
//! takes, and nothing of its own.

use crate::sources::SourceKind;
use crate::sources::util::server_config::{server_option_specs, server_options};
use crate::sources::util::source_type::{SourceType, UriUse};

/// The `http_server` source type for the catalog and the loader.
pub(crate) fn source_type() -> SourceType {
    SourceType {
        name: "http_server",
        help: "takes records POSTed as NDJSON, a JSON array or one JSON value (gzip, zstd); answers 200 once they are safe",
        schemes: &["http"],
        uri: UriUse::Listen,
        options: server_option_specs("/"),
        build: |options| Ok(SourceKind::HttpServer(server_options(options)?)),
    }
}
