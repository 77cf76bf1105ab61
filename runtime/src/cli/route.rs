//! `sinkbox route`: a dry run of the routing table. For each record of a
//! sample, which sinks would take it; nothing is started or sent.

use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::ConfigArgs;
use super::input_lines::{Line, LineReader};
use super::run::{InputFormat, text_record};
use super::when_fields::WhenFields;

/// Longest record text printed before it is cut.
const SHOWN_RECORD: usize = 160;

pub fn route(
    sources: &ConfigArgs,
    input: &Path,
    format: InputFormat,
    max_record_bytes: u64,
) -> anyhow::Result<ExitCode> {
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
    let mut fields = WhenFields::new(&config);
    let mut lines = LineReader::new(BufReader::new(reader), max_record_bytes);
    let mut buf = Vec::new();
    loop {
        let found = lines.next_line(&mut buf).context("cannot read the input")?;
        match found {
            Line::End => break,
            Line::Oversized(bytes) => {
                number += 1;
                println!(
                    "{number}: ({bytes} bytes)\n   longer than --max-record-bytes: `sinkbox run` skips this line"
                );
                count("(too long)");
                continue;
            }
            Line::Complete => {}
        }
        let text;
        let line: &[u8] = match format {
            InputFormat::Json => buf.trim_ascii(),
            InputFormat::Text => {
                text = serde_json::to_vec(&text_record(&buf))?;
                &text
            }
            InputFormat::Auto => {
                let trimmed = buf.trim_ascii();
                if serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok() {
                    trimmed
                } else {
                    text = serde_json::to_vec(&text_record(&buf))?;
                    &text
                }
            }
        };
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
        fields.see(line);
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
    for warning in fields.never_seen() {
        println!("warning: {warning}");
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
