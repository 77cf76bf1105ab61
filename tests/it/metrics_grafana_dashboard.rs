//! The Grafana dashboard kept in `deploy/grafana/` asks only for what
//! sinkbox exports: every metric in its queries is one `sinkbox run
//! --metrics-addr` serves, and every label it groups or filters by is one
//! those metrics carry (or one Prometheus adds when scraping).

use std::collections::{BTreeMap, BTreeSet};

/// Labels Prometheus adds to every scraped sample.
const SCRAPE_LABELS: &[&str] = &["instance", "job"];

/// Each sample name `sinkbox run` serves with the labels it carries, from a
/// run with a source, a disk buffer and a route (so every family shows).
fn exported() -> BTreeMap<String, BTreeSet<String>> {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::config_file(
        dir.path(),
        "[runtime]\ndata_dir = \"data\"\n\
         [sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:0\"\n\
         [sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n\
         [sinks.archive]\ntype = \"file\"\npath = \"archive.ndjson\"\nbuffer = { type = \"disk\" }\n\
         [sinks.router]\ntype = \"route\"\nrules = [{ when = 'level == \"error\"', targets = [\"out\"] }]\n",
    );
    let mut child = crate::support::spawn_sinkbox_run(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--metrics-addr".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let (stderr, _reader) = crate::support::collect_stderr(&mut child);
    let url = crate::support::wait_for_lines(&stderr, &["metrics at "]).remove(0);
    let text = reqwest::blocking::get(&url).unwrap().text().unwrap();
    crate::support::terminate(&mut child);
    let mut samples: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap();
        let labels = samples.entry(line[..name_end].to_owned()).or_default();
        if let Some(inner) = line[name_end..].strip_prefix('{') {
            for pair in inner.split('}').next().unwrap().split(',') {
                labels.insert(pair.split('=').next().unwrap().to_owned());
            }
        }
    }
    samples
}

/// The metric names in a PromQL expression.
fn metrics_in(expr: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("sinkbox_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        found.push(name);
    }
    found
}

/// The labels an expression groups by (`by (a, b)`) or matches on
/// (`{a="…", b=~"…"}`).
fn labels_in(expr: &str) -> Vec<String> {
    let mut labels = Vec::new();
    for part in expr.split("by (").skip(1) {
        let list = part.split(')').next().unwrap();
        labels.extend(list.split(',').map(|l| l.trim().to_owned()));
    }
    for part in expr.split('{').skip(1) {
        let matchers = part.split('}').next().unwrap();
        for matcher in matchers.split(',') {
            let name: String = matcher
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                labels.push(name);
            }
        }
    }
    labels
}

#[test]
fn the_grafana_dashboard_asks_only_for_what_sinkbox_exports() {
    let exported = exported();
    let path = crate::support::workspace_root().join("deploy/grafana/sinkbox-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut queries = 0;
    let mut used = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            queries += 1;
            let metrics = metrics_in(expr);
            assert!(!metrics.is_empty(), "{expr}: no sinkbox metric");
            let mut labels: BTreeSet<String> =
                SCRAPE_LABELS.iter().map(|l| l.to_string()).collect();
            for metric in &metrics {
                let carried = exported.get(metric).unwrap_or_else(|| {
                    panic!(
                        "`{metric}` in \"{}\" is not exported; sinkbox serves {:?}",
                        panel["title"],
                        exported.keys()
                    )
                });
                labels.extend(carried.iter().cloned());
                used.insert(metric.clone());
            }
            for label in labels_in(expr) {
                assert!(
                    labels.contains(&label),
                    "label `{label}` in {expr} is not on {metrics:?} (they carry {labels:?})"
                );
            }
        }
    }
    assert!(queries >= 10, "{queries} queries");
    // The families a fleet is run by are on the dashboard.
    for family in [
        "sinkbox_source_records_total",
        "sinkbox_source_responses_total",
        "sinkbox_sink_records_total",
        "sinkbox_sink_errors_total",
        "sinkbox_sink_lost_total",
        "sinkbox_sink_queue_depth",
        "sinkbox_sink_health",
        "sinkbox_sink_buffer_bytes",
    ] {
        assert!(used.contains(family), "{family} is not on the dashboard");
    }
}
