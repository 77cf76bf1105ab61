//! The sources' counters in the Prometheus text format, for `/metrics`
//! beside the sinks'.

use super::stats::SourceStats;

/// Every family, one sample per source (names are config names: letters,
/// digits, `_` and `-`, safe as label values).
pub fn prometheus_text(sources: &[(String, SourceStats)]) -> String {
    if sources.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let family = |out: &mut String, name: &str, help: &str, value: &dyn Fn(&SourceStats) -> u64| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for (source, stats) in sources {
            out.push_str(&format!("{name}{{source=\"{source}\"}} {}\n", value(stats)));
        }
    };
    family(
        &mut out,
        "sinkbox_source_requests_total",
        "Requests received on the source's records path.",
        &|s| s.requests,
    );
    family(
        &mut out,
        "sinkbox_source_records_total",
        "Records the source took into the pipeline.",
        &|s| s.records,
    );
    family(
        &mut out,
        "sinkbox_source_bytes_total",
        "Request body bytes the source took, as received.",
        &|s| s.bytes,
    );
    let name = "sinkbox_source_responses_total";
    out.push_str(&format!(
        "# HELP {name} Requests answered, by answer.\n# TYPE {name} counter\n"
    ));
    for (source, stats) in sources {
        for (answer, count) in [
            ("accepted", stats.accepted),
            ("bad_request", stats.bad_requests),
            ("unauthorized", stats.unauthorized),
            ("unavailable", stats.unavailable),
        ] {
            out.push_str(&format!(
                "{name}{{source=\"{source}\",answer=\"{answer}\"}} {count}\n"
            ));
        }
    }
    let name = "sinkbox_source_ack_latency_seconds";
    out.push_str(&format!(
        "# HELP {name} Time from a request's records being queued to all of them settled (delivered, dead-lettered, dropped by policy or on disk), for requests answered 200 after waiting.\n# TYPE {name} summary\n"
    ));
    for (source, stats) in sources {
        out.push_str(&format!(
            "{name}_sum{{source=\"{source}\"}} {}\n{name}_count{{source=\"{source}\"}} {}\n",
            stats.ack_wait_us as f64 / 1e6,
            stats.acknowledged
        ));
    }
    out
}
