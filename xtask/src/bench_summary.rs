//! `target/bench/summary.json`: every bench's result file in one place, with
//! the side-by-side ratios pulled out so a reader (or a script comparing two
//! runs) finds them without knowing each bench's layout.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

/// Combines `target/bench/<bench>.json` into `summary.json` and prints the
/// ratios. A bench that wrote nothing is listed as missing, not an error.
pub fn write(root: &Path, benches: &[&str]) -> Result<()> {
    let dir = root.join("target").join("bench");
    let mut results = Map::new();
    let mut ratios = Map::new();
    let mut missing = Vec::new();
    for bench in benches {
        let path = dir.join(format!("{bench}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            missing.push(Value::from(*bench));
            continue;
        };
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        collect_ratios(bench, &value, &mut ratios);
        results.insert((*bench).to_owned(), value);
    }
    let summary = serde_json::json!({
        "machine": machine(),
        "ratios": ratios,
        "missing": missing,
        "results": results,
    });
    let out = dir.join("summary.json");
    std::fs::write(&out, serde_json::to_string_pretty(&summary)?)?;
    println!("\nratios measured side by side (higher is better for sinkbox):");
    for (name, ratio) in &ratios {
        println!("  {name:<64} {:.3}", ratio.as_f64().unwrap_or(f64::NAN));
    }
    println!("wrote {}", out.display());
    Ok(())
}

/// Numbers named `ratio`, `*_ratio` or `*_over_*`, keyed by their path.
fn collect_ratios(path: &str, value: &Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                let is_ratio = key == "ratio" || key.ends_with("_ratio") || key.contains("_over_");
                if is_ratio && child.is_number() {
                    out.insert(child_path, child.clone());
                } else {
                    collect_ratios(&child_path, child, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                // Rows that say what they are (a batch size) name themselves.
                let label = child
                    .get("batch")
                    .map(|b| format!("batch_{b}"))
                    .unwrap_or_else(|| i.to_string());
                collect_ratios(&format!("{path}[{label}]"), child, out);
            }
        }
        _ => {}
    }
}

/// The machine the figures belong to: CPUs, kernel and the time of the run.
fn machine() -> Value {
    let uname = |flag: &str| {
        std::process::Command::new("uname")
            .arg(flag)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        });
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": cpu_model,
        "kernel": uname("-r"),
        "arch": uname("-m"),
        "date": date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_found_at_any_depth_and_named_by_their_path() {
        let value = serde_json::json!({
            "mmap_over_bufwriter": 0.66,
            "pipeline_batch_1024": { "native_records_per_sec": 6.0e6, "ratio": 1.0 },
            "sink_write": [{ "batch": 64, "ratio": 0.34 }, { "other": { "copy_ratio": 2.0 } }],
            "note": "ratio",
            "emit_4_over_1_threads": "not a number",
        });
        let mut ratios = Map::new();
        collect_ratios("bench", &value, &mut ratios);
        let mut names: Vec<&str> = ratios.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "bench.mmap_over_bufwriter",
                "bench.pipeline_batch_1024.ratio",
                "bench.sink_write[1].other.copy_ratio",
                "bench.sink_write[batch_64].ratio",
            ]
        );
        assert_eq!(ratios["bench.sink_write[batch_64].ratio"], 0.34);
    }
}
