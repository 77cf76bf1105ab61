//! `webhook`: an `http` sink that signs every request with HMAC-SHA256 over
//! a timestamp and the body, with a secret from `[secrets]`, so the
//! receiver can verify the sender and refuse replays.

pub(crate) mod config;
