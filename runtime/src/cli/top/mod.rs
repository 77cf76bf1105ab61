//! `sinkbox top [ADDR…]`: a live view, refreshed each second, of one or
//! more running sinkboxes' `/metrics` (`sinkbox run --metrics-addr`): per
//! source and per sink the rates in and out, failures by cause, what was
//! dead-lettered, dropped or lost, queue and buffer depth, breaker and
//! health. Plain text and ANSI cursor moves only, so it works over SSH and
//! in any terminal; `--once` prints one view (two scrapes a second apart)
//! and exits, for scripts.

mod scrape;
mod view;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scrape::{Scrape, scrape};

/// Runs `sinkbox top`.
pub fn top(addresses: &[String], interval: Duration, once: bool) -> anyhow::Result<ExitCode> {
    let endpoints: Vec<String> = if addresses.is_empty() {
        vec![endpoint("127.0.0.1:9598")]
    } else {
        addresses.iter().map(|a| endpoint(a)).collect()
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let mut last: Vec<Option<Scrape>> = endpoints.iter().map(|_| None).collect();
    let mut out = std::io::stdout();
    if !once {
        // The alternate screen, so the shell's scrollback is left as it was.
        write!(out, "\x1b[?1049h\x1b[?25l")?;
    }
    let mut rounds = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut page = format!(
            "sinkbox top: {} endpoint(s), every {:?}{}\n",
            endpoints.len(),
            interval,
            if once { "" } else { " (Ctrl-C to quit)" }
        );
        for (url, last) in endpoints.iter().zip(&mut last) {
            page.push('\n');
            page.push_str(url);
            page.push('\n');
            match scrape(&client, url) {
                Ok(now) => {
                    page.push_str(&view::endpoint_rows(last.as_ref(), &now));
                    *last = Some(now);
                }
                Err(why) => {
                    page.push_str(&format!("  unreachable: {}\n", bounded(&why)));
                    *last = None;
                }
            }
        }
        rounds += 1;
        if once {
            if rounds == 2 {
                print!("{page}");
                return Ok(ExitCode::SUCCESS);
            }
        } else {
            // Home, the page, and clear what an older, longer page left.
            write!(out, "\x1b[H{}\x1b[J", page.replace('\n', "\x1b[K\n"))?;
            out.flush()?;
        }
        let mut slept = Duration::ZERO;
        while slept < interval && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            slept += Duration::from_millis(50);
        }
    }
    write!(out, "\x1b[?25h\x1b[?1049l")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `host:port` → `http://host:port/metrics`; a URL is taken as given.
fn endpoint(address: &str) -> String {
    if address.starts_with("http://") || address.starts_with("https://") {
        address.to_owned()
    } else {
        format!("http://{address}/metrics")
    }
}

/// An error from the network, cut to a line.
fn bounded(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(160).collect()
}
