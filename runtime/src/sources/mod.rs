//! Sources: where records come into a pipeline from outside the process
//! that runs it. Each source is a folder: its options apart from its
//! running code.

pub mod http_server;
