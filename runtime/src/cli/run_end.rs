//! How `sinkbox run` ends: once, whichever comes first of the input's end
//! and a signal; the summary written whole; an exit status that says what
//! became of the records it accepted.
//!
//! Exit statuses (also in `docs/troubleshooting.md`):
//! - 0: every record accepted was delivered (or left out on purpose by a
//!   `when` or a `route`).
//! - 1: the configuration is wrong (nothing ran).
//! - 2: the command line is wrong or the input could not be read.
//! - 3: some records accepted were not delivered: dead-lettered, dropped by
//!   `overflow` or a full buffer, lost (the dead-letter file could not be
//!   written), or left in a call a sink never returned from. The summary
//!   says which sink and how many.
//! - 4: nothing was lost, but records stayed in disk buffers when the
//!   shutdown deadline passed; the next start delivers them.
//! - 128 + n: a second signal n ended the run without draining.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sinkbox::ShutdownReport;

static CLAIMED: AtomicBool = AtomicBool::new(false);

/// Takes the end of the run for the calling thread: `true` once, for the
/// first caller; every later caller must [`wait_for_exit`].
pub fn claim() -> bool {
    !CLAIMED.swap(true, Ordering::AcqRel)
}

/// Parks the calling thread until the thread that claimed the end exits
/// the process.
pub fn wait_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// What a run's end says and the status it exits with.
pub struct RunEnd {
    /// The summary table and what the status means, one block of text.
    pub text: String,
    /// The process's exit status.
    pub status: u8,
}

impl RunEnd {
    /// The end of a run that took `elapsed`, from its shutdown report;
    /// `deadline` is the one a signal gives the shutdown.
    pub fn new(report: &ShutdownReport, elapsed: Duration, deadline: Duration) -> Self {
        let mut text = super::run_summary::summary_text(&report.stats, elapsed);
        let dead: u64 = report.stats.iter().map(|s| s.dead_lettered).sum();
        let lost: u64 = report.stats.iter().map(|s| s.lost).sum();
        // `dropped` counts what a full disk buffer dropped too.
        let dropped: u64 = report.stats.iter().map(|s| s.dropped).sum();
        let buffered: u64 = report
            .stats
            .iter()
            .filter_map(|s| s.buffer.as_ref())
            .map(|b| b.batches)
            .sum();
        // An unbuffered sink left inside a call may have lost that batch.
        let stuck: Vec<&str> = report
            .left_behind
            .iter()
            .filter(|name| {
                report
                    .stats
                    .iter()
                    .any(|s| &s.name == *name && s.buffer.is_none())
            })
            .map(String::as_str)
            .collect();
        if !report.unfinished.is_empty() {
            text.push_str(&format!(
                "not finished within {}: {}; what they held went to their dead-letter files, or stays in their disk buffer for the next start\n",
                humantime::format_duration(deadline),
                report.unfinished.join(", ")
            ));
        }
        let status = if dead > 0 || dropped > 0 || lost > 0 || !stuck.is_empty() {
            let lost = if lost > 0 {
                format!(", {lost} lost (neither delivered nor dead-lettered; see the errors above)")
            } else {
                String::new()
            };
            text.push_str(&format!(
                "exit status 3: not everything accepted was delivered: {dead} record(s) dead-lettered, {dropped} dropped{lost}{}\n",
                if stuck.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", and a batch may be lost inside a call that did not return ({})",
                        stuck.join(", ")
                    )
                }
            ));
            3
        } else if buffered > 0 {
            text.push_str(&format!(
                "exit status 4: nothing was lost; {buffered} batch(es) stay in disk buffers and are delivered at the next start\n"
            ));
            4
        } else {
            0
        };
        Self { text, status }
    }

    /// Writes the whole text to stderr in one go, so no other line lands
    /// inside the table.
    pub fn print(&self) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(self.text.as_bytes());
        let _ = stderr.flush();
    }

    /// The status as the process's exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.status)
    }
}
