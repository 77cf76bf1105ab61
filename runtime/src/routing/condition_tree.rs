//! The tree a condition parses into, and how it decides one record from
//! the fields a scan found.

use super::field_value::FieldValue;
use super::level::LevelRank;

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

    pub fn visit_tests<'a>(&'a self, each: &mut dyn FnMut(usize, &'a Test)) {
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
