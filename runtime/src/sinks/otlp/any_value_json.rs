//! JSON read straight into OTLP `AnyValue`s, in one pass, without a
//! `serde_json::Value` tree in between (the sink's per-record cost is
//! mostly this read).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::proto::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as V};

/// Reads one JSON value as an `AnyValue`: `null` as an empty value,
/// integers that fit `i64` as `int_value`, other numbers as
/// `double_value`, arrays and objects as array and key-value lists (keys
/// in the record's order).
pub(crate) struct AnyValueSeed;

impl<'de> DeserializeSeed<'de> for AnyValueSeed {
    type Value = AnyValue;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<AnyValue, D::Error> {
        deserializer.deserialize_any(AnyValueVisitor)
    }
}

struct AnyValueVisitor;

fn some(value: V) -> AnyValue {
    AnyValue { value: Some(value) }
}

impl<'de> Visitor<'de> for AnyValueVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<AnyValue, E> {
        Ok(some(V::BoolValue(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<AnyValue, E> {
        Ok(some(V::IntValue(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<AnyValue, E> {
        Ok(some(match i64::try_from(v) {
            Ok(v) => V::IntValue(v),
            Err(_) => V::DoubleValue(v as f64),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<AnyValue, E> {
        Ok(some(V::DoubleValue(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<AnyValue, E> {
        Ok(some(V::StringValue(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<AnyValue, E> {
        Ok(some(V::StringValue(v)))
    }

    fn visit_unit<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue { value: None })
    }

    fn visit_none<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue { value: None })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(value) = seq.next_element_seed(AnyValueSeed)? {
            values.push(value);
        }
        Ok(some(V::ArrayValue(ArrayValue { values })))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnyValue, A::Error> {
        let values = key_values(map)?;
        Ok(some(V::KvlistValue(KeyValueList { values })))
    }
}

/// The rest of a JSON object as key-values, a key given twice keeping its
/// first place and its last value (as a parsed object would).
pub(crate) fn key_values<'de, A: MapAccess<'de>>(mut map: A) -> Result<Vec<KeyValue>, A::Error> {
    let mut values = UniqueKeyValues::with_capacity(map.size_hint().unwrap_or(0));
    while let Some(key) = map.next_key::<String>()? {
        let value = map.next_value_seed(AnyValueSeed)?;
        values.insert(key, value);
    }
    Ok(values.into_vec())
}

/// Reads an object key borrowed from the record when it has no escapes
/// (the common case), so a key that is looked at and dropped costs no
/// copy.
pub(crate) struct FieldName;

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldName {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

/// Key-values in first-seen order with each key once (OTLP requires
/// unique attribute keys).
#[derive(Default)]
pub(crate) struct UniqueKeyValues {
    values: Vec<KeyValue>,
    /// Where each key sits, built only once an object is large enough that
    /// scanning the list for a repeated key would cost more than hashing
    /// (a hostile record with 100,000 keys must stay linear).
    index: Option<HashMap<String, usize>>,
}

/// Objects up to this many keys are searched by a scan.
const SCAN_LIMIT: usize = 16;

impl UniqueKeyValues {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            values: Vec::with_capacity(capacity.min(1024)),
            index: None,
        }
    }

    /// Adds `key` = `value`, replacing an earlier value of the same key in
    /// place.
    pub(crate) fn insert(&mut self, key: String, value: AnyValue) {
        let earlier = match &mut self.index {
            Some(index) => index.get(&key).copied(),
            None => self.values.iter().position(|kv| kv.key == key),
        };
        if let Some(at) = earlier {
            self.values[at].value = Some(value);
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.values.len());
        } else if self.values.len() == SCAN_LIMIT {
            let mut index: HashMap<String, usize> = self
                .values
                .iter()
                .enumerate()
                .map(|(at, kv)| (kv.key.clone(), at))
                .collect();
            index.insert(key.clone(), self.values.len());
            self.index = Some(index);
        }
        self.values.push(KeyValue {
            key,
            value: Some(value),
        });
    }

    pub(crate) fn into_vec(self) -> Vec<KeyValue> {
        self.values
    }
}
