//! A parsed `when` condition and how it decides one record.

use std::sync::Arc;

use super::condition_tree::{FieldPath, Node};
use super::field_scan::FieldTree;
use super::field_value::FieldValue;
pub use super::parse::ConditionError;

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

    /// The fields the condition reads, as written (`http.status`).
    pub fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|path| path.join(".")).collect()
    }

    /// For each of [`Condition::field_names`], whether `record` has it
    /// (with any value, `null` included).
    pub fn fields_present(&self, record: &[u8]) -> Vec<bool> {
        let mut values = vec![FieldValue::Missing; self.fields.len()];
        self.tree.scan(record, &mut values);
        values
            .iter()
            .map(|value| !matches!(value, FieldValue::Missing))
            .collect()
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
