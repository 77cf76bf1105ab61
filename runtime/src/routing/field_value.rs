//! A field's value as found in a record's bytes, borrowed and not decoded
//! until a test needs it.

use super::level::{LevelRank, level_rank};

/// One field of one record, as the scanner found it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum FieldValue<'a> {
    /// The record has no such field (or is not a JSON object).
    #[default]
    Missing,
    Null,
    Bool(bool),
    /// A number (NaN if its text is no number).
    Number(f64),
    /// The string's bytes between the quotes; `escaped` when they hold a
    /// backslash and must be decoded before comparing.
    Str {
        raw: &'a [u8],
        escaped: bool,
    },
    Object,
    Array,
    /// The level known at emit time (events from `emit_at` and the
    /// `tracing` layer): no bytes were read.
    Level(LevelRank),
}

impl FieldValue<'_> {
    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            FieldValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The string's decoded text, if the value is a string. Borrowed when it
    /// has no escapes (nearly always).
    pub fn text(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match *self {
            FieldValue::Str {
                raw,
                escaped: false,
            } => Some(std::borrow::Cow::Borrowed(raw)),
            FieldValue::Str { raw, escaped: true } => {
                let mut quoted = Vec::with_capacity(raw.len() + 2);
                quoted.push(b'"');
                quoted.extend_from_slice(raw);
                quoted.push(b'"');
                let decoded: String = serde_json::from_slice(&quoted).ok()?;
                Some(std::borrow::Cow::Owned(decoded.into_bytes()))
            }
            _ => None,
        }
    }

    /// The value as a level rank: a level known at emit time, or a string
    /// naming a level.
    pub fn level(&self) -> Option<LevelRank> {
        match self {
            FieldValue::Level(rank) => Some(*rank),
            FieldValue::Str { .. } => level_rank(&self.text()?),
            _ => None,
        }
    }
}
