//! The phone validators of the engine (`redaction/_validators.py`), byte for byte, so the
//! compiled text case need not call back into Python for each phone candidate.
//!
//! Contract: `international_phone` and `national_phone` return what the Python functions
//! of the same names return for the same text and candidate span (`start <= end <=
//! data.len()`); the differential tests of the compiled text case hold them to it.

/// A compiled validator: the span to redact, or None to reject the candidate.
pub type Validator = fn(&[u8], usize, usize) -> Option<(usize, usize)>;

/// The compiled validator for the Python validator of this name, if there is one.
pub fn by_name(name: &str) -> Option<Validator> {
    match name {
        "international_phone" => Some(international_phone),
        "national_phone" => Some(national_phone),
        _ => None,
    }
}

#[inline]
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[inline]
fn is_glue(byte: u8) -> bool {
    byte.is_ascii_digit() || matches!(byte, b'_' | b'@' | b'%' | b'+')
}

#[inline]
fn is_group_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'.' | b'-' | b'(' | b')')
}

#[inline]
fn is_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'.' | b'-')
}

fn count(data: &[u8], start: usize, end: usize, byte: u8) -> usize {
    data[start..end].iter().filter(|&&b| b == byte).count()
}

fn digit_count(chunk: &[u8]) -> usize {
    chunk.iter().filter(|b| b.is_ascii_digit()).count()
}

/// `international_phone`: `+` and 8-15 digits, not glued to letters or digits.
pub fn international_phone(data: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if start > 0 && is_word(data[start - 1]) {
        return None;
    }
    let chunk = &data[start..end];
    let glued = end < data.len() && is_glue(data[end]);
    let free_end = if glued || chunk.contains(&b'(') || chunk.contains(&b')') {
        free_end(data, start, end)?
    } else {
        end
    };
    let digits = digit_count(&data[start..free_end]);
    (8..=15).contains(&digits).then_some((start, free_end))
}

/// `national_phone`: 9-12 digits in a national layout, standing alone, not part of a
/// dotted number.
pub fn national_phone(data: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if start > 0 && is_word(data[start - 1]) {
        return None;
    }
    let free_end = free_end(data, start, end)?;
    if continues_number(data, start, free_end) && !follows_international(data, start) {
        return None;
    }
    let digits = digit_count(&data[start..free_end]);
    (9..=12).contains(&digits).then_some((start, free_end))
}

/// `_free_end`: the end of the longest prefix ending at a digit group boundary, with
/// balanced parentheses and nothing glued after it.
fn free_end(data: &[u8], start: usize, mut end: usize) -> Option<usize> {
    if end > start
        && (end >= data.len() || !is_glue(data[end]))
        && !data[start..end].contains(&b'(')
        && !data[start..end].contains(&b')')
    {
        return Some(end);
    }
    while end > start {
        if let Some(balanced) = balance(data, start, end) {
            if balanced >= data.len() || !is_glue(data[balanced]) {
                return Some(balanced);
            }
        }
        let mut cut = end - 1;
        while cut > start && !is_group_separator(data[cut]) {
            cut -= 1;
        }
        while cut > start && is_group_separator(data[cut - 1]) {
            cut -= 1;
        }
        end = cut;
    }
    None
}

/// `_balance`: `end` moved before unmatched trailing `)`; None if still unbalanced.
fn balance(data: &[u8], start: usize, mut end: usize) -> Option<usize> {
    let opened = count(data, start, end, b'(');
    while end > start && data[end - 1] == b')' && count(data, start, end, b')') > opened {
        end -= 1;
    }
    (count(data, start, end, b')') == opened).then_some(end)
}

/// `_continues_number`: glued to more digits through a separator on either side.
fn continues_number(data: &[u8], start: usize, end: usize) -> bool {
    let before = start >= 2 && is_separator(data[start - 1]) && data[start - 2].is_ascii_digit();
    let after = end + 1 < data.len() && is_separator(data[end]) && data[end + 1].is_ascii_digit();
    before || after
}

/// `_follows_international`: a space and a `+` number (at most 24 bytes back) right
/// before `start`.
fn follows_international(data: &[u8], start: usize) -> bool {
    if start < 2 || data[start - 1] != b' ' {
        return false;
    }
    let mut index = start - 1;
    let floor = start.saturating_sub(25);
    while index > floor && (data[index - 1].is_ascii_digit() || is_group_separator(data[index - 1]))
    {
        index -= 1;
    }
    index > 0 && data[index - 1] == b'+'
}
