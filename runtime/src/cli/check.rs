//! `sinkbox check`: the conformance suite, for sink authors.

use std::path::PathBuf;
use std::process::ExitCode;

use sinkbox::registry::{OptionKind, OptionValue};
use std::sync::Arc;

use sinkbox::wasm::{
    DirGrant, HttpGrant, SinkEgress, WasmEngine, WasmSinkOptions, parse_allow_entry, run_batches,
    run_conformance,
};

/// What `check` (and `dev`) run against.
#[derive(Clone, Debug, clap::Args)]
pub struct CheckArgs {
    /// The sink component file.
    pub component: PathBuf,
    /// A `key=value` passed to the sink's `start`; repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// A directory to grant the sink at `/data` (read-write).
    #[arg(long)]
    pub grant: Option<PathBuf>,
    /// The sink's memory cap.
    #[arg(long, default_value = "64MiB")]
    pub memory_limit: String,
    /// The deadline of one call.
    #[arg(long, default_value = "2s")]
    pub call_timeout: String,
    /// A URL the sink may request (as in `http_allow`); repeatable. The
    /// requests the sink made are listed after the steps.
    #[arg(long = "http-allow", value_name = "URL")]
    pub http_allow: Vec<String>,
    /// A host name in --http-allow that may resolve to a private address.
    #[arg(long = "http-private-host", value_name = "HOST")]
    pub http_private_host: Vec<String>,
    /// Instead of the suite, send the sink these records (one per line)
    /// and print every outcome. Exit 0 if every batch was accepted, 4 if
    /// some were not (retryable, rejected, partial), 1 if the sink broke.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// With --input: send every line as it is, JSON or not (to exercise
    /// the sink's `rejected` path).
    #[arg(long, requires = "input")]
    pub raw: bool,
    /// With --input: records per batch.
    #[arg(long, default_value_t = 1024, requires = "input")]
    pub batch_size: u32,
    /// Compile with Winch, wasmtime's baseline compiler: a Python or
    /// JavaScript sink starts in ~1.5 s instead of 7–10 s, and runs slower.
    /// For trying a sink, not for timing it.
    #[arg(long)]
    pub fast_start: bool,
}

/// How often `dev` looks at the files, and how long a file must stay the
/// same before it counts as rebuilt (a build writes it in pieces).
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The size and modification time of each watched file.
fn fingerprint(paths: &[&std::path::Path]) -> Vec<Option<(u64, std::time::SystemTime)>> {
    paths
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)))
        })
        .collect()
}

/// A guest's line with control characters escaped, so a sink cannot move
/// the cursor or clear the author's terminal.
fn escaped(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape: Vec<char> = if c.is_control() {
                c.escape_debug().collect()
            } else {
                vec![c]
            };
            escape
        })
        .collect()
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
                escaped(&line.message)
            );
        }
    }
}

/// `check`, or with `watch` (`sinkbox dev`) the same again after every
/// change of the component or the input, until interrupted.
pub fn check(args: &CheckArgs, watch: bool) -> anyhow::Result<ExitCode> {
    if !watch {
        return check_once(args);
    }
    let mut watched = vec![args.component.as_path()];
    if let Some(input) = &args.input {
        watched.push(input.as_path());
    }
    println!(
        "sinkbox dev: checking {} now and after every change (Ctrl-C to stop)",
        args.component.display()
    );
    let mut seen = fingerprint(&watched);
    let mut round = 1u64;
    loop {
        let code = check_once(args)?;
        println!("--- round {round}: {code:?}; waiting for a change");
        loop {
            std::thread::sleep(WATCH_POLL);
            let now = fingerprint(&watched);
            if now == seen || now.iter().any(Option::is_none) {
                continue;
            }
            // Changed: wait until it holds still (the build has finished).
            std::thread::sleep(WATCH_POLL);
            if fingerprint(&watched) == now {
                seen = now;
                break;
            }
        }
        round += 1;
        println!("--- round {round}: a watched file changed");
    }
}

fn check_once(args: &CheckArgs) -> anyhow::Result<ExitCode> {
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
    // The author's loop: rebuilt components recompile only what changed,
    // or, with --fast-start, compile quickly with the baseline compiler.
    let engine = if args.fast_start {
        WasmEngine::fast_start(WasmEngine::default_cache_dir())?
    } else {
        WasmEngine::incremental(WasmEngine::default_cache_dir())?
    };
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
