//! Reading an attribute (`KeyValue`) without decoding it: its key, and whether it is the
//! common case of a string value in protobuf's own encoding.
//!
//! Contract: `string_pair` recognises exactly `0a <key> 12 <0a <string>>` with a non-empty
//! key and nothing else in the payload (anything else is `None`: the Python leaf decodes it
//! in full); `single_key` returns the key only when field 1 is written exactly once, as a
//! LEN field. Neither checks UTF-8: callers do (`utf8`).

use crate::wire::{next_field, read_varint, WireError, LEN};

/// A `KeyValue` encoded as protobuf encodes one holding a string:
/// `0a <key> 12 <0a <string>>`, the key not empty, nothing else.
pub struct StringPair<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// Where the value field (`12 ...`) starts.
    pub value_field: usize,
}

pub fn string_pair(payload: &[u8]) -> Option<StringPair<'_>> {
    if payload.first() != Some(&0x0A) {
        return None;
    }
    let (key_size, key_start) = read_varint(payload, 1).ok()?;
    let value_field = key_start.checked_add(usize::try_from(key_size).ok()?)?;
    if key_size == 0 || payload.get(value_field) != Some(&0x12) {
        return None;
    }
    let (value_size, value_start) = read_varint(payload, value_field + 1).ok()?;
    if value_start.checked_add(usize::try_from(value_size).ok()?)? != payload.len()
        || payload.get(value_start) != Some(&0x0A)
    {
        return None;
    }
    let (text_size, text_start) = read_varint(payload, value_start + 1).ok()?;
    if text_start.checked_add(usize::try_from(text_size).ok()?)? != payload.len() {
        return None;
    }
    Some(StringPair {
        key: &payload[key_start..value_field],
        value: &payload[text_start..],
        value_field,
    })
}

/// The key of a `KeyValue` (field 1) if it is written exactly once.
pub fn single_key(payload: &[u8]) -> Result<Option<&[u8]>, WireError> {
    let mut key = None;
    let mut pos = 0;
    while pos < payload.len() {
        let field = next_field(payload, pos, 0)?;
        pos = field.end;
        if field.number == 1 {
            if key.is_some() || field.wire_type != LEN {
                return Ok(None);
            }
            key = Some(&payload[field.payload..field.end]);
        }
    }
    Ok(key)
}

/// `bytes` as text, or the error for a string field that is not UTF-8.
pub fn utf8(bytes: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(bytes).map_err(|_| WireError("string field is not valid UTF-8".into()))
}
