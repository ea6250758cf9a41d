//! `redaction.count`: where a changed item's count goes, and the edit that adds it.
//!
//! Contract: a changed item with a count attribute already (the first `KeyValue` of its
//! count field whose key is `redaction.count`) has that attribute replaced by what the
//! Python `count_existing(payload, hits)` makes of it; otherwise a new attribute
//! `redaction.count = <sum of hits, at least 1>` is inserted after the item's last
//! attribute, else before its first field with a higher number, else at its end (where
//! protobuf's serializer puts it for canonically encoded input).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::rebuilt::{Content, Edit};
use crate::walk::WalkResult;
use crate::wire::{next_field, read_varint, write_len_field, write_varint, LEN};

/// `KeyValue.key = "redaction.count"`, the start of a count attribute's bytes.
pub const COUNT_PREFIX: &[u8] = b"\x0a\x0fredaction.count";

/// Add to `edits` (sorted) the count of a changed item encoded as `data`, whose hits are
/// `hits`, through `count_existing` when it has a count already.
pub fn add_count<'py>(
    py: Python<'py>,
    count_existing: &Bound<'py, PyAny>,
    hits: &Bound<'py, PyAny>,
    count_field: u32,
    data: &[u8],
    depth: u32,
    edits: &mut Vec<Edit<'_>>,
) -> WalkResult<()> {
    let (position, has_count) = count_place(data, count_field, depth)?;
    let existing = if has_count { existing_count(data, count_field, edits)? } else { None };
    if let Some((start, end, existing)) = existing {
        let result = count_existing.call1((PyBytes::new(py, &existing), hits))?;
        let mut bytes = Vec::new();
        write_len_field(
            &mut bytes,
            count_field,
            result.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes(),
        );
        edits.retain(|edit| edit.start != start);
        edits.push(Edit { start, end, content: Content::Bytes(bytes) });
        edits.sort_by_key(|edit| (edit.start, edit.end));
        return Ok(());
    }
    let total: i64 = hits
        .cast::<PyDict>()
        .map_err(PyErr::from)?
        .values()
        .iter()
        .map(|value| value.extract::<i64>())
        .sum::<PyResult<i64>>()?;
    let mut value = vec![0x18];
    write_varint(&mut value, total.max(1) as u64);
    let mut pair = COUNT_PREFIX.to_vec();
    write_len_field(&mut pair, 2, &value);
    let mut bytes = Vec::with_capacity(pair.len() + 3);
    write_len_field(&mut bytes, count_field, &pair);
    let at = edits.partition_point(|edit| (edit.start, edit.end) <= (position, position));
    edits.insert(at, Edit { start: position, end: position, content: Content::Bytes(bytes) });
    Ok(())
}

/// `hits[rule] += count` on a dict of counts.
pub fn add(hits: &Bound<'_, PyDict>, rule: &Bound<'_, PyAny>, count: i64) -> PyResult<()> {
    let before: i64 = match hits.get_item(rule)? {
        Some(value) => value.extract()?,
        None => 0,
    };
    hits.set_item(rule, before + count)
}

/// The first attribute of `count_field` that is a count (after the edits already made):
/// (start, end, current payload).
fn existing_count(
    data: &[u8],
    count_field: u32,
    edits: &[Edit<'_>],
) -> WalkResult<Option<(usize, usize, Vec<u8>)>> {
    let mut pos = 0;
    while pos < data.len() {
        let field = next_field(data, pos, 0)?;
        pos = field.end;
        if field.number != count_field || field.wire_type != LEN {
            continue;
        }
        let payload = match edits.iter().find(|edit| edit.start == field.start) {
            None => data[field.payload..field.end].to_vec(),
            Some(Edit { content: Content::Bytes(bytes), .. }) => {
                let tag_end = read_varint(bytes, 0)?.1;
                bytes[read_varint(bytes, tag_end)?.1..].to_vec()
            }
            Some(_) => continue,
        };
        if payload.starts_with(COUNT_PREFIX) {
            return Ok(Some((field.start, field.end, payload)));
        }
    }
    Ok(None)
}

/// Where a changed item's new count goes, and whether it already has one: after the last
/// occurrence of `count_field`, else before the first field with a higher number, else
/// at the end; whether an occurrence holds a `redaction.count`.
fn count_place(data: &[u8], count_field: u32, depth: u32) -> WalkResult<(usize, bool)> {
    let mut has_count = false;
    let mut after: Option<usize> = None;
    let mut before: Option<usize> = None;
    let mut pos = 0;
    while pos < data.len() {
        let field = next_field(data, pos, depth)?;
        pos = field.end;
        if field.number == count_field {
            after = Some(field.end);
            has_count |= data[field.payload..field.end].starts_with(COUNT_PREFIX);
        } else if field.number > count_field && before.is_none() {
            before = Some(field.start);
        }
    }
    Ok((after.or(before).unwrap_or(data.len()), has_count))
}
