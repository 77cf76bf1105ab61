//! The `when` syntax: a small expression language over record fields.
//!
//! ```text
//! condition  = any
//! any        = all { ("or" | "||") all }
//! all        = unary { ("and" | "&&") unary }
//! unary      = ("not" | "!") unary | "(" condition ")" | "true" | "false"
//!            | ("exists" | "missing") "(" path ")" | path test
//! test       = ("==" | "!=") literal | ("in" | "not in") "[" literal { "," literal } "]"
//!            | ("<" | "<=" | ">" | ">=") (number | level)
//!            | ("starts_with" | "ends_with" | "contains" | "matches") string
//! path       = name { "." name }       name: letters, digits, _ and -, or `any text`
//! literal    = string | number | true | false | null
//! ```

use super::condition_tree::{FieldPath, Literal, Node, Order, Test};
use super::level::{LEVEL_NAMES, level_rank};

/// Largest compiled regular expression a condition may hold.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Deepest nesting of parentheses and `not`.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    Quoted(String),
    Str(String),
    Number(f64),
    Op(&'static str),
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
    Dot,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Name(name) => format!("`{name}`"),
            Token::Quoted(name) => format!("`{name}`"),
            Token::Str(text) => format!("the string {text:?}"),
            Token::Number(n) => format!("the number {n}"),
            Token::Op(op) => format!("`{op}`"),
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::OpenList => "`[`".into(),
            Token::CloseList => "`]`".into(),
            Token::Comma => "`,`".into(),
            Token::Dot => "`.`".into(),
            Token::End => "the end".into(),
        }
    }
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<(Token, usize)>,
    next: usize,
    fields: Vec<FieldPath>,
    depth: usize,
}

const TESTS: &str = "==, !=, <, <=, >, >=, in, not in, starts_with, ends_with, contains, matches";

/// Parses `text` into a condition tree and the field paths it reads.
pub(crate) fn parse(text: &str) -> Result<(Node, Vec<FieldPath>), ConditionError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
        fields: Vec::new(),
        depth: 0,
    };
    if parser.peek() == &Token::End {
        return Err(parser.error_at(0, "the condition is empty", r#"level >= "warn""#));
    }
    let root = parser.any()?;
    if parser.peek() != &Token::End {
        let (token, at) = parser.tokens[parser.next].clone();
        return Err(parser.error_at(
            at,
            format!(
                "unexpected {} after a complete condition; join conditions with `and` or `or`",
                token.describe()
            ),
            r#"level >= "warn" and service == "api""#,
        ));
    }
    Ok((root, parser.fields))
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.next].0
    }

    fn at(&self) -> usize {
        self.tokens[self.next].1
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.next].0.clone();
        if token != Token::End {
            self.next += 1;
        }
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Token::Name(name) if name == word)
    }

    fn error_at(&self, at: usize, message: impl Into<String>, example: &str) -> ConditionError {
        ConditionError {
            message: message.into(),
            at: self.text[..at.min(self.text.len())].chars().count() + 1,
            text: self.text.to_owned(),
            example: example.to_owned(),
        }
    }

    fn error(&self, message: impl Into<String>, example: &str) -> ConditionError {
        self.error_at(self.at(), message, example)
    }

    fn any(&mut self) -> Result<Node, ConditionError> {
        let mut parts = vec![self.all()?];
        while self.is_word("or") || self.peek() == &Token::Op("||") {
            self.bump();
            parts.push(self.all()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Node::Any(parts)
        })
    }

    fn all(&mut self) -> Result<Node, ConditionError> {
        let mut parts = vec![self.unary()?];
        while self.is_word("and") || self.peek() == &Token::Op("&&") {
            self.bump();
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Node::All(parts)
        })
    }

    fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, ConditionError>,
    ) -> Result<T, ConditionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                format!("nested more than {MAX_DEPTH} levels deep"),
                r#"not (level == "debug")"#,
            ));
        }
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn unary(&mut self) -> Result<Node, ConditionError> {
        if self.is_word("not")
            && !matches!(self.tokens.get(self.next + 1), Some((Token::Name(w), _)) if w == "in")
            || self.peek() == &Token::Op("!")
        {
            self.bump();
            return self.nested(|p| Ok(Node::Not(Box::new(p.unary()?))));
        }
        match self.peek().clone() {
            Token::Open => {
                self.bump();
                let inner = self.nested(|p| p.any())?;
                if self.bump() != Token::Close {
                    return Err(self.error(
                        "expected `)` to close the `(`",
                        r#"(level == "error" or level == "fatal") and service == "api""#,
                    ));
                }
                Ok(inner)
            }
            Token::Name(word) if word == "true" || word == "false" => {
                self.bump();
                Ok(Node::Always(word == "true"))
            }
            Token::Name(word)
                if (word == "exists" || word == "missing")
                    && matches!(self.tokens.get(self.next + 1), Some((Token::Open, _))) =>
            {
                self.bump();
                self.bump();
                let field = self.path()?;
                if self.bump() != Token::Close {
                    return Err(self.error(
                        format!("expected `)` after the field in `{word}(...)`"),
                        "exists(user.id)",
                    ));
                }
                let test = if word == "exists" {
                    Test::Exists
                } else {
                    Test::Missing
                };
                Ok(Node::Test { field, test })
            }
            Token::Name(_) | Token::Quoted(_) => {
                let field = self.path()?;
                let test = self.test(field)?;
                Ok(Node::Test { field, test })
            }
            other => Err(self.error(
                format!(
                    "expected a field name, `not`, `(`, `exists(...)` or `missing(...)`, found {}",
                    other.describe()
                ),
                r#"level >= "warn""#,
            )),
        }
    }

    /// A field path; returns its index in `fields`.
    fn path(&mut self) -> Result<usize, ConditionError> {
        let mut path = Vec::new();
        loop {
            match self.bump() {
                Token::Name(name) | Token::Quoted(name) => path.push(name),
                other => {
                    return Err(self.error_at(
                        self.tokens[self.next.saturating_sub(1)].1,
                        format!("expected a field name, found {}", other.describe()),
                        "http.status >= 500",
                    ));
                }
            }
            if self.peek() != &Token::Dot {
                break;
            }
            self.bump();
        }
        Ok(match self.fields.iter().position(|p| *p == path) {
            Some(index) => index,
            None => {
                self.fields.push(path);
                self.fields.len() - 1
            }
        })
    }

    /// The test after the field `field` (an index into `fields`).
    fn test(&mut self, field: usize) -> Result<Test, ConditionError> {
        let at = self.at();
        let field = self.fields[field].join(".");
        let op = match self.bump() {
            Token::Op(op) if matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=") => op.to_owned(),
            Token::Name(word) if word == "not" && self.is_word("in") => {
                self.bump();
                "not in".to_owned()
            }
            Token::Name(word)
                if matches!(
                    word.as_str(),
                    "in" | "starts_with" | "ends_with" | "contains" | "matches"
                ) =>
            {
                word
            }
            other => {
                return Err(self.error_at(
                    at,
                    format!(
                        "expected a test after the field `{field}` ({TESTS}), found {}",
                        other.describe()
                    ),
                    r#"level >= "warn""#,
                ));
            }
        };
        let value_at = self.at();
        Ok(match op.as_str() {
            "==" | "!=" => {
                let literal = self.literal("service == \"api\"")?;
                if op == "==" {
                    Test::Equals(literal)
                } else {
                    Test::NotEquals(literal)
                }
            }
            "in" | "not in" => {
                let example = r#"service in ["api", "web"]"#;
                if self.bump() != Token::OpenList {
                    return Err(self.error_at(
                        value_at,
                        format!("`{op}` takes a list in brackets"),
                        example,
                    ));
                }
                let mut items = vec![self.literal(example)?];
                loop {
                    match self.bump() {
                        Token::Comma if self.peek() == &Token::CloseList => {
                            self.bump();
                            break;
                        }
                        Token::Comma => items.push(self.literal(example)?),
                        Token::CloseList => break,
                        other => {
                            return Err(self.error(
                                format!(
                                    "expected `,` or `]` in the list, found {}",
                                    other.describe()
                                ),
                                example,
                            ));
                        }
                    }
                }
                if op == "in" {
                    Test::In(items)
                } else {
                    Test::NotIn(items)
                }
            }
            "<" | "<=" | ">" | ">=" => {
                let order = match op.as_str() {
                    "<" => Order::Less,
                    "<=" => Order::LessOrEqual,
                    ">" => Order::Greater,
                    _ => Order::GreaterOrEqual,
                };
                match self.bump() {
                    Token::Number(n) => Test::Number(order, n),
                    Token::Str(text) => match level_rank(text.as_bytes()) {
                        Some(rank) => Test::Level(order, rank),
                        None => {
                            // Say what the author most likely meant: a
                            // number in quotes, a level, or a text test.
                            let (hint, example) = if text.trim().parse::<f64>().is_ok() {
                                (
                                    "; a number in quotes is text: write it without quotes"
                                        .to_owned(),
                                    format!("{field} {op} {}", text.trim()),
                                )
                            } else if field.rsplit('.').next().is_some_and(|last| {
                                matches!(last, "level" | "severity" | "lvl" | "loglevel")
                            }) {
                                (String::new(), format!("{field} {op} \"warn\""))
                            } else {
                                (
                                    "; to test text, use `==`, `in`, `starts_with` or `contains`"
                                        .to_owned(),
                                    format!("{field} == {text:?}"),
                                )
                            };
                            return Err(self.error_at(
                                value_at,
                                format!(
                                    "`{op}` compares numbers or levels, and {text:?} is not a level (levels: {LEVEL_NAMES}){hint}"
                                ),
                                &example,
                            ));
                        }
                    },
                    other => {
                        return Err(self.error_at(
                            value_at,
                            format!(
                                "`{op}` compares numbers or levels, found {}",
                                other.describe()
                            ),
                            "http.status >= 500",
                        ));
                    }
                }
            }
            word => {
                let example = match word {
                    "starts_with" => r#"message starts_with "GET ""#,
                    "ends_with" => r#"path ends_with ".json""#,
                    "contains" => r#"message contains "timeout""#,
                    _ => r#"message matches "^user [0-9]+ logged in$""#,
                };
                let text = match self.bump() {
                    Token::Str(text) => text,
                    other => {
                        return Err(self.error_at(
                            value_at,
                            format!("`{word}` takes a string, found {}", other.describe()),
                            example,
                        ));
                    }
                };
                match word {
                    "starts_with" => Test::StartsWith(text),
                    "ends_with" => Test::EndsWith(text),
                    "contains" => Test::Contains(Box::new(
                        memchr::memmem::Finder::new(text.as_bytes()).into_owned(),
                    )),
                    _ => {
                        let regex = regex::bytes::RegexBuilder::new(&text)
                            .size_limit(REGEX_SIZE_LIMIT)
                            .build()
                            .map_err(|e| {
                                let why = e.to_string().replace('\n', " ");
                                self.error_at(
                                    value_at,
                                    format!("not a valid regular expression: {why}"),
                                    example,
                                )
                            })?;
                        Test::Matches(Box::new(regex))
                    }
                }
            }
        })
    }

    fn literal(&mut self, example: &str) -> Result<Literal, ConditionError> {
        let at = self.at();
        Ok(match self.bump() {
            Token::Str(text) => Literal::Str(text),
            Token::Number(n) => Literal::Number(n),
            Token::Name(word) if word == "true" => Literal::Bool(true),
            Token::Name(word) if word == "false" => Literal::Bool(false),
            Token::Name(word) if word == "null" => Literal::Null,
            Token::Name(word) => {
                return Err(self.error_at(
                    at,
                    format!(
                        "expected a value (a \"string\", a number, true, false or null), found `{word}`; strings take quotes"
                    ),
                    &format!("service == \"{word}\""),
                ));
            }
            other => {
                return Err(self.error_at(
                    at,
                    format!(
                        "expected a value (a \"string\", a number, true, false or null), found {}",
                        other.describe()
                    ),
                    example,
                ));
            }
        })
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

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ConditionError> {
    let error = |at: usize, message: String, example: &str| ConditionError {
        message,
        at: text[..at].chars().count() + 1,
        text: text.to_owned(),
        example: example.to_owned(),
    };
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let byte = bytes[i];
        let two = bytes.get(i..i + 2).unwrap_or(&[]);
        let token = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Token::Open,
            b')' => Token::Close,
            b'[' => Token::OpenList,
            b']' => Token::CloseList,
            b',' => Token::Comma,
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => Token::Dot,
            _ if two == b"=="
                || two == b"!="
                || two == b"<="
                || two == b">="
                || two == b"&&"
                || two == b"||" =>
            {
                i += 2;
                let op = match two {
                    b"==" => "==",
                    b"!=" => "!=",
                    b"<=" => "<=",
                    b">=" => ">=",
                    b"&&" => "&&",
                    _ => "||",
                };
                tokens.push((Token::Op(op), start));
                continue;
            }
            b'<' => Token::Op("<"),
            b'>' => Token::Op(">"),
            b'!' => Token::Op("!"),
            b'=' => {
                return Err(error(
                    i,
                    "`=` is not a test; compare with `==`".into(),
                    r#"service == "api""#,
                ));
            }
            b'"' | b'\'' => {
                let (value, end) = string_literal(text, i)
                    .map_err(|(at, why)| error(at, why, r#"message contains "timed out""#))?;
                i = end;
                tokens.push((Token::Str(value), start));
                continue;
            }
            b'`' => {
                let Some(len) = text[i + 1..].find('`') else {
                    return Err(error(
                        i,
                        "a field name in backquotes is not closed".into(),
                        "`service.name` == \"api\"",
                    ));
                };
                let name = text[i + 1..i + 1 + len].to_owned();
                if name.is_empty() {
                    return Err(error(
                        i,
                        "an empty field name".into(),
                        "`service.name` == \"api\"",
                    ));
                }
                i += len + 2;
                tokens.push((Token::Quoted(name), start));
                continue;
            }
            b'-' | b'+' | b'.' | b'0'..=b'9' => {
                let mut end = i + 1;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric()
                        || matches!(bytes[end], b'.' | b'-' | b'+'))
                {
                    end += 1;
                }
                let word = &text[i..end];
                let number: f64 = word
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| {
                        error(i, format!("`{word}` is not a number"), "http.status >= 500")
                    })?;
                i = end;
                tokens.push((Token::Number(number), start));
                continue;
            }
            _ if byte.is_ascii_alphabetic() || byte == b'_' || byte == b'@' || byte == b'$' => {
                let mut end = i + 1;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric()
                        || matches!(bytes[end], b'_' | b'-' | b'@' | b'$'))
                {
                    end += 1;
                }
                tokens.push((Token::Name(text[i..end].to_owned()), start));
                i = end;
                continue;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(error(
                    i,
                    format!(
                        "unexpected character {ch:?}; a field name with other characters goes in backquotes, such as `user name`"
                    ),
                    r#"level >= "warn""#,
                ));
            }
        };
        i += 1;
        tokens.push((token, start));
    }
    tokens.push((Token::End, text.len()));
    Ok(tokens)
}

/// A string in double quotes (JSON escapes) or single quotes (taken as
/// written); returns the text and the index after the closing quote.
fn string_literal(text: &str, start: usize) -> Result<(String, usize), (usize, String)> {
    let bytes = text.as_bytes();
    let quote = bytes[start];
    if quote == b'\'' {
        return match text[start + 1..].find('\'') {
            Some(len) => Ok((text[start + 1..start + 1 + len].to_owned(), start + len + 2)),
            None => Err((start, "a string in single quotes is not closed".into())),
        };
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => {
                let value: String = serde_json::from_str(&text[start..=i])
                    .map_err(|e| (start, format!("a string with a bad escape: {e}")))?;
                return Ok((value, i + 1));
            }
            _ => i += 1,
        }
    }
    Err((start, "a string in double quotes is not closed".into()))
}

#[cfg(test)]
mod tests {
    fn error(text: &str) -> String {
        super::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn bad_conditions_say_where_and_what() {
        let e = error(r#"level >= "warm""#);
        assert!(e.contains("\"warm\" is not a level"), "{e}");
        assert!(e.contains("at character 10"), "{e}");
        assert!(e.contains("for example: level >= \"warn\""), "{e}");
        // A quoted number is not taken for a level: the example unquotes it.
        let e = error(r#"http.status >= "500""#);
        assert!(e.contains("write it without quotes"), "{e}");
        assert!(e.ends_with("for example: http.status >= 500"), "{e}");
        let e = error(r#"service >= "api""#);
        assert!(e.ends_with(r#"for example: service == "api""#), "{e}");
        assert!(error("service = \"api\"").contains("compare with `==`"));
        assert!(error("service == api").contains("strings take quotes"));
        assert!(error("level").contains("expected a test after the field `level`"));
        assert!(error("a == 1 and b == 2 and a").contains("after the field `a`"));
        for bad in [r#"service && "api""#, r#"msg || "x""#, r#"a ! "b""#] {
            assert!(
                error(bad).contains("expected a test after the field"),
                "{bad}"
            );
        }
        assert!(error("").contains("empty"));
        assert!(error("(level == \"x\"").contains("expected `)`"));
        assert!(error("a == 1 b == 2").contains("join conditions with `and`"));
        assert!(error("msg matches \"(\"").contains("not a valid regular expression"));
        assert!(error("a in 1").contains("takes a list"));
        assert!(error("a > \"b\"").contains("compares numbers or levels"));
        assert!(error("\"x\" == 1").contains("expected a field name"));
        assert!(error(&"not ".repeat(100)).contains("nested more than"));
        assert!(error("a == 'x").contains("not closed"));
        assert!(error("a == 1x").contains("not a number"));
    }

    #[test]
    fn every_form_parses() {
        for text in [
            r#"level >= "warn""#,
            r#"level >= 'WARNING' && service != "api""#,
            r#"not (a == 1 or b == 2) and !exists(c.d) and missing(e)"#,
            r#"service in ["api", "web",] and code not in [1, 2.5, -3]"#,
            r#"message starts_with "GET" || message ends_with ".json" or message contains "x""#,
            r#"message matches "^a+$" and `service.name` == "db" and http.status < 600"#,
            "flag == true and other == null and n <= 1e3 and true",
        ] {
            super::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }
}
