//! What the HTTP sources share: their options and the parsing of them,
//! the server that listens and limits connections, one request's way from
//! arrival to answer, credentials, bounded decompression and counters. A
//! source adds its wire protocol (`RequestProtocol`) and its type.

pub(crate) mod auth;
pub(crate) mod body;
pub(crate) mod http_listener;
pub mod metrics;
pub(crate) mod record_check;
pub(crate) mod record_metadata;
pub(crate) mod request_flow;
pub(crate) mod request_protocol;
pub(crate) mod server_config;
pub(crate) mod server_options;
pub(crate) mod source_options;
pub(crate) mod source_type;
pub(crate) mod stats;
pub mod tls;
