//! Version 2 of the tag sink, for the hot-reload tests.

const VERSION: u32 = 2;

include!("../../tag_sink.rs");
