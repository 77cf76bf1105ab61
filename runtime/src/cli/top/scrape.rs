//! One scrape of a sinkbox `/metrics` endpoint, read into samples: the
//! Prometheus text format as sinkbox writes it (no timestamps, labels
//! quoted and escaped).

use std::collections::BTreeMap;
use std::time::Instant;

/// A sample's labels.
pub type Labels = BTreeMap<String, String>;

/// What one endpoint answered, and when.
pub struct Scrape {
    pub at: Instant,
    pub samples: Vec<(String, Labels, f64)>,
}

impl Scrape {
    /// The samples of metric `name`.
    pub fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a Labels, f64)> + 'a {
        self.samples
            .iter()
            .filter(move |(n, _, _)| n == name)
            .map(|(_, labels, value)| (labels, *value))
    }

    /// The value of `name` with `label` = `value`, summed over other labels.
    pub fn sum(&self, name: &str, label: &str, value: &str) -> f64 {
        self.of(name)
            .filter(|(labels, _)| labels.get(label).map(String::as_str) == Some(value))
            .map(|(_, v)| v)
            .sum()
    }
}

/// Fetches `url` (an address, `host:port`, or a full URL) and reads it.
pub fn scrape(client: &reqwest::blocking::Client, url: &str) -> Result<Scrape, String> {
    let text = client
        .get(url)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.text())
        .map_err(|e| e.to_string())?;
    Ok(Scrape {
        at: Instant::now(),
        samples: parse(&text),
    })
}

/// The samples of a Prometheus text page; lines it cannot read are left
/// out (the page is sinkbox's own, but an endpoint may be something else).
pub fn parse(text: &str) -> Vec<(String, Labels, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(sample)
        .collect()
}

fn sample(line: &str) -> Option<(String, Labels, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.trim().parse().ok()?;
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_owned(), Labels::new(), value));
    };
    let mut labels = Labels::new();
    let mut rest = rest.strip_suffix('}')?;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut text = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => text.push('\n'),
                    other => text.push(other),
                },
                (i, '"') => break i,
                (_, c) => text.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), text);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some((name.to_owned(), labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_escaped_labels_are_read() {
        let page = "# HELP x y\n# TYPE x counter\nsinkbox_sink_records_total{sink=\"a\\\"b\"} 12\n\
                    sinkbox_sink_errors_total{sink=\"a\",outcome=\"fatal\"} 3\nsinkbox_input_lines_total 7\nnot a sample\n";
        let samples = parse(page);
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].1["sink"], "a\"b");
        assert_eq!(samples[1].1["outcome"], "fatal");
        assert_eq!(
            samples[2],
            ("sinkbox_input_lines_total".into(), Labels::new(), 7.0)
        );
    }
}
