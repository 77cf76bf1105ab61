//! What `sinkbox top` shows of one endpoint: per source and per sink,
//! rates between two scrapes and the gauges of the last one, as aligned
//! rows that fit a terminal over SSH.

use std::collections::BTreeSet;

use super::scrape::Scrape;

/// The rows for one endpoint, from its last two scrapes (`before` is
/// `None` on the first, so rates show as `-`).
pub fn endpoint_rows(before: Option<&Scrape>, now: &Scrape) -> String {
    let seconds = before.map(|b| now.at.duration_since(b.at).as_secs_f64().max(0.001));
    let rate = |name: &str, label: &str, value: &str| -> Option<f64> {
        let (before, seconds) = (before?, seconds?);
        let delta = now.sum(name, label, value) - before.sum(name, label, value);
        // A restarted process starts its counters again: no rate then.
        (delta >= 0.0).then(|| delta / seconds)
    };
    let mut out = String::new();
    let sources = names(now, "sinkbox_source_records_total", "source");
    if !sources.is_empty() {
        out.push_str(&format!(
            "  {:<16} {:>10} {:>8} {:>9} {:>8} {:>8} {:>9}\n",
            "SOURCE", "IN rec/s", "req/s", "accepted", "bad", "unavail", "settle ms"
        ));
        for source in &sources {
            let answers = |answer: &str| {
                now.of("sinkbox_source_responses_total")
                    .filter(|(l, _)| {
                        l.get("source") == Some(source)
                            && l.get("answer").map(String::as_str) == Some(answer)
                    })
                    .map(|(_, v)| v)
                    .sum::<f64>()
            };
            let settle = {
                let sum = now.sum("sinkbox_source_ack_latency_seconds_sum", "source", source);
                let count = now.sum("sinkbox_source_ack_latency_seconds_count", "source", source);
                (count > 0.0).then(|| sum / count * 1000.0)
            };
            out.push_str(&format!(
                "  {:<16} {:>10} {:>8} {:>9} {:>8} {:>8} {:>9}\n",
                clip(source, 16),
                per_second(rate("sinkbox_source_records_total", "source", source)),
                per_second(rate("sinkbox_source_requests_total", "source", source)),
                whole(answers("accepted")),
                whole(answers("bad_request")),
                whole(answers("unavailable")),
                settle.map_or("-".to_owned(), |ms| format!("{ms:.1}")),
            ));
        }
    }
    let sinks = names(now, "sinkbox_sink_records_total", "sink");
    out.push_str(&format!(
        "  {:<16} {:>10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9} {:<10} {}\n",
        "SINK",
        "OUT rec/s",
        "fail/s",
        "retry/s",
        "dead",
        "dropped",
        "lost",
        "queue",
        "buffer",
        "health",
        "failing as"
    ));
    for sink in &sinks {
        let health = now
            .of("sinkbox_sink_health")
            .find(|(l, v)| l.get("sink") == Some(sink) && *v > 0.0)
            .and_then(|(l, _)| l.get("state").cloned())
            .unwrap_or_else(|| "-".into());
        let failing: Vec<String> = now
            .of("sinkbox_sink_errors_total")
            .filter(|(l, _)| l.get("sink") == Some(sink))
            .filter_map(|(l, _)| {
                let outcome = l.get("outcome")?;
                let per_second = rate_of(
                    before,
                    now,
                    seconds,
                    "sinkbox_sink_errors_total",
                    sink,
                    outcome,
                )?;
                (per_second > 0.0).then(|| format!("{outcome} {per_second:.1}/s"))
            })
            .collect();
        let held = rate("sinkbox_sink_deferred_total", "sink", sink).unwrap_or(0.0);
        let mut failing = failing.join(", ");
        if held > 0.0 {
            if !failing.is_empty() {
                failing.push_str(", ");
            }
            failing.push_str("breaker open");
        }
        let buffer = now
            .of("sinkbox_sink_buffer_bytes")
            .find(|(l, _)| l.get("sink") == Some(sink))
            .map_or("-".to_owned(), |(_, bytes)| {
                bytesize::ByteSize(bytes as u64).to_string()
            });
        out.push_str(&format!(
            "  {:<16} {:>10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9} {:<10} {}\n",
            clip(sink, 16),
            per_second(rate("sinkbox_sink_records_total", "sink", sink)),
            per_second(rate("sinkbox_sink_errors_total", "sink", sink)),
            per_second(rate("sinkbox_sink_retries_total", "sink", sink)),
            whole(now.sum("sinkbox_sink_dead_lettered_total", "sink", sink)),
            whole(now.sum("sinkbox_sink_dropped_total", "sink", sink)),
            whole(now.sum("sinkbox_sink_lost_total", "sink", sink)),
            whole(now.sum("sinkbox_sink_queue_depth", "sink", sink)),
            buffer,
            health,
            failing,
        ));
    }
    out
}

/// `outcome`'s rate of `name` for one sink.
fn rate_of(
    before: Option<&Scrape>,
    now: &Scrape,
    seconds: Option<f64>,
    name: &str,
    sink: &str,
    outcome: &str,
) -> Option<f64> {
    let value = |scrape: &Scrape| -> f64 {
        scrape
            .of(name)
            .filter(|(l, _)| {
                l.get("sink").map(String::as_str) == Some(sink)
                    && l.get("outcome").map(String::as_str) == Some(outcome)
            })
            .map(|(_, v)| v)
            .sum()
    };
    let (before, seconds) = (before?, seconds?);
    let delta = value(now) - value(before);
    (delta >= 0.0).then(|| delta / seconds)
}

/// The values of `label` on `metric`, in order.
fn names(scrape: &Scrape, metric: &str, label: &str) -> BTreeSet<String> {
    scrape
        .of(metric)
        .filter_map(|(labels, _)| labels.get(label).cloned())
        .collect()
}

fn per_second(rate: Option<f64>) -> String {
    match rate {
        None => "-".into(),
        Some(r) if r >= 10_000.0 => format!("{:.0}k", r / 1000.0),
        Some(r) if r >= 100.0 => format!("{r:.0}"),
        Some(r) => format!("{r:.1}"),
    }
}

fn whole(value: f64) -> String {
    format!("{value:.0}")
}

/// At most `width` characters, so a long name cannot push the columns.
fn clip(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        return name.to_owned();
    }
    let mut clipped: String = name.chars().take(width - 1).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::top::scrape::parse;
    use std::time::{Duration, Instant};

    #[test]
    fn rates_come_from_two_scrapes_and_causes_are_named() {
        let at = Instant::now();
        let page = |records: u64, errors: u64| {
            format!(
                "sinkbox_sink_records_total{{sink=\"web\"}} {records}\n\
                 sinkbox_sink_errors_total{{sink=\"web\",outcome=\"retryable\"}} {errors}\n\
                 sinkbox_sink_health{{sink=\"web\",state=\"degraded\"}} 1\n\
                 sinkbox_sink_health{{sink=\"web\",state=\"healthy\"}} 0\n\
                 sinkbox_source_records_total{{source=\"edge\"}} {records}\n"
            )
        };
        let first = Scrape {
            at,
            samples: parse(&page(100, 0)),
        };
        let second = Scrape {
            at: at + Duration::from_secs(2),
            samples: parse(&page(2100, 4)),
        };
        let rows = endpoint_rows(Some(&first), &second);
        assert!(rows.contains("SOURCE"), "{rows}");
        let web = rows
            .lines()
            .find(|l| l.trim_start().starts_with("web"))
            .unwrap();
        assert!(web.contains("1000"), "{web}");
        assert!(web.contains("degraded"), "{web}");
        assert!(web.contains("retryable 2.0/s"), "{web}");
        let first_rows = endpoint_rows(None, &first);
        assert!(
            first_rows
                .lines()
                .any(|l| l.trim_start().starts_with("web") && l.contains(" - ")),
            "{first_rows}"
        );
        assert_eq!(clip("a-very-long-sink-name-indeed", 16).chars().count(), 16);
    }
}
