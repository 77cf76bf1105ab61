//! Renders a JSON record as one human-readable line: time, level, message,
//! then the remaining fields as `key=value`. Shared by `stdout_pretty` and the
//! `text` mode of `rotating_file`.

use std::io::Write;

use serde_json::{Map, Value};

const TIME_KEYS: &[&str] = &["timestamp", "time", "ts", "@timestamp"];
const LEVEL_KEYS: &[&str] = &["level", "severity", "lvl"];
const MESSAGE_KEYS: &[&str] = &["message", "msg"];

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";

fn level_colour(level: &str) -> &'static str {
    match level.to_ascii_lowercase().as_str() {
        "error" | "fatal" | "critical" => "\x1b[31m",
        "warn" | "warning" => "\x1b[33m",
        "info" => "\x1b[32m",
        "debug" => "\x1b[34m",
        _ => DIM,
    }
}

fn take_first(map: &mut Map<String, Value>, keys: &[&str]) -> Option<Value> {
    keys.iter().find_map(|key| map.remove(*key))
}

/// A value as text. Strings holding control characters (a newline, an ANSI
/// escape) are shown JSON-quoted, so one record stays one line and cannot
/// drive the terminal.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) if !s.contains(char::is_control) => s.clone(),
        other => other.to_string(),
    }
}

/// Appends the text line for `record` (without a newline) to `out`. A record
/// that is not a JSON object (or not JSON) is written as it is: never dropped.
pub(crate) fn write_text_line(out: &mut Vec<u8>, record: &[u8], colour: bool) {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(record) else {
        out.extend_from_slice(record);
        return;
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(time) = take_first(&mut map, TIME_KEYS) {
        let time = text_of(&time);
        parts.push(if colour {
            format!("{DIM}{time}{RESET}")
        } else {
            time
        });
    }
    if let Some(level) = take_first(&mut map, LEVEL_KEYS) {
        let level = text_of(&level).to_ascii_uppercase();
        parts.push(if colour {
            format!("{}{BOLD}{level:<5}{RESET}", level_colour(&level))
        } else {
            format!("{level:<5}")
        });
    }
    if let Some(message) = take_first(&mut map, MESSAGE_KEYS) {
        parts.push(text_of(&message));
    }
    for (key, value) in &map {
        let value = match value {
            Value::String(s)
                if !s.is_empty()
                    && !s.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"') =>
            {
                s.clone()
            }
            other => other.to_string(),
        };
        parts.push(if colour {
            format!("{DIM}{key}={RESET}{value}")
        } else {
            format!("{key}={value}")
        });
    }
    let _ = write!(out, "{}", parts.join(" "));
}

#[cfg(test)]
mod tests {
    use super::write_text_line;

    fn line(record: &str, colour: bool) -> String {
        let mut out = Vec::new();
        write_text_line(&mut out, record.as_bytes(), colour);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn renders_time_level_message_then_fields() {
        assert_eq!(
            line(
                r#"{"msg":"disk full","level":"error","ts":"10:00:01","path":"/var","free":0,"note":"two words"}"#,
                false
            ),
            r#"10:00:01 ERROR disk full path=/var free=0 note="two words""#
        );
    }

    #[test]
    fn colours_only_when_asked() {
        let coloured = line(r#"{"level":"warn","message":"slow"}"#, true);
        assert!(coloured.contains("\x1b[33m"), "{coloured:?}");
        assert!(!line(r#"{"level":"warn","message":"slow"}"#, false).contains('\x1b'));
    }

    #[test]
    fn control_characters_never_break_the_line() {
        assert_eq!(
            line(r#"{"message":"two\nlines","note":"bell\u0007"}"#, false),
            r#""two\nlines" note="bell\u0007""#
        );
    }

    #[test]
    fn non_objects_and_invalid_json_are_printed_as_they_are() {
        assert_eq!(line("[1,2]", true), "[1,2]");
        assert_eq!(line("not json", false), "not json");
    }
}
