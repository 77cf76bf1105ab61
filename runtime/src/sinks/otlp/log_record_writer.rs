//! One record's OTLP `LogRecord` protobuf written straight from its JSON
//! bytes: strings borrowed from the record, no `AnyValue` tree, no owned
//! key. This is the common case only — a flat or nested JSON object whose
//! mapped fields each come once, whose other keys are unique (at most
//! [`MAX_ATTRIBUTES`]) and which names no resource or scope. For anything
//! else [`read_log_record`] answers `None` and the sink maps the record
//! with [`LogMapping::log_record`], whose result these bytes equal
//! whenever both apply (a property test holds them to it). Values nested
//! in objects and arrays, and numbers other than plain whole ones, are
//! read by the same serde reader the full mapping uses.

use std::borrow::Cow;

use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};
use serde::de::{Deserialize, DeserializeSeed, Deserializer};

use super::any_value_json::AnyValueSeed;
use super::log_mapping::{LogMapping, Slot, hex_id, severity, severity_number, timestamp_nanos};
use super::proto::AnyValue;
use crate::sinks::util::record_time::{nanos_from_number, nanos_from_text};

/// Most attributes the direct path takes (the full mapping indexes larger
/// objects to find repeated keys).
pub(crate) const MAX_ATTRIBUTES: usize = 16;

/// A value of the record, borrowed where it can be.
#[derive(Debug)]
enum ValueRef<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    Null,
    /// An object, an array or a number other than a plain whole one, as
    /// the serde reader reads it (boxed: rare, and it would make every
    /// value twice as large to move).
    Read(Box<AnyValue>),
}

/// One record's log record fields, ready to write.
pub(crate) struct LogRecordFields<'a> {
    time: u64,
    severity_number: i32,
    severity_text: Cow<'a, str>,
    body: Option<ValueRef<'a>>,
    attributes: Vec<(Cow<'a, str>, ValueRef<'a>)>,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    observed: u64,
}

/// The fields of `raw` mapped by `mapping`, or `None` when the record is
/// not of the common shape (see the module's comment). `mapping` must
/// name seven different fields ([`LogMapping::has_distinct_fields`]).
pub(crate) fn read_log_record<'a>(
    mapping: &LogMapping,
    raw: &'a [u8],
    observed: u64,
) -> Option<LogRecordFields<'a>> {
    let mut reader = Reader { bytes: raw, at: 0 };
    let mut fields = LogRecordFields {
        time: 0,
        severity_number: 0,
        severity_text: Cow::Borrowed(""),
        body: None,
        attributes: Vec::new(),
        trace_id: Vec::new(),
        span_id: Vec::new(),
        observed,
    };
    let slots = mapping.slots();
    let mut seen = [false; 7];
    reader.space();
    reader.expect(b'{')?;
    reader.space();
    if reader.peek() == Some(b'}') {
        reader.at += 1;
    } else {
        loop {
            reader.space();
            let key = reader.string()?;
            reader.space();
            reader.expect(b':')?;
            reader.space();
            let value = reader.value()?;
            let slot = slots.iter().position(|(name, _)| **name == *key);
            let value = match slot {
                Some(at) => {
                    if std::mem::replace(&mut seen[at], true) {
                        return None;
                    }
                    fields.fill(slots[at].1, value)?
                }
                None => Some(value),
            };
            if let Some(value) = value {
                if fields.attributes.len() == MAX_ATTRIBUTES
                    || fields.attributes.iter().any(|(k, _)| *k == key)
                {
                    return None;
                }
                fields.attributes.push((key, value));
            }
            reader.space();
            match reader.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    }
    reader.space();
    (reader.at == raw.len()).then_some(fields)
}

impl<'a> LogRecordFields<'a> {
    /// Fills `slot` from `value`: `Some(None)` when it took it,
    /// `Some(Some(value))` when the value does not fit (it stays an
    /// attribute), `None` when only the full mapping can tell.
    fn fill(&mut self, slot: Slot, value: ValueRef<'a>) -> Option<Option<ValueRef<'a>>> {
        match (slot, value) {
            (Slot::Resource | Slot::Scope, _) => None,
            (Slot::Body, value) => {
                self.body = Some(value);
                Some(None)
            }
            (Slot::Severity, ValueRef::Str(text)) => {
                self.severity_number = severity_number(&text);
                self.severity_text = text;
                Some(None)
            }
            (slot, value) => {
                let taken = match (slot, &value) {
                    (Slot::Time, ValueRef::Str(text)) => {
                        nanos_from_text(text).map(|at| self.time = at)
                    }
                    (Slot::Time, ValueRef::Int(n)) => {
                        nanos_from_number(*n as f64, u64::try_from(*n).ok())
                            .map(|at| self.time = at)
                    }
                    (Slot::Time, ValueRef::Read(any)) => {
                        timestamp_nanos(any).map(|at| self.time = at)
                    }
                    (Slot::Severity, ValueRef::Int(n)) if (1..=24).contains(n) => {
                        self.severity_number = *n as i32;
                        Some(())
                    }
                    (Slot::Severity, ValueRef::Read(any)) => match severity((**any).clone()) {
                        Ok((number, text)) if text.is_empty() => {
                            self.severity_number = number;
                            Some(())
                        }
                        _ => None,
                    },
                    (Slot::TraceId, ValueRef::Str(text)) => {
                        hex_id(text, 16).map(|id| self.trace_id = id)
                    }
                    (Slot::SpanId, ValueRef::Str(text)) => {
                        hex_id(text, 8).map(|id| self.span_id = id)
                    }
                    _ => None,
                };
                Some(taken.is_none().then_some(value))
            }
        }
    }

    /// Appends the log record as one `ScopeLogs.log_records` field (tag,
    /// length, message), the bytes prost writes for the same `LogRecord`.
    pub fn write_entry(&self, out: &mut Vec<u8>) {
        let len = self.encoded_len();
        out.reserve(1 + encoded_len_varint(len as u64) + len);
        out.push(0x12);
        encode_varint(len as u64, out);
        // Fields in tag order, defaults left out, as prost writes them.
        if self.time != 0 {
            out.push(0x09);
            out.extend_from_slice(&self.time.to_le_bytes());
        }
        if self.severity_number != 0 {
            out.push(0x10);
            encode_varint(i64::from(self.severity_number) as u64, out);
        }
        bytes_field(0x1a, self.severity_text.as_bytes(), out);
        out.push(0x2a);
        match &self.body {
            Some(body) => {
                encode_varint(any_len(body) as u64, out);
                write_any(body, out);
            }
            None => {
                let list = key_values_len(&self.attributes);
                encode_varint((1 + encoded_len_varint(list as u64) + list) as u64, out);
                out.push(0x32);
                encode_varint(list as u64, out);
                for (key, value) in &self.attributes {
                    write_key_value(0x0a, key, value, out);
                }
            }
        }
        if self.body.is_some() {
            for (key, value) in &self.attributes {
                write_key_value(0x32, key, value, out);
            }
        }
        bytes_field(0x4a, &self.trace_id, out);
        bytes_field(0x52, &self.span_id, out);
        if self.observed != 0 {
            out.push(0x59);
            out.extend_from_slice(&self.observed.to_le_bytes());
        }
    }

    fn encoded_len(&self) -> usize {
        let mut len = 0;
        if self.time != 0 {
            len += 9;
        }
        if self.severity_number != 0 {
            len += 1 + encoded_len_varint(i64::from(self.severity_number) as u64);
        }
        len += bytes_field_len(self.severity_text.len());
        let body = match &self.body {
            Some(body) => any_len(body),
            None => {
                let list = key_values_len(&self.attributes);
                1 + encoded_len_varint(list as u64) + list
            }
        };
        len += 1 + encoded_len_varint(body as u64) + body;
        if self.body.is_some() {
            len += key_values_len(&self.attributes);
        }
        len += bytes_field_len(self.trace_id.len()) + bytes_field_len(self.span_id.len());
        if self.observed != 0 {
            len += 9;
        }
        len
    }
}

/// A string or bytes field, left out when empty.
fn bytes_field(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    if !bytes.is_empty() {
        out.push(tag);
        encode_varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }
}

fn bytes_field_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        1 + encoded_len_varint(len as u64) + len
    }
}

/// The `AnyValue` message's length (its one field; nothing for null).
fn any_len(value: &ValueRef<'_>) -> usize {
    match value {
        ValueRef::Str(text) => 1 + encoded_len_varint(text.len() as u64) + text.len(),
        ValueRef::Bool(_) => 2,
        ValueRef::Int(n) => 1 + encoded_len_varint(*n as u64),
        ValueRef::Null => 0,
        ValueRef::Read(any) => any.encoded_len(),
    }
}

fn write_any(value: &ValueRef<'_>, out: &mut Vec<u8>) {
    match value {
        ValueRef::Str(text) => {
            // A oneof field is written even when empty.
            out.push(0x0a);
            encode_varint(text.len() as u64, out);
            out.extend_from_slice(text.as_bytes());
        }
        ValueRef::Bool(b) => {
            out.push(0x10);
            out.push(u8::from(*b));
        }
        ValueRef::Int(n) => {
            out.push(0x18);
            encode_varint(*n as u64, out);
        }
        ValueRef::Null => {}
        ValueRef::Read(any) => any.encode(out).expect("a Vec grows to hold any message"),
    }
}

/// The `KeyValue` message's length.
fn key_value_len(key: &str, value: &ValueRef<'_>) -> usize {
    let any = any_len(value);
    bytes_field_len(key.len()) + 1 + encoded_len_varint(any as u64) + any
}

/// The length of `values` as repeated `KeyValue` fields.
fn key_values_len(values: &[(Cow<'_, str>, ValueRef<'_>)]) -> usize {
    values
        .iter()
        .map(|(key, value)| {
            let len = key_value_len(key, value);
            1 + encoded_len_varint(len as u64) + len
        })
        .sum()
}

/// One `KeyValue` as field `tag`.
fn write_key_value(tag: u8, key: &str, value: &ValueRef<'_>, out: &mut Vec<u8>) {
    out.push(tag);
    encode_varint(key_value_len(key, value) as u64, out);
    bytes_field(0x0a, key.as_bytes(), out);
    out.push(0x12);
    encode_varint(any_len(value) as u64, out);
    write_any(value, out);
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each of eight string bytes that is a quote, a
/// backslash or a control character (bytes of 0x80 and above are UTF-8,
/// checked at the end); zero when none is.
fn needs_a_look(word: u64) -> u64 {
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    // A byte under 0x20 (only bytes under 0x80 can set this).
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    quote | backslash | control
}

/// A strict reader of the JSON grammar over the record's top level.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// A value read with the serde reader, through the same seed.
struct ReadValue(AnyValue);

impl<'de> Deserialize<'de> for ReadValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        AnyValueSeed.deserialize(deserializer).map(ReadValue)
    }
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// The string at the reader (on its `"`), decoded; `None` for text
    /// JSON does not allow (a raw control character, invalid UTF-8, a bad
    /// escape). Eight bytes at a time while none of them needs a look.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let open = self.at;
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        let mut i = start;
        let end = loop {
            if let Some(chunk) = self.bytes.get(i..i + 8) {
                let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
                let look = needs_a_look(word);
                if look == 0 {
                    i += 8;
                    continue;
                }
                // The lowest flagged byte is a real one (a false flag can
                // only sit above a real one).
                i += look.trailing_zeros() as usize / 8;
            }
            match *self.bytes.get(i)? {
                b'"' => break i,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                0..=0x1f => return None,
                _ => i += 1,
            }
        };
        self.at = end + 1;
        if escaped {
            return serde_json::from_slice::<String>(&self.bytes[open..self.at])
                .ok()
                .map(Cow::Owned);
        }
        std::str::from_utf8(&self.bytes[start..end])
            .ok()
            .map(Cow::Borrowed)
    }

    fn value(&mut self) -> Option<ValueRef<'a>> {
        match self.peek()? {
            b'"' => self.string().map(ValueRef::Str),
            b't' => self.literal(b"true", ValueRef::Bool(true)),
            b'f' => self.literal(b"false", ValueRef::Bool(false)),
            b'n' => self.literal(b"null", ValueRef::Null),
            b'-' | b'0'..=b'9' => self.number(),
            b'{' | b'[' => {
                let mut values = serde_json::Deserializer::from_slice(&self.bytes[self.at..])
                    .into_iter::<ReadValue>();
                let ReadValue(any) = values.next()?.ok()?;
                self.at += values.byte_offset();
                Some(ValueRef::Read(Box::new(any)))
            }
            _ => None,
        }
    }

    fn literal(&mut self, text: &[u8], value: ValueRef<'a>) -> Option<ValueRef<'a>> {
        let end = self.at + text.len();
        (self.bytes.get(self.at..end)? == text).then(|| {
            self.at = end;
            value
        })
    }

    /// A number, by JSON's grammar: a plain whole one of up to 18 digits
    /// directly, any other through the serde reader (`-0`, fractions,
    /// exponents and integers past `i64` are its to judge).
    fn number(&mut self) -> Option<ValueRef<'a>> {
        let start = self.at;
        let digits = |reader: &mut Self| {
            let from = reader.at;
            while reader.peek().is_some_and(|b| b.is_ascii_digit()) {
                reader.at += 1;
            }
            reader.at - from
        };
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        let mut plain = !negative;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return None;
            }
            plain = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return None;
            }
            plain = false;
        }
        let text = &self.bytes[start..self.at];
        if plain && text.len() <= 18 {
            let n = text.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return Some(ValueRef::Int(n));
        }
        serde_json::from_slice::<ReadValue>(text)
            .ok()
            .map(|ReadValue(any)| ValueRef::Read(Box::new(any)))
    }
}
