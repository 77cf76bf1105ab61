//! The pipeline's counters in the Prometheus text format (version 0.0.4),
//! what `sinkbox run --metrics-addr` serves at `/metrics` and what an
//! embedding application can serve itself with [`Pipeline::prometheus_text`].
//!
//! [`Pipeline::prometheus_text`]: super::Pipeline::prometheus_text

use std::fmt::Write;

use super::SinkStats;
use crate::sink::Health;

/// One metric family: name, type, help, and a value per sink.
struct Family<'a> {
    name: &'a str,
    kind: &'a str,
    help: &'a str,
    values: Vec<(String, String, f64)>,
}

/// `value` as a label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The counters of every sink, and their health, as Prometheus text.
pub fn render(stats: &[SinkStats], health: &[(String, Health)]) -> String {
    let mut families: Vec<Family> = Vec::new();
    let mut family = |name, kind, help, value: &dyn Fn(&SinkStats) -> Option<f64>| {
        families.push(Family {
            name,
            kind,
            help,
            values: stats
                .iter()
                .filter_map(|s| value(s).map(|v| (label(&s.name), String::new(), v)))
                .collect(),
        });
    };
    let n = |v: u64| Some(v as f64);
    family(
        "sinkbox_sink_records_total",
        "counter",
        "Records the sink accepted.",
        &|s| n(s.records),
    );
    family(
        "sinkbox_sink_bytes_total",
        "counter",
        "Bytes of the records the sink accepted.",
        &|s| n(s.bytes),
    );
    family(
        "sinkbox_sink_batches_total",
        "counter",
        "Batches fully accepted.",
        &|s| n(s.batches),
    );
    family(
        "sinkbox_sink_retries_total",
        "counter",
        "Times a batch (or its tail) was sent again.",
        &|s| n(s.retries),
    );
    family(
        "sinkbox_sink_lost_total",
        "counter",
        "Records neither delivered nor written to the dead-letter file.",
        &|s| n(s.lost),
    );
    family(
        "sinkbox_sink_deferred_total",
        "counter",
        "Times a batch was held back unsent while the sink's circuit breaker was open.",
        &|s| n(s.deferred),
    );
    family(
        "sinkbox_sink_dropped_by_destination_total",
        "counter",
        "Records the destination took and then said it dropped, without saying which.",
        &|s| n(s.dropped_by_destination),
    );
    family(
        "sinkbox_sink_indeterminate_total",
        "counter",
        "Records sent again because whether a call delivered them was unknown (a timeout after sending).",
        &|s| n(s.indeterminate),
    );
    family(
        "sinkbox_sink_dropped_total",
        "counter",
        "Records dropped by the overflow policy or a full disk buffer.",
        &|s| n(s.dropped),
    );
    family(
        "sinkbox_sink_dead_lettered_total",
        "counter",
        "Records written to the dead-letter file.",
        &|s| n(s.dead_lettered),
    );
    family(
        "sinkbox_sink_restarts_total",
        "counter",
        "Restarts after a fatal outcome or a crash.",
        &|s| n(s.restarts),
    );
    family(
        "sinkbox_sink_reloads_total",
        "counter",
        "Reloads that took effect.",
        &|s| n(s.reloads),
    );
    family(
        "sinkbox_sink_reload_failures_total",
        "counter",
        "Reloads refused.",
        &|s| n(s.reload_failures),
    );
    family(
        "sinkbox_sink_rollbacks_total",
        "counter",
        "Reloads undone after the new module faulted.",
        &|s| n(s.rollbacks),
    );
    family(
        "sinkbox_sink_matched_total",
        "counter",
        "Records handed to the sink (those its `when` kept).",
        &|s| n(s.matched),
    );
    family(
        "sinkbox_sink_skipped_total",
        "counter",
        "Records its `when` left out.",
        &|s| n(s.skipped),
    );
    family(
        "sinkbox_sink_queue_depth",
        "gauge",
        "Batches waiting in the sink's queue.",
        &|s| n(s.queue_depth),
    );
    family(
        "sinkbox_sink_buffer_bytes",
        "gauge",
        "Bytes of the sink's disk buffer on disk.",
        &|s| s.buffer.as_ref().map(|b| b.bytes as f64),
    );
    family(
        "sinkbox_sink_buffer_batches",
        "gauge",
        "Batches in the disk buffer not yet delivered.",
        &|s| s.buffer.as_ref().map(|b| b.batches as f64),
    );
    family(
        "sinkbox_sink_buffer_oldest_seconds",
        "gauge",
        "Age of the oldest undelivered batch in the disk buffer.",
        &|s| {
            s.buffer
                .as_ref()
                .map(|b| b.oldest_undelivered_ms as f64 / 1000.0)
        },
    );
    family(
        "sinkbox_sink_buffer_corrupt_records_total",
        "counter",
        "Records found damaged in the disk buffer and skipped.",
        &|s| s.buffer.as_ref().map(|b| b.corrupt_records as f64),
    );
    family(
        "sinkbox_sink_guest_log_dropped_total",
        "counter",
        "Guest log lines dropped over the sink's log budget.",
        &|s| n(s.guest_log_dropped),
    );
    let mut errors = Family {
        name: "sinkbox_sink_errors_total",
        kind: "counter",
        help: "Failed calls, by outcome.",
        values: Vec::new(),
    };
    for s in stats {
        for (outcome, count) in [
            ("retryable", s.errors.retryable),
            ("rejected", s.errors.rejected),
            ("partial", s.errors.partial),
            ("fatal", s.errors.fatal),
        ] {
            errors.values.push((
                label(&s.name),
                format!(",outcome=\"{outcome}\""),
                count as f64,
            ));
        }
    }
    families.push(errors);
    let mut routed = Family {
        name: "sinkbox_route_routed_total",
        kind: "counter",
        help: "Records a route composite handed to each target.",
        values: Vec::new(),
    };
    for s in stats {
        for (target, count) in &s.routed {
            routed.values.push((
                label(&s.name),
                format!(",target=\"{}\"", label(target)),
                *count as f64,
            ));
        }
    }
    families.push(routed);
    let mut up = Family {
        name: "sinkbox_sink_health",
        kind: "gauge",
        help: "1 for the sink's current health (healthy, degraded or unhealthy), 0 for the others.",
        values: Vec::new(),
    };
    for (name, health) in health {
        let now = match health {
            Health::Healthy => "healthy",
            Health::Degraded(_) => "degraded",
            Health::Unhealthy(_) => "unhealthy",
        };
        for state in ["healthy", "degraded", "unhealthy"] {
            up.values.push((
                label(name),
                format!(",state=\"{state}\""),
                f64::from(u8::from(state == now)),
            ));
        }
    }
    families.push(up);
    let mut out = String::new();
    for family in families.iter().filter(|f| !f.values.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for (sink, more, value) in &family.values {
            let _ = writeln!(out, "{}{{sink=\"{sink}\"{more}}} {value}", family.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_health_render_as_prometheus_text() {
        let stats = SinkStats {
            name: "web\"1".into(),
            records: 42,
            routed: vec![("a".into(), 3)],
            ..SinkStats::default()
        };
        let text = render(
            &[stats],
            &[("web\"1".into(), Health::Degraded("slow".into()))],
        );
        assert!(text.contains("# TYPE sinkbox_sink_records_total counter\nsinkbox_sink_records_total{sink=\"web\\\"1\"} 42\n"), "{text}");
        assert!(text.contains("sinkbox_sink_errors_total{sink=\"web\\\"1\",outcome=\"fatal\"} 0"));
        assert!(text.contains("sinkbox_route_routed_total{sink=\"web\\\"1\",target=\"a\"} 3"));
        assert!(text.contains("sinkbox_sink_health{sink=\"web\\\"1\",state=\"degraded\"} 1"));
        assert!(text.contains("sinkbox_sink_health{sink=\"web\\\"1\",state=\"healthy\"} 0"));
        // No disk buffer: no buffer families at all.
        assert!(!text.contains("sinkbox_sink_buffer"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
        }
    }
}
