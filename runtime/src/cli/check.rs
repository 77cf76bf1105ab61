//! `sinkbox check`: the conformance suite, for sink authors.

use std::path::PathBuf;
use std::process::ExitCode;

use sinkbox::registry::{OptionKind, OptionValue};
use std::sync::Arc;

use sinkbox::wasm::{
    DirGrant, HttpGrant, SinkEgress, WasmEngine, WasmSinkOptions, parse_allow_entry,
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
    let report = run_conformance(&engine, &args.component, options);
    println!("checking {}", args.component.display());
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
