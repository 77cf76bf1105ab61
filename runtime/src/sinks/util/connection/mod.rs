//! The lazy, self-healing connection behind the `direct` and `relay` sinks.

pub(crate) mod connect_options;
pub(crate) mod endpoint;
pub(crate) mod lazy_connection;
pub(crate) mod transport;

pub use connect_options::ConnectOptions;
pub use endpoint::Endpoint;
