//! Protobuf wire format: reading one field at a time, writing varints.
//!
//! `next_field(data, pos)` returns the field that starts at `pos` (its number, wire type,
//! where its payload is and where it ends) or a `WireError` naming what is wrong. Groups
//! (wire types 3 and 4, unused by OTLP but valid protobuf) are skipped whole.

/// A malformed encoding; the message says where and what.
#[derive(Debug)]
pub struct WireError(pub String);

pub type WireResult<T> = Result<T, WireError>;

pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const START_GROUP: u8 = 3;
pub const END_GROUP: u8 = 4;
pub const FIXED32: u8 = 5;

/// Deepest nesting of messages and groups accepted, as protobuf's own parsers do.
pub const MAX_DEPTH: u32 = 100;

/// One field of a message: `data[start..end]` is the whole field (tag included),
/// `data[payload..end]` its payload (for LEN fields: after the length).
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub number: u32,
    pub wire_type: u8,
    pub start: usize,
    pub payload: usize,
    pub end: usize,
}

/// The varint at `pos`: (value, position after it).
#[inline]
pub fn read_varint(data: &[u8], pos: usize) -> WireResult<(u64, usize)> {
    if let Some(&byte) = data.get(pos) {
        if byte < 0x80 {
            return Ok((u64::from(byte), pos + 1));
        }
    }
    read_varint_general(data, pos)
}

fn read_varint_general(data: &[u8], pos: usize) -> WireResult<(u64, usize)> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    let mut index = pos;
    loop {
        let Some(&byte) = data.get(index) else {
            return Err(malformed(format_args!("truncated varint at byte {pos}")));
        };
        index += 1;
        if shift == 63 && byte > 1 {
            return Err(malformed(format_args!("varint too long at byte {pos}")));
        }
        value |= u64::from(byte & 0x7F) << shift;
        if byte < 0x80 {
            return Ok((value, index));
        }
        shift += 7;
        if shift > 63 {
            return Err(malformed(format_args!("varint too long at byte {pos}")));
        }
    }
}

/// The field starting at `pos` (which must be < `data.len()`).
#[inline(always)]
pub fn next_field(data: &[u8], pos: usize, depth: u32) -> WireResult<Field> {
    // The common cases, read inline: a one-byte tag, then a one- or two-byte length, a
    // one-byte varint or a fixed-size value; anything else (and any error) is left to
    // `next_field_general`, which reads every case the same way.
    if let (Some(&key), Some(&first)) = (data.get(pos), data.get(pos + 1)) {
        if (8..0x80).contains(&key) {
            let (wire_type, payload, end) = match key & 7 {
                LEN if first < 0x80 => (LEN, pos + 2, pos + 2 + first as usize),
                LEN => match data.get(pos + 2) {
                    Some(&second) if second < 0x80 => {
                        let size = usize::from(first & 0x7F) | usize::from(second) << 7;
                        (LEN, pos + 3, pos + 3 + size)
                    }
                    _ => return next_field_general(data, pos, depth),
                },
                VARINT if first < 0x80 => (VARINT, pos + 1, pos + 2),
                FIXED64 => (FIXED64, pos + 1, pos + 9),
                FIXED32 => (FIXED32, pos + 1, pos + 5),
                _ => return next_field_general(data, pos, depth),
            };
            if end <= data.len() {
                return Ok(Field {
                    number: u32::from(key >> 3),
                    wire_type,
                    start: pos,
                    payload,
                    end,
                });
            }
        }
    }
    next_field_general(data, pos, depth)
}

/// The most common field, read inline: a one-byte tag of a LEN field and a one-byte length
/// (number, payload, position after it); `None` for any other field, or a field running
/// past the end (read it with `next_field`).
#[inline(always)]
pub fn short_len_field(data: &[u8], pos: usize) -> Option<(u32, &[u8], usize)> {
    let (&key, &size) = (data.get(pos)?, data.get(pos + 1)?);
    // `key & 0x87 == LEN`: one byte (no continuation bit) of wire type LEN.
    if key & 0x87 != LEN || key < 8 || size >= 0x80 {
        return None;
    }
    let end = pos + 2 + usize::from(size);
    Some((u32::from(key >> 3), data.get(pos + 2..end)?, end))
}

#[inline(never)]
fn next_field_general(data: &[u8], pos: usize, depth: u32) -> WireResult<Field> {
    let (key, after_key) = read_varint(data, pos)?;
    let number = key >> 3;
    let wire_type = (key & 7) as u8;
    if number == 0 || number > 0x1FFF_FFFF {
        return Err(malformed(format_args!("invalid field number {number} at byte {pos}")));
    }
    let number = number as u32;
    let (payload, end) = match wire_type {
        VARINT => (after_key, read_varint(data, after_key)?.1),
        FIXED64 => (after_key, after_key + 8),
        FIXED32 => (after_key, after_key + 4),
        LEN => {
            let (size, start) = read_varint(data, after_key)?;
            let end = usize::try_from(size).ok().and_then(|size| start.checked_add(size));
            match end {
                Some(end) => (start, end),
                None => {
                    return Err(malformed(format_args!("field {number} too long at byte {pos}")))
                }
            }
        }
        START_GROUP => (after_key, skip_group(data, after_key, number, depth + 1)?),
        _ => {
            return Err(malformed(format_args!("invalid wire type {wire_type} at byte {pos}")));
        }
    };
    if end > data.len() {
        return Err(malformed(format_args!("field {number} truncated at byte {pos}")));
    }
    Ok(Field { number, wire_type, start: pos, payload, end })
}

/// The error for malformed input (out of line: the walk's loops stay small).
#[cold]
#[inline(never)]
pub fn malformed(message: std::fmt::Arguments<'_>) -> WireError {
    WireError(message.to_string())
}

/// The position after the END_GROUP of group `number` whose fields start at `pos`.
fn skip_group(data: &[u8], mut pos: usize, number: u32, depth: u32) -> WireResult<usize> {
    if depth > MAX_DEPTH {
        return Err(WireError("groups nested too deep".to_string()));
    }
    while pos < data.len() {
        let (key, after_key) = read_varint(data, pos)?;
        if (key & 7) as u8 == END_GROUP {
            if key >> 3 != u64::from(number) {
                return Err(WireError(format!("mismatched end of group at byte {pos}")));
            }
            return Ok(after_key);
        }
        pos = next_field(data, pos, depth)?.end;
    }
    Err(WireError(format!("group {number} not closed")))
}

/// Append `value` as a varint.
#[inline]
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Append a LEN field: tag of `number`, length, payload.
pub fn write_len_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    write_varint(out, (u64::from(number) << 3) | u64::from(LEN));
    write_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}
