//! The protobuf wire format, read in place: a message is a run of fields,
//! each a tag (field number and wire type) and a value borrowed from the
//! buffer. Enough to walk OTLP messages without decoding them into owned
//! types first; every length is checked against what is left.

/// A field's value as the wire carries it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum WireValue<'a> {
    /// Wire type 0: ints, enums, bools.
    Varint(u64),
    /// Wire type 1: `fixed64`, `double`.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, embedded messages, packed repeats.
    Bytes(&'a [u8]),
    /// Wire type 5: `fixed32`, `float`.
    Fixed32(u32),
}

impl<'a> WireValue<'a> {
    /// The value of a length-delimited field, or what is wrong.
    pub(crate) fn bytes(self, field: &str) -> Result<&'a [u8], String> {
        match self {
            WireValue::Bytes(bytes) => Ok(bytes),
            _ => Err(format!("{field}: wrong wire type")),
        }
    }

    /// A string field's text, which protobuf requires to be UTF-8.
    pub(crate) fn text(self, field: &str) -> Result<&'a str, String> {
        std::str::from_utf8(self.bytes(field)?)
            .map_err(|_| format!("{field}: a string that is not UTF-8"))
    }

    pub(crate) fn varint(self, field: &str) -> Result<u64, String> {
        match self {
            WireValue::Varint(n) => Ok(n),
            _ => Err(format!("{field}: wrong wire type")),
        }
    }

    pub(crate) fn fixed64(self, field: &str) -> Result<u64, String> {
        match self {
            WireValue::Fixed64(n) => Ok(n),
            _ => Err(format!("{field}: wrong wire type")),
        }
    }

    pub(crate) fn fixed32(self, field: &str) -> Result<u32, String> {
        match self {
            WireValue::Fixed32(n) => Ok(n),
            _ => Err(format!("{field}: wrong wire type")),
        }
    }
}

/// The fields of one message, in order.
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

/// The fields of `message`.
pub(crate) fn fields(message: &[u8]) -> Fields<'_> {
    Fields { rest: message }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for (i, byte) in self.rest.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i == 9 && *byte > 1 {
                    break;
                }
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err("a varint that does not end or overflows 64 bits".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err(format!(
                "a field of {n} bytes where {} are left",
                self.rest.len()
            ));
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = (|| {
            let tag = self.varint()?;
            let number = u32::try_from(tag >> 3)
                .ok()
                .filter(|n| *n != 0)
                .ok_or("a field number of 0 or past 2^32")?;
            let value = match tag & 7 {
                0 => WireValue::Varint(self.varint()?),
                1 => WireValue::Fixed64(u64::from_le_bytes(
                    self.take(8)?.try_into().expect("8 bytes"),
                )),
                2 => {
                    let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
                    WireValue::Bytes(self.take(len)?)
                }
                5 => WireValue::Fixed32(u32::from_le_bytes(
                    self.take(4)?.try_into().expect("4 bytes"),
                )),
                other => return Err(format!("wire type {other} (groups are not used by OTLP)")),
            };
            Ok((number, value))
        })();
        if field.is_err() {
            // One error ends the walk.
            self.rest = &[];
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_each_wire_type_are_read_and_bad_ones_refused() {
        // 1: varint 300; 2: "hi"; 3: fixed64 1; 4: fixed32 2.
        let message = [
            0x08, 0xac, 0x02, 0x12, 0x02, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x25, 2, 0, 0,
            0,
        ];
        let read: Vec<_> = fields(&message).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            read,
            [
                (1, WireValue::Varint(300)),
                (2, WireValue::Bytes(b"hi")),
                (3, WireValue::Fixed64(1)),
                (4, WireValue::Fixed32(2)),
            ]
        );
        for bad in [
            &[0x12, 0x05, b'a'][..],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            &[0x0b],
            &[0x00, 0x01],
            &[0x08],
        ] {
            assert!(fields(bad).any(|f| f.is_err()), "{bad:?}");
        }
    }
}
