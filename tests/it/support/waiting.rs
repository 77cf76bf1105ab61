//! Waiting in tests: for a condition, with a generous deadline as a last
//! guard, and for a turn at the heavy tests.

use std::time::{Duration, Instant};

/// Held by the tests that burn CPU on purpose (guests spinning to their
/// call timeout) and by those that run whole guides and language toolchains
/// against the default 2 s call timeout: on a 2-core machine the second kind
/// must not share the cores with the first. Everything else runs beside
/// them.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls `condition` until it holds; panics with `what` after a generous
/// deadline (a last guard, not a timing assertion).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
