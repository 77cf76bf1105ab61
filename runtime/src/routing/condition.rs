//! A parsed `when` condition and how it decides one record.

use std::sync::Arc;

use super::field_scan::FieldTree;
use super::field_value::FieldValue;
use super::level::LevelRank;

/// A condition on a record's fields, as written in a sink's `when` option:
/// `level >= "warn" and http.status >= 500`. Parse one with
/// [`Condition::parse`]; the syntax is in `docs/configuration.md`
/// ("Routing").
#[derive(Clone, Debug)]
pub struct Condition {
    text: Arc<str>,
    pub(crate) root: Node,
    /// The field paths the condition reads; `Node::Test::field` indexes it.
    pub(crate) fields: Vec<FieldPath>,
    /// Those paths as a scan tree, for deciding one record on its own.
    tree: FieldTree,
}

/// A field path: `http.status` is `["http", "status"]`.
pub(crate) type FieldPath = Vec<String>;

#[derive(Clone, Debug)]
pub(crate) enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Test { field: usize, test: Test },
    Always(bool),
}

/// An ordering operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Order {
    fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            Order::Less => left < right,
            Order::LessOrEqual => left <= right,
            Order::Greater => left > right,
            Order::GreaterOrEqual => left >= right,
        }
    }
}

/// A value written in a condition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Number(f64),
    Bool(bool),
    Null,
}

impl Literal {
    /// Whether the field holds exactly this value. No conversions: the
    /// string `"500"` is not the number `500`.
    fn equals(&self, value: &FieldValue<'_>) -> bool {
        match (self, value) {
            (Literal::Str(text), FieldValue::Str { .. }) => {
                value.text().is_some_and(|t| *t == *text.as_bytes())
            }
            (Literal::Number(n), FieldValue::Number(_)) => value.number() == Some(*n),
            (Literal::Bool(b), FieldValue::Bool(v)) => b == v,
            (Literal::Null, FieldValue::Null) => true,
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Test {
    Exists,
    Missing,
    Equals(Literal),
    NotEquals(Literal),
    In(Vec<Literal>),
    NotIn(Vec<Literal>),
    Number(Order, f64),
    Level(Order, LevelRank),
    StartsWith(String),
    EndsWith(String),
    Contains(Box<memchr::memmem::Finder<'static>>),
    Matches(Box<regex::bytes::Regex>),
}

impl Test {
    /// Whether `value` passes. A missing field or a value of the wrong type
    /// fails every test but `missing`, `!=` and `not in`.
    pub fn holds(&self, value: &FieldValue<'_>) -> bool {
        match self {
            Test::Exists => *value != FieldValue::Missing,
            Test::Missing => *value == FieldValue::Missing,
            Test::Equals(literal) => literal.equals(value),
            Test::NotEquals(literal) => !literal.equals(value),
            Test::In(literals) => literals.iter().any(|l| l.equals(value)),
            Test::NotIn(literals) => !literals.iter().any(|l| l.equals(value)),
            Test::Number(order, n) => value.number().is_some_and(|v| order.holds(v, *n)),
            Test::Level(order, rank) => value.level().is_some_and(|v| order.holds(v, *rank)),
            Test::StartsWith(prefix) => value
                .text()
                .is_some_and(|t| t.starts_with(prefix.as_bytes())),
            Test::EndsWith(suffix) => value.text().is_some_and(|t| t.ends_with(suffix.as_bytes())),
            Test::Contains(finder) => value.text().is_some_and(|t| finder.find(&t).is_some()),
            Test::Matches(regex) => value.text().is_some_and(|t| regex.is_match(&t)),
        }
    }

    /// Whether only the level rank matters (an ordering against a level),
    /// so a level known at emit time can stand in for the record's field.
    /// `==` compares the text as written, so it reads the record.
    pub fn reads_level_only(&self) -> bool {
        matches!(self, Test::Level(..))
    }
}

impl Node {
    /// Decides one record; `values[i]` is the value of the condition's
    /// field `map[i]`.
    pub fn holds(&self, values: &[FieldValue<'_>], map: &[usize]) -> bool {
        match self {
            Node::All(nodes) => nodes.iter().all(|n| n.holds(values, map)),
            Node::Any(nodes) => nodes.iter().any(|n| n.holds(values, map)),
            Node::Not(node) => !node.holds(values, map),
            Node::Test { field, test } => test.holds(&values[map[*field]]),
            Node::Always(answer) => *answer,
        }
    }

    fn visit_tests<'a>(&'a self, each: &mut dyn FnMut(usize, &'a Test)) {
        match self {
            Node::All(nodes) | Node::Any(nodes) => {
                nodes.iter().for_each(|n| n.visit_tests(each));
            }
            Node::Not(node) => node.visit_tests(each),
            Node::Test { field, test } => each(*field, test),
            Node::Always(_) => {}
        }
    }
}

impl Condition {
    /// Parses a condition; the error says where and what is wrong, with an
    /// example that works.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let (root, fields) = super::parse::parse(text)?;
        Ok(Condition {
            text: text.trim().into(),
            tree: FieldTree::new(&fields),
            root,
            fields,
        })
    }

    /// Whether the condition keeps `record` (one JSON record, without its
    /// newline). A pipeline decides whole batches at once; this is for
    /// trying a condition on one record (`sinkbox route`).
    pub fn keeps(&self, record: &[u8]) -> bool {
        let mut values = vec![FieldValue::Missing; self.fields.len()];
        self.tree.scan(record, &mut values);
        let map: Vec<usize> = (0..self.fields.len()).collect();
        self.root.holds(&values, &map)
    }

    /// The condition as written (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the condition reads nothing but the top-level `level` field,
    /// and only its rank: then a level known at emit time answers it
    /// without reading the record.
    pub(crate) fn reads_level_only(&self) -> bool {
        let mut level_only = true;
        self.root.visit_tests(&mut |field, test| {
            level_only &= self.fields[field] == ["level"] && test.reads_level_only();
        });
        level_only
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a condition could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {at} of `{text}`); for example: {example}")]
pub struct ConditionError {
    /// What is wrong.
    pub message: String,
    /// Where, counted in characters from 1.
    pub at: usize,
    /// The condition as written.
    pub text: String,
    /// A condition of the same kind that parses.
    pub example: String,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Condition;
    use crate::batch::Batch;
    use crate::routing::condition_set::ConditionSet;

    /// Which of `records` the condition keeps, as a string of 0s and 1s.
    fn keeps(condition: &str, records: &[&str]) -> String {
        let mut set = ConditionSet::default();
        set.add(Arc::new(Condition::parse(condition).unwrap()));
        let batch = Batch::from_records(records, 0);
        let verdicts = set.evaluate(&batch);
        (0..records.len())
            .map(|i| {
                if verdicts.verdicts[0].keeps(i) {
                    '1'
                } else {
                    '0'
                }
            })
            .collect()
    }

    const RECORDS: &[&str] = &[
        r#"{"level":"info","service":"api","n":5,"msg":"GET /a","http":{"status":200},"ok":true}"#,
        r#"{"level":"WARNING","service":"web","n":50.5,"msg":"POST /b timed out","http":{"status":503},"ok":false}"#,
        r#"{"level":"critical","service":"db","n":"5","msg":"x\"y","http":{"status":"500"},"ok":null}"#,
        r#"{"service":"api"}"#,
        "not json at all",
        r#"["level","error"]"#,
        r#"{"level":5,"http":"flat","msg":12}"#,
        r#"{"level":"error","msg":"caf\u00e9 ok","tags":["a"],"service.name":"dotted"}"#,
    ];

    #[test]
    fn every_operator_on_well_formed_and_malformed_records() {
        let table: &[(&str, &str)] = &[
            (r#"level >= "warn""#, "01100001"),
            (r#"level > "warn""#, "00100001"),
            (r#"level < "warn""#, "10000000"),
            (r#"level <= "info""#, "10000000"),
            (r#"level >= "fatal""#, "00100000"),
            (r#"level == "WARNING""#, "01000000"),
            (r#"level == "warning""#, "00000000"),
            (r#"level == "warn""#, "00000000"),
            (r#"service == "api""#, "10010000"),
            (r#"service != "api""#, "01101111"),
            (r#"service in ["web", "db"]"#, "01100000"),
            (r#"service not in ["web", "db"]"#, "10011111"),
            ("n == 5", "10000000"),
            ("n > 10", "01000000"),
            ("n <= 5", "10000000"),
            (r#"n == "5""#, "00100000"),
            ("http.status >= 500", "01000000"),
            ("http.status == 200 or http.status == 503", "11000000"),
            (r#"msg starts_with "GET""#, "10000000"),
            (r#"msg ends_with "out""#, "01000000"),
            (r#"msg contains "\"""#, "00100000"),
            (r#"msg contains "é""#, "00000001"),
            (r#"msg matches "^[A-Z]+ /[a-z]$""#, "10000000"),
            ("exists(level)", "11100011"),
            ("missing(level)", "00011100"),
            ("exists(http.status)", "11100000"),
            ("exists(tags)", "00000001"),
            ("ok == true", "10000000"),
            ("ok == false", "01000000"),
            ("ok == null", "00100000"),
            ("`service.name` == \"dotted\"", "00000001"),
            (r#"level >= "warn" and http.status >= 500"#, "01000000"),
            (r#"not (level >= "warn") "#, "10011110"),
            (r#"!exists(level) || service == "db""#, "00111100"),
            (
                r#"level >= "warn" and (service == "web" or service == "db") and n > 1"#,
                "01000000",
            ),
            ("true", "11111111"),
            ("false", "00000000"),
        ];
        for (condition, expected) in table {
            assert_eq!(&keeps(condition, RECORDS), expected, "{condition}");
        }
    }

    proptest::proptest! {
        /// A condition and its negation split any batch between them: every
        /// record kept by exactly one, whatever the record holds.
        #[test]
        fn complementary_conditions_keep_every_record_exactly_once(
            records in proptest::collection::vec(record(), 1..40),
            which in 0usize..6,
        ) {
            let condition = [
                r#"level >= "warn""#,
                r#"service in ["api", "db"] and n > 3"#,
                r#"msg contains "a" or missing(n)"#,
                r#"http.status >= 500 and level != "debug""#,
                r#"exists(http) and not (n <= 2)"#,
                r#"msg matches "^[ab]" or level < "info""#,
            ][which];
            let negated = format!("not ({condition})");
            let mut set = ConditionSet::default();
            let a = set.add(Arc::new(Condition::parse(condition).unwrap()));
            let b = set.add(Arc::new(Condition::parse(&negated).unwrap()));
            let refs: Vec<&str> = records.iter().map(String::as_str).collect();
            let batch = Batch::from_records(&refs, 0);
            let verdicts = set.evaluate(&batch);
            for (i, record) in records.iter().enumerate() {
                proptest::prop_assert!(verdicts.verdicts[a].keeps(i) != verdicts.verdicts[b].keeps(i), "{}", record);
            }
            proptest::prop_assert_eq!(
                verdicts.verdicts[a].kept() + verdicts.verdicts[b].kept(),
                records.len() as u32
            );
        }
    }

    /// Records with the fields the conditions read, of any type or missing,
    /// and now and then no JSON at all.
    fn record() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let value = prop_oneof![
            Just("null".to_owned()),
            any::<bool>().prop_map(|b| b.to_string()),
            (-10i64..10).prop_map(|n| n.to_string()),
            "[a-z]{0,6}".prop_map(|s| format!("\"{s}\"")),
            prop_oneof![
                Just("warn"),
                Just("ERROR"),
                Just("debug"),
                Just("info"),
                Just("fatal")
            ]
            .prop_map(|s| format!("\"{s}\"")),
            (400u32..600).prop_map(|n| format!("{{\"status\":{n}}}")),
        ];
        let field = prop_oneof![
            Just("level"),
            Just("service"),
            Just("n"),
            Just("msg"),
            Just("http")
        ];
        prop_oneof![
            9 => proptest::collection::vec((field, value), 0..6).prop_map(|fields| {
                let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
            1 => "[ -~]{0,20}".prop_map(|s| s.replace('\n', " ")),
        ]
    }
}
