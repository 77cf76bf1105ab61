//! `[sources.<name>]` with `type = "http_server"`: the server options
//! every HTTP source takes, and nothing of its own.

use crate::registry::config_error::ConfigError;
use crate::sources::util::server_config::{SourceTable, server_options};
use crate::sources::util::server_options::HttpServerOptions;

/// The options of an `http_server` source from its table.
pub(crate) fn options_from_table(source: &SourceTable) -> Result<HttpServerOptions, ConfigError> {
    source.check_keys(&[])?;
    server_options(source, "/")
}
