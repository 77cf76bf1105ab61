//! Version 1 of the tag sink, for the hot-reload tests.

const VERSION: u32 = 1;

include!("../../tag_sink.rs");
