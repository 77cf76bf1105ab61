//! The table `sinkbox run` prints when it ends: per sink, what was
//! delivered, retried, dropped and dead-lettered, and what each sink's
//! extras (HTTP grant, `when`, `route`, disk buffer, reloads) did.

use std::fmt::Write as _;
use std::time::Duration;

use sinkbox::SinkStats;

/// `writeln!` into a `String`, which cannot fail.
macro_rules! row {
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out, $($arg)*);
    };
}

/// The whole summary, one line per row, to be written at once.
pub fn summary_text(stats: &[SinkStats], elapsed: Duration) -> String {
    let mut out = String::new();
    let secs = elapsed.as_secs_f64().max(1e-9);
    row!(
        out,
        "{:<16} {:>10} {:>12} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>12}",
        "sink",
        "records",
        "bytes",
        "batches",
        "errors",
        "retries",
        "dropped",
        "dead",
        "restarts",
        "records/s"
    );
    for s in stats {
        row!(
            out,
            "{:<16} {:>10} {:>12} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>12.0}",
            s.name,
            s.records,
            s.bytes,
            s.batches,
            s.errors.total(),
            s.retries,
            s.dropped,
            s.dead_lettered,
            s.restarts,
            s.records as f64 / secs
        );
    }
    for s in stats {
        if let Some(http) = &s.http {
            row!(
                out,
                "{}: http: {} request(s) sent, {} refused by the grant, {} failed; {} bytes out, {} in; answers 2xx {} 3xx {} 4xx {} 5xx {}",
                s.name,
                http.requests,
                http.refused,
                http.failed,
                http.bytes_out,
                http.bytes_in,
                http.status_2xx,
                http.status_3xx,
                http.status_4xx,
                http.status_5xx
            );
        }
        if s.skipped > 0 {
            row!(
                out,
                "{}: when: {} record(s) matched, {} skipped",
                s.name,
                s.matched,
                s.skipped
            );
        }
        if !s.routed.is_empty() {
            let routed: Vec<String> = s
                .routed
                .iter()
                .map(|(target, n)| format!("{target} {n}"))
                .collect();
            row!(
                out,
                "{}: routed {}; {} unrouted",
                s.name,
                routed.join(", "),
                s.unrouted
            );
        }
        if let Some(buffer) = &s.buffer {
            row!(
                out,
                "{}: disk buffer: {} batch(es) undelivered ({} bytes on disk, oldest {:.1}s), {} record(s) skipped as damaged, {} dropped when full",
                s.name,
                buffer.batches,
                buffer.bytes,
                buffer.oldest_undelivered_ms as f64 / 1000.0,
                buffer.corrupt_records,
                buffer.dropped_full
            );
        }
        if s.guest_log_dropped > 0 {
            row!(
                out,
                "{}: {} guest log line(s) dropped over the sink's log budget",
                s.name,
                s.guest_log_dropped
            );
        }
        if s.lost > 0 {
            row!(
                out,
                "{}: {} record(s) lost: neither delivered nor written to the dead-letter file",
                s.name,
                s.lost
            );
        }
        if s.dead_letters_dropped > 0 {
            row!(
                out,
                "{}: {} dead-lettered record(s) deleted to stay under dead_letter_max_bytes",
                s.name,
                s.dead_letters_dropped
            );
        }
    }
    for s in stats
        .iter()
        .filter(|s| s.reloads + s.reload_failures + s.rollbacks > 0)
    {
        let module = s
            .module_hash
            .as_deref()
            .map(|hash| format!(", running module {}", &hash[..hash.len().min(12)]))
            .unwrap_or_default();
        let last = s
            .last_reload_error
            .as_deref()
            .map(|why| format!("; last refusal: {why}"))
            .unwrap_or_default();
        row!(
            out,
            "{}: {} reload(s), {} refused, {} rolled back{module}{last}",
            s.name,
            s.reloads,
            s.reload_failures,
            s.rollbacks
        );
    }
    out
}
