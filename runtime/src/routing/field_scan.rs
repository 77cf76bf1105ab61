//! Finds the fields a set of conditions reads in one pass over a record's
//! JSON bytes, skipping everything else without decoding it.
//!
//! The scanner never allocates and never panics: a record that is not a
//! JSON object, or breaks off, leaves the fields not yet found `Missing`.
//! When a key repeats, its first occurrence counts.

use super::field_value::FieldValue;

/// The paths to look for, as a tree of object keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldTree {
    nodes: Vec<TreeNode>,
    slots: usize,
}

#[derive(Clone, Debug, Default)]
struct TreeNode {
    children: Vec<(Box<[u8]>, usize)>,
    /// The slot a value found at this path goes to.
    slot: Option<usize>,
}

impl FieldTree {
    /// A tree for `paths`; path `i` fills slot `i`.
    pub fn new(paths: &[Vec<String>]) -> Self {
        let mut tree = FieldTree {
            nodes: vec![TreeNode::default()],
            slots: paths.len(),
        };
        for (slot, path) in paths.iter().enumerate() {
            let mut node = 0;
            for key in path {
                let existing = tree.nodes[node]
                    .children
                    .iter()
                    .find(|(k, _)| **k == *key.as_bytes())
                    .map(|(_, child)| *child);
                node = match existing {
                    Some(child) => child,
                    None => {
                        tree.nodes.push(TreeNode::default());
                        let child = tree.nodes.len() - 1;
                        tree.nodes[node]
                            .children
                            .push((key.as_bytes().into(), child));
                        child
                    }
                };
            }
            tree.nodes[node].slot = Some(slot);
        }
        tree
    }

    /// How many slots `scan` fills.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Fills `values` (one per path, all `Missing` on entry) from `record`.
    pub fn scan<'a>(&self, record: &'a [u8], values: &mut [FieldValue<'a>]) {
        self.scan_with_spans(record, values, &mut []);
    }

    /// As [`Self::scan`], and each found value's bytes as they are in the
    /// record (a string with its quotes, an object or array whole) into
    /// `spans`, for readers that need a value's exact text (a number's
    /// digits, an object's JSON). `spans` may be shorter than the slots.
    pub fn scan_with_spans<'a>(
        &self,
        record: &'a [u8],
        values: &mut [FieldValue<'a>],
        spans: &mut [&'a [u8]],
    ) {
        let mut scanner = Scanner {
            bytes: record,
            at: 0,
        };
        let mut found = Found {
            values,
            spans,
            left: self.slots,
            // Tree nodes met so far (the first 64; deeper trees are rare).
            seen: 0,
        };
        scanner.skip_space();
        if scanner.peek() == Some(b'{') {
            self.object(&mut scanner, 0, &mut found);
        }
    }

    /// Scans the object at the scanner (on its `{`) for `node`'s children.
    /// Returns `false` if the record broke off or every slot is filled.
    fn object<'a>(&self, s: &mut Scanner<'a>, node: usize, found: &mut Found<'a, '_>) -> bool {
        s.at += 1;
        loop {
            s.skip_space();
            match s.peek() {
                Some(b'}') => {
                    s.at += 1;
                    return true;
                }
                Some(b',') => {
                    s.at += 1;
                    continue;
                }
                Some(b'"') => {}
                _ => return false,
            }
            let Some((key, escaped)) = s.string() else {
                return false;
            };
            s.skip_space();
            if s.peek() != Some(b':') {
                return false;
            }
            s.at += 1;
            s.skip_space();
            let child = self.child(node, key, escaped);
            let Some(child) = child else {
                if !s.skip_value() {
                    return false;
                }
                continue;
            };
            let wanted = &self.nodes[child];
            // A repeated key: its first occurrence counted (objects too).
            let repeated = child < 64 && found.seen & (1u64 << child) != 0;
            if child < 64 {
                found.seen |= 1u64 << child;
            }
            if repeated {
                if !s.skip_value() {
                    return false;
                }
                continue;
            }
            let start = s.at;
            if !wanted.children.is_empty() && s.peek() == Some(b'{') {
                let slot = wanted
                    .slot
                    .filter(|slot| found.values[*slot] == FieldValue::Missing);
                if let Some(slot) = slot {
                    found.values[slot] = FieldValue::Object;
                    found.left -= 1;
                }
                let whole = self.object(s, child, found);
                // Every slot filled inside it: the object's own span still
                // needs its end.
                let ended =
                    whole || (slot.is_some() && found.left == 0 && s.skip_open(1).is_some());
                if ended && let Some(span) = slot.and_then(|slot| found.spans.get_mut(slot)) {
                    *span = &s.bytes[start..s.at];
                }
                if !whole {
                    return false;
                }
            } else {
                let Some(value) = s.value() else {
                    return false;
                };
                if let Some(slot) = wanted.slot
                    && found.values[slot] == FieldValue::Missing
                {
                    found.values[slot] = value;
                    if let Some(span) = found.spans.get_mut(slot) {
                        *span = &s.bytes[start..s.at];
                    }
                    found.left -= 1;
                }
            }
            if found.left == 0 {
                return false;
            }
        }
    }

    fn child(&self, node: usize, key: &[u8], escaped: bool) -> Option<usize> {
        let children = &self.nodes[node].children;
        if !escaped {
            return children.iter().find(|(k, _)| **k == *key).map(|(_, c)| *c);
        }
        let value = FieldValue::Str { raw: key, escaped };
        let decoded = value.text()?;
        children
            .iter()
            .find(|(k, _)| **k == *decoded)
            .map(|(_, c)| *c)
    }
}

/// A JSON number's value: whole numbers of up to 15 digits directly (the
/// common case: status codes, counts, durations), anything else through the
/// float parser. Not a number at all: NaN, which no comparison holds for.
fn parse_number(text: &[u8]) -> f64 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let whole = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')) as f64;
        return if negative { -whole } else { whole };
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The high bit of each byte of `word` that equals `byte`, exact for the
/// lowest such byte (higher ones may show false hits after it, which the
/// caller never looks at).
fn byte_hits(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// What a scan found so far.
struct Found<'a, 'v> {
    values: &'v mut [FieldValue<'a>],
    spans: &'v mut [&'a [u8]],
    /// Slots not yet filled.
    left: usize,
    seen: u64,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// The string at the scanner (on its `"`): its raw bytes and whether
    /// they hold an escape. `None` if it is not closed.
    // Inlined: the result comes back in registers, not through memory,
    // where reading it whole right after it was written piecewise stalls.
    #[inline(always)]
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        let start = self.at + 1;
        let mut i = start;
        let mut escaped = false;
        // Keys and most values are short: eight bytes at a time in a
        // register beats setting up a vector search for each of them.
        while let Some(chunk) = self.bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let hits = byte_hits(word, b'"') | byte_hits(word, b'\\');
            if hits == 0 {
                i += 8;
                continue;
            }
            i += hits.trailing_zeros() as usize / 8;
            if self.bytes[i] == b'"' {
                self.at = i + 1;
                return Some((&self.bytes[start..i], false));
            }
            break;
        }
        loop {
            let offset = memchr::memchr2(b'"', b'\\', self.bytes.get(i..)?)?;
            i += offset;
            if self.bytes[i] == b'\\' {
                escaped = true;
                i += 2;
                continue;
            }
            self.at = i + 1;
            return Some((&self.bytes[start..i], escaped));
        }
    }

    /// The value at the scanner, read as far as a test needs; objects and
    /// arrays are skipped.
    #[inline(always)]
    fn value(&mut self) -> Option<FieldValue<'a>> {
        Some(match self.peek()? {
            b'"' => {
                let (raw, escaped) = self.string()?;
                FieldValue::Str { raw, escaped }
            }
            b'{' => {
                self.skip_nested()?;
                FieldValue::Object
            }
            b'[' => {
                self.skip_nested()?;
                FieldValue::Array
            }
            _ => {
                let start = self.at;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.at += 1;
                }
                match &self.bytes[start..self.at] {
                    b"true" => FieldValue::Bool(true),
                    b"false" => FieldValue::Bool(false),
                    b"null" => FieldValue::Null,
                    b"" => return None,
                    number => FieldValue::Number(parse_number(number)),
                }
            }
        })
    }

    fn skip_value(&mut self) -> bool {
        self.value().is_some()
    }

    /// Skips the object or array at the scanner, strings inside included.
    fn skip_nested(&mut self) -> Option<()> {
        self.skip_open(0)
    }

    /// Skips to the end of `depth` objects or arrays already opened (0:
    /// the one at the scanner).
    fn skip_open(&mut self, depth: usize) -> Option<()> {
        let mut depth = depth;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan<'a>(paths: &[&str], record: &'a str) -> Vec<FieldValue<'a>> {
        let paths: Vec<Vec<String>> = paths
            .iter()
            .map(|p| p.split('.').map(str::to_owned).collect())
            .collect();
        let tree = FieldTree::new(&paths);
        let mut values = vec![FieldValue::Missing; tree.slots()];
        tree.scan(record.as_bytes(), &mut values);
        values
    }

    #[test]
    fn finds_top_level_and_nested_fields_and_skips_the_rest() {
        let values = scan(
            &["level", "http.status", "http", "tags", "gone", "msg"],
            r#"{"skip":{"a":[1,{"b":"}"}]},"level":"warn","http":{"x":"\"","status":503},"tags":["a"],"msg":"a\"b"}"#,
        );
        assert_eq!(
            values[0],
            FieldValue::Str {
                raw: b"warn",
                escaped: false
            }
        );
        assert_eq!(values[1], FieldValue::Number(503.0));
        assert_eq!(values[2], FieldValue::Object);
        assert_eq!(values[3], FieldValue::Array);
        assert_eq!(values[4], FieldValue::Missing);
        assert_eq!(values[5].text().unwrap().as_ref(), b"a\"b");
    }

    #[test]
    fn spans_are_the_values_bytes_as_written() {
        let record = r#"{"n":1764583200500000001,"s":"a\"b","o":{"k":[1,{"x":"}"}]},"b":true,"deep":{"in":2}}"#;
        let paths: Vec<Vec<String>> = ["n", "s", "o", "b", "deep", "deep.in", "none"]
            .iter()
            .map(|p| p.split('.').map(str::to_owned).collect())
            .collect();
        let tree = FieldTree::new(&paths);
        let mut values = vec![FieldValue::Missing; tree.slots()];
        let mut spans: Vec<&[u8]> = vec![b""; tree.slots()];
        tree.scan_with_spans(record.as_bytes(), &mut values, &mut spans);
        let spans: Vec<&str> = spans
            .iter()
            .map(|s| std::str::from_utf8(s).unwrap())
            .collect();
        assert_eq!(
            spans,
            [
                "1764583200500000001",
                r#""a\"b""#,
                r#"{"k":[1,{"x":"}"}]}"#,
                "true",
                r#"{"in":2}"#,
                "2",
                ""
            ]
        );
        // The last slot filled inside the object: its span still ends at
        // its close.
        let tree = FieldTree::new(&[vec!["deep".into()], vec!["deep".into(), "in".into()]]);
        let mut values = vec![FieldValue::Missing; 2];
        let mut spans: Vec<&[u8]> = vec![b""; 2];
        let record = br#"{"deep":{"in":2,"more":{"x":"]"}},"after":1}"#;
        tree.scan_with_spans(record, &mut values, &mut spans);
        assert_eq!(spans[0], br#"{"in":2,"more":{"x":"]"}}"#);
        assert_eq!(spans[1], b"2");
    }

    #[test]
    fn whitespace_escaped_keys_and_first_occurrence() {
        let values = scan(
            &["a", "b c"],
            "{ \"a\" : true , \"b\\u0020c\" : null, \"a\": false }",
        );
        assert_eq!(values, vec![FieldValue::Bool(true), FieldValue::Null]);
        let http = scan(&["http.status"], r#"{"http":1,"http":{"status":500}}"#);
        assert_eq!(http, vec![FieldValue::Missing]);
        let nested = scan(&["a.b"], r#"{"a":{"x":1},"a":{"b":2}}"#);
        assert_eq!(nested, vec![FieldValue::Missing]);
    }

    #[test]
    fn malformed_records_leave_fields_missing_without_panicking() {
        for record in [
            "",
            "not json",
            "[1,2]",
            "{",
            "{\"level\"",
            "{\"level\":",
            "{\"a\":\"x",
            "{\"a\":{\"b\":[",
            "{\"level\" \"warn\"}",
            "\"level\"",
            "{\"a\":1,,\"level\":\"x\"",
            "{\"x\":\"\\",
        ] {
            let values = scan(&["level", "a.b"], record);
            assert!(
                values.iter().all(|v| matches!(
                    v,
                    FieldValue::Missing | FieldValue::Number(_) | FieldValue::Str { .. }
                )),
                "{record}: {values:?}"
            );
        }
        for (text, value) in [
            ("-12", -12.0),
            ("2.5e3", 2500.0),
            ("007", 7.0),
            ("1x", f64::NAN),
        ] {
            match scan(&["n"], &format!("{{\"n\":{text}}}"))[0] {
                FieldValue::Number(n) => {
                    assert!(n == value || n.is_nan() && value.is_nan(), "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(
            scan(&["level"], "[{\"level\":\"warn\"}]"),
            vec![FieldValue::Missing]
        );
    }

    proptest::proptest! {
        /// Any string, escapes and quotes at any offset, reads back as
        /// written (the word-at-a-time search and the escape path agree).
        #[test]
        fn strings_read_back_as_written(text in "[a-z\\\\\"\u{e9}\u{1F600} ]{0,40}", pad in 0usize..9) {
            let record = format!("{{\"{}\":1,\"k\":{}}}", "p".repeat(pad), serde_json::to_string(&text).unwrap());
            let values = scan(&["k"], &record);
            let read = values[0].text().unwrap().into_owned();
            proptest::prop_assert_eq!(read, text.as_bytes().to_vec());
        }

        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let tree = FieldTree::new(&[vec!["a".into()], vec!["b".into(), "c".into()]]);
            let mut values = vec![FieldValue::Missing; 2];
            tree.scan(&bytes, &mut values);
        }
    }
}
