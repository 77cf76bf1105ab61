//! The delivery layer every HTTP-based sink shares: the client (timeouts,
//! TLS, connection reuse, headers, auth, compression), how a batch is split
//! into requests under the server's limits, what a response means for the
//! batch (accepted, retryable with the server's `Retry-After`, or rejected
//! with the server's words).

pub(crate) mod client;
pub(crate) mod delivery;
pub(crate) mod options;
pub(crate) mod request_chunks;
pub(crate) mod response_class;
pub(crate) mod signing;
