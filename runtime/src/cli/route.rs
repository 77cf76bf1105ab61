//! `sinkbox route`: a dry run of the routing table. For each record of a
//! sample, which sinks would take it; nothing is started or sent.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::ConfigArgs;

/// Longest record text printed before it is cut.
const SHOWN_RECORD: usize = 160;

pub fn route(sources: &ConfigArgs, input: &Path) -> anyhow::Result<ExitCode> {
    let config = match sources.load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let reader: Box<dyn std::io::Read> = if input == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(input)
                .with_context(|| format!("cannot open the input `{}`", input.display()))?,
        )
    };
    let mut totals: Vec<(String, u64)> = Vec::new();
    let mut count = |name: &str| match totals.iter_mut().find(|(n, _)| n == name) {
        Some((_, n)) => *n += 1,
        None => totals.push((name.to_owned(), 1)),
    };
    let mut number = 0u64;
    for line in BufReader::new(reader).split(b'\n') {
        let line = line.context("cannot read the input")?;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        number += 1;
        let shown = shown(line);
        if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
            println!("{number}: {shown}\n   not JSON: `sinkbox run` skips this line");
            count("(not JSON)");
            continue;
        }
        let preview = sinkbox::config::route_preview(&config, line);
        println!("{number}: {shown}");
        if preview.destinations.is_empty() {
            println!("   -> no sink");
            count("(no sink)");
        } else {
            println!("   -> {}", preview.destinations.join(", "));
        }
        for destination in &preview.destinations {
            count(destination);
        }
        for route in &preview.unrouted {
            println!("   unrouted at {route}");
            count(&format!("unrouted at {route}"));
        }
    }
    println!("\n{number} record(s):");
    for (name, n) in &totals {
        println!("  {n:>8}  {name}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The record as printed: valid UTF-8, control characters escaped, cut.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out: String = text
        .chars()
        .take(SHOWN_RECORD)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > SHOWN_RECORD {
        out.push('…');
    }
    out
}
