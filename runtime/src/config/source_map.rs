//! Line numbers for field paths in a TOML file, so errors can say where.

use std::collections::HashMap;

/// Maps field paths such as `sinks.applog.max_bytes` to the 1-based line of
/// their key.
#[derive(Default, Debug, Clone)]
pub(crate) struct SourceMap {
    lines: HashMap<String, usize>,
}

impl SourceMap {
    /// Indexes `text`; a file that does not parse gives an empty map (the
    /// parse error carries its own position).
    pub fn new(text: &str) -> Self {
        let mut map = SourceMap::default();
        if let Ok(doc) = toml::de::DeTable::parse(text) {
            let starts = line_starts(text);
            map.walk("", doc.get_ref(), &starts);
        }
        map
    }

    fn walk(&mut self, prefix: &str, table: &toml::de::DeTable<'_>, starts: &[usize]) {
        for (key, value) in table.iter() {
            let path = if prefix.is_empty() {
                key.get_ref().to_string()
            } else {
                format!("{prefix}.{}", key.get_ref())
            };
            let line = line_of(starts, key.span().start);
            self.lines.entry(path.clone()).or_insert(line);
            if let toml::de::DeValue::Table(inner) = value.get_ref() {
                self.walk(&path, inner, starts);
            }
        }
    }

    /// The line of `path`, or of its closest enclosing table that has one.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            path = path.rsplit_once('.')?.0;
        }
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn line_of(starts: &[usize], offset: usize) -> usize {
    starts.partition_point(|start| *start <= offset)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_keys_and_falls_back_to_the_table() {
        let map = super::SourceMap::new(
            "[runtime]\ndata_dir = \"x\"\n\n[sinks.applog]\ntype = \"file\"\npath = \"a\"\n",
        );
        assert_eq!(map.line("runtime.data_dir"), Some(2));
        assert_eq!(map.line("sinks.applog"), Some(4));
        assert_eq!(map.line("sinks.applog.path"), Some(6));
        assert_eq!(map.line("sinks.applog.max_bytes"), Some(4));
        assert_eq!(map.line("nowhere"), None);
    }
}
