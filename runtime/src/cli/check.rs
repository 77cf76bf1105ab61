//! `sinkbox check`: the conformance suite, for sink authors.

use std::path::PathBuf;
use std::process::ExitCode;

use sinkbox::registry::{OptionKind, OptionValue};
use std::sync::Arc;

use sinkbox::wasm::{
    DirGrant, HttpGrant, SinkEgress, WasmEngine, WasmSinkOptions, parse_allow_entry, run_batches,
    run_conformance,
};

pub struct CheckArgs {
    pub component: PathBuf,
    pub config: Vec<String>,
    pub grant: Option<PathBuf>,
    pub memory_limit: String,
    pub call_timeout: String,
    pub http_allow: Vec<String>,
    pub http_private_host: Vec<String>,
    pub input: Option<PathBuf>,
    pub raw: bool,
    pub batch_size: u32,
}

/// What `check --input` exits with when the sink worked but did not
/// accept every batch (`retryable`, `rejected`, `partial`).
const EXIT_REFUSED: u8 = 4;

/// The records of `path`, one per line, as batches of `batch_size`. Without
/// `raw`, every non-empty line must be one JSON value (what `sinkbox run`
/// would pass on); with it, every line goes as it is.
fn input_batches(
    path: &std::path::Path,
    raw: bool,
    batch_size: u32,
) -> Result<Vec<sinkbox::Batch>, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut records: Vec<&[u8]> = Vec::new();
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if raw {
            records.push(line);
            continue;
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            return Err(format!(
                "line {} of `{}` is not one JSON value ({e}); `sinkbox run` would skip it. Pass --raw to send every line as it is",
                index + 1,
                path.display()
            ));
        }
        records.push(line.trim_ascii());
    }
    if raw && bytes.ends_with(b"\n") {
        records.pop();
    }
    let size = batch_size.max(1) as usize;
    Ok(records
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| sinkbox::Batch::from_records(chunk, (i * size) as u64))
        .collect())
}

fn print_steps(report: &sinkbox::wasm::ConformanceReport) {
    for step in &report.steps {
        println!(
            "  {} {:<36} {:>9.1?}  {}",
            if step.passed { "pass" } else { "FAIL" },
            step.name,
            step.elapsed,
            step.detail
        );
        for line in &step.guest_log {
            println!(
                "         guest {} [{}]: {}",
                format!("{:?}", line.level).to_lowercase(),
                line.stream.as_str(),
                line.message
            );
        }
    }
}

pub fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut config = Vec::new();
    for pair in &args.config {
        let Some((key, value)) = pair.split_once('=') else {
            eprintln!(
                "error: --config `{pair}`: expected key=value, such as --config min_level=warn"
            );
            return Ok(ExitCode::from(2));
        };
        config.push((key.to_owned(), value.to_owned()));
    }
    // The same parsers as the config's `memory_limit` and `call_timeout`.
    let memory_limit = match OptionKind::Size.parse(&args.memory_limit) {
        Ok(OptionValue::Size(size)) if size >= 64 * 1024 => size,
        Ok(_) => {
            eprintln!(
                "error: --memory-limit `{}`: must be at least 64KiB (one wasm page)",
                args.memory_limit
            );
            return Ok(ExitCode::from(2));
        }
        Err(why) => {
            eprintln!("error: --memory-limit: {why}");
            return Ok(ExitCode::from(2));
        }
    };
    let call_timeout = match OptionKind::Duration.parse(&args.call_timeout) {
        Ok(OptionValue::Duration(timeout)) if !timeout.is_zero() => timeout,
        Ok(_) => {
            eprintln!(
                "error: --call-timeout `{}`: must be more than zero, such as 2s",
                args.call_timeout
            );
            return Ok(ExitCode::from(2));
        }
        Err(why) => {
            eprintln!("error: --call-timeout: {why}");
            return Ok(ExitCode::from(2));
        }
    };
    let egress = if args.http_allow.is_empty() {
        None
    } else {
        let no_secrets = |name: &str| {
            Err(format!(
                "`${{secret:{name}}}`: check has no [secrets]; allow the URL without the placeholder"
            ))
        };
        let mut allow = Vec::new();
        for entry in &args.http_allow {
            match parse_allow_entry(entry, &no_secrets) {
                Ok(entry) => allow.push(entry),
                Err(why) => {
                    eprintln!("error: --http-allow {why}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        let mut grant = HttpGrant::new(allow);
        grant.private_hosts = args
            .http_private_host
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        grant.methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
            .map(String::from)
            .to_vec();
        match SinkEgress::new("check", grant) {
            Ok(egress) => Some(Arc::new(egress)),
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(ExitCode::from(2));
            }
        }
    };
    let engine = WasmEngine::new(WasmEngine::default_cache_dir())?;
    let options = WasmSinkOptions {
        memory_limit,
        call_timeout,
        grant: args.grant.as_ref().map(|dir| DirGrant {
            host_path: dir.clone(),
            guest_path: "/data".into(),
            read_only: false,
        }),
        config,
        http: egress.clone(),
        ..WasmSinkOptions::default()
    };
    if let Some(input) = &args.input {
        let batches = match input_batches(input, args.raw, args.batch_size) {
            Ok(batches) => batches,
            Err(why) => {
                eprintln!("error: --input: {why}");
                return Ok(ExitCode::from(2));
            }
        };
        let run = run_batches(&engine, &args.component, options, &batches);
        println!(
            "checking {} with {}",
            args.component.display(),
            input.display()
        );
        print_steps(&run.report);
        let failed = run.report.steps.iter().filter(|s| !s.passed).count();
        return Ok(if failed > 0 {
            println!("failed: {failed} of {} steps", run.report.steps.len());
            ExitCode::from(1)
        } else if run.refused > 0 {
            println!(
                "refused: {} of {} batch(es) not accepted",
                run.refused,
                batches.len()
            );
            ExitCode::from(EXIT_REFUSED)
        } else {
            println!("ok: {} batch(es) accepted", batches.len());
            ExitCode::SUCCESS
        });
    }
    let report = run_conformance(&engine, &args.component, options);
    println!("checking {}", args.component.display());
    print_steps(&report);
    if let Some(egress) = &egress {
        let stats = egress.stats();
        println!(
            "http: {} sent, {} refused, {} failed; {} bytes out, {} bytes in",
            stats.requests, stats.refused, stats.failed, stats.bytes_out, stats.bytes_in
        );
        for request in egress.recent_requests() {
            println!(
                "  {} {} -> {}",
                request.method, request.url, request.outcome
            );
        }
    }
    let failed = report.steps.iter().filter(|s| !s.passed).count();
    if failed == 0 {
        println!("ok: {} steps passed", report.steps.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("failed: {failed} of {} steps", report.steps.len());
        Ok(ExitCode::from(1))
    }
}
