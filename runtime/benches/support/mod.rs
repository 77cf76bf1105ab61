//! What the benches that send over loopback share: process CPU time, the
//! median of rounds, paired ratios, a receiver that reads every body and answers, and the
//! OTLP logs messages.

// Each bench uses what it needs.
#[allow(dead_code)]
pub mod otlp_proto;

use std::sync::Arc;
use std::time::Duration;

/// Process CPU time (every thread, the receiver's included).
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The round with the median rate, of `(records/s, CPU µs/record)` rounds.
pub fn median(mut values: Vec<(f64, f64)>) -> (f64, f64) {
    values.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    values[values.len() / 2]
}

/// Runs `sink` and `plain` back to back, the sink first in even rounds
/// and second in odd ones, for [`paired_ratio`].
// Not every bench has a plain loop to pair with.
#[allow(dead_code)]
pub fn back_to_back(round: usize, sink: &mut dyn FnMut(), plain: &mut dyn FnMut()) {
    if round.is_multiple_of(2) {
        sink();
        plain();
    } else {
        plain();
        sink();
    }
}

/// The median over rounds of `sink` rate / `plain` rate, where round `i`
/// of each was measured back to back (the bench alternates which goes
/// first): a slow stretch of a shared machine then lands on both sides of
/// a pair instead of on one side's median.
// Not every bench has a plain loop to pair with.
#[allow(dead_code)]
pub fn paired_ratio(sink: &[(f64, f64)], plain: &[(f64, f64)]) -> f64 {
    let mut ratios: Vec<f64> = sink.iter().zip(plain).map(|(s, p)| s.0 / p.0).collect();
    ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let middle = ratios.len() / 2;
    if ratios.len().is_multiple_of(2) {
        // The two middle rounds: one of each order, for an even count.
        (ratios[middle - 1] + ratios[middle]) / 2.0
    } else {
        ratios[middle]
    }
}

/// A loopback HTTP server (two threads) that reads every request body and
/// answers 200 with `reply`. Stops when the returned server is dropped.
pub fn loopback_receiver(reply: &'static str) -> (u16, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    for _ in 0..2 {
        let server = server.clone();
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let _ = request.respond(tiny_http::Response::from_string(reply));
            }
        });
    }
    (port, server)
}
