//! One request's walk: validate every byte, find the suspicious leaves, have the Python
//! leaves redact them, splice the results back and add `redaction.count` to changed items.
//!
//! The walk keeps the bytes of everything it does not change, so a clean message costs a
//! validation and a pre-filter look per leaf, and an unchanged request comes back as the
//! very same bytes. A changed message is rebuilt from its original bytes: its unchanged
//! fields copied in place, changed ones re-encoded with their new length, a dropped one
//! left out, and for a changed item the count added after its last attribute (where
//! protobuf's own serializer puts it for canonically encoded input).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::scan::Prefilter;
use crate::schema::{Kind, Role, Schema};
use crate::wire::{next_field, read_varint, write_len_field, write_varint, WireError, LEN};

/// `KeyValue.key = "redaction.count"`, the start of a count attribute's bytes.
pub const COUNT_PREFIX: &[u8] = b"\x0a\x0fredaction.count";

/// The Python objects a walk calls: the three leaves, the engine's sentinel for dropped
/// pieces, the hits counter type and the function adding to an existing count.
pub struct Callbacks {
    pub attribute: Py<PyAny>,
    pub text: Py<PyAny>,
    pub body: Py<PyAny>,
    pub dropped: Py<PyAny>,
    pub counter_type: Py<PyAny>,
    pub count_existing: Py<PyAny>,
    /// `encode_pair(key, value) -> bytes`: a serialized `KeyValue` of any value.
    pub encode_pair: Py<PyAny>,
    /// Whether the engine has `keeps_key(key) -> bool`: true when it returns every value
    /// of that attribute key unchanged (then such values are not scanned).
    pub keeps_keys: bool,
}

/// Why a walk stopped: malformed input, or an error raised by Python code.
pub enum WalkError {
    Wire(WireError),
    Python(PyErr),
}

impl From<WireError> for WalkError {
    fn from(error: WireError) -> Self {
        WalkError::Wire(error)
    }
}

impl From<PyErr> for WalkError {
    fn from(error: PyErr) -> Self {
        WalkError::Python(error)
    }
}

type WalkResult<T> = Result<T, WalkError>;

/// The hits of one item (span, log record, metric, data point, resource, scope).
#[derive(Default)]
pub struct Item<'py> {
    hits: Option<Bound<'py, PyAny>>,
    changed: bool,
}

/// A change to one message: bytes `start..end` of its encoding become `content`.
struct Edit<'d> {
    start: usize,
    end: usize,
    content: Content<'d>,
}

enum Content<'d> {
    /// The field is left out.
    Dropped,
    /// New bytes (a whole field: tag, length, payload).
    Bytes(Vec<u8>),
    /// The same tag (`tag`, original bytes) before a changed message.
    Message { tag: &'d [u8], message: Rebuilt<'d> },
}

impl Content<'_> {
    fn len(&self) -> usize {
        match self {
            Content::Dropped => 0,
            Content::Bytes(bytes) => bytes.len(),
            Content::Message { tag, message } => {
                tag.len() + varint_len(message.len as u64) + message.len
            }
        }
    }
}

/// A changed message: its original encoding, the edits (sorted, not overlapping) and the
/// length of its new encoding. Written once, into the result (`write_to`).
pub struct Rebuilt<'d> {
    data: &'d [u8],
    edits: Vec<Edit<'d>>,
    pub len: usize,
}

impl<'d> Rebuilt<'d> {
    fn new(data: &'d [u8], edits: Vec<Edit<'d>>) -> Self {
        let removed: usize = edits.iter().map(|edit| edit.end - edit.start).sum();
        let added: usize = edits.iter().map(|edit| edit.content.len()).sum();
        Rebuilt { data, edits, len: data.len() - removed + added }
    }

    /// Write the new encoding at the start of `out` (at least `self.len` long); return
    /// the rest of `out`.
    pub fn write_to<'o>(&self, out: &'o mut [u8]) -> &'o mut [u8] {
        let mut out = out;
        let mut cursor = 0;
        for edit in &self.edits {
            out = put(out, &self.data[cursor..edit.start]);
            match &edit.content {
                Content::Dropped => {}
                Content::Bytes(bytes) => out = put(out, bytes),
                Content::Message { tag, message } => {
                    out = put(out, tag);
                    let mut size = Vec::with_capacity(5);
                    write_varint(&mut size, message.len as u64);
                    out = put(out, &size);
                    out = message.write_to(out);
                }
            }
            cursor = edit.end;
        }
        put(out, &self.data[cursor..])
    }
}

fn put<'o>(out: &'o mut [u8], bytes: &[u8]) -> &'o mut [u8] {
    let (head, rest) = out.split_at_mut(bytes.len());
    head.copy_from_slice(bytes);
    rest
}

fn varint_len(value: u64) -> usize {
    ((64 - (value | 1).leading_zeros() as usize) + 6) / 7
}

pub struct Walk<'a, 'py> {
    pub py: Python<'py>,
    pub schema: &'a Schema,
    pub prefilter: &'a mut Prefilter,
    pub callbacks: &'a Callbacks,
    pub engine: &'a Bound<'py, PyAny>,
    pub items: u64,
    pub changed_items: u64,
    pub changed_hits: Vec<Bound<'py, PyAny>>,
    pub engine_drop: Option<Bound<'py, PyAny>>,
    /// The request's bytes: every piece is a part of them.
    pub root: &'a [u8],
    /// Where the clean leaf last seen at each position of an item (n-th attribute) is in
    /// `root`: spans of one batch tend to repeat their attributes in the same order, and
    /// comparing bytes is cheaper than looking a piece up in the memory of clean pieces.
    pub previous: Vec<(usize, usize)>,
}

impl<'a, 'py> Walk<'a, 'py> {
    /// The new bytes of message `index` encoded as `data`, or `None` if nothing changed.
    pub fn message<'d>(
        &mut self,
        index: usize,
        data: &'d [u8],
        depth: u32,
        parent_item: Option<&mut Item<'py>>,
    ) -> WalkResult<Option<Rebuilt<'d>>> {
        if depth > crate::wire::MAX_DEPTH {
            return Err(WireError("message nested too deep".to_string()).into());
        }
        let schema = self.schema;
        let spec = &schema.messages[index];
        let count_field = spec.count_field;
        let mut own = Item::default();
        let mut item = if count_field != 0 { Some(&mut own) } else { parent_item };
        let mut edits: Vec<Edit> = Vec::new();
        let mut leaves = 0usize; // leaves of this message seen so far
        let mut has_count = false; // a count_field occurrence holds a `redaction.count`
        let mut count_after: Option<usize> = None; // end of the last count_field occurrence
        let mut count_before: Option<usize> = None; // start of the first later field
        let mut pos = 0;
        while pos < data.len() {
            let field = next_field(data, pos, depth)?;
            pos = field.end;
            if count_field != 0 {
                if field.number == count_field {
                    count_after = Some(field.end);
                    has_count |= data[field.payload..field.end].starts_with(COUNT_PREFIX);
                } else if field.number > count_field && count_before.is_none() {
                    count_before = Some(field.start);
                }
            }
            if field.wire_type != LEN {
                continue;
            }
            let Some(field_spec) = spec.field(field.number) else { continue };
            let payload = &data[field.payload..field.end];
            if field_spec.role != Role::Walk && field_spec.role != Role::Plain {
                leaves += 1;
            }
            let content = match (field_spec.role, field_spec.kind) {
                (Role::Plain, kind) => {
                    schema.validate_payload(kind, payload, depth)?;
                    continue;
                }
                (Role::Walk, Kind::Message(child)) => {
                    if schema.messages[child].counted {
                        self.items += 1;
                    }
                    match self.message(child, payload, depth + 1, item.as_deref_mut())? {
                        Some(message) => {
                            let tag_end = read_varint(data, field.start)?.1;
                            Content::Message { tag: &data[field.start..tag_end], message }
                        }
                        None => continue,
                    }
                }
                (role, kind) => match self.leaf(role, kind, payload, depth, leaves, item.as_deref_mut())? {
                    Leaf::Unchanged => continue,
                    Leaf::Dropped => Content::Dropped,
                    Leaf::Replaced(new_payload) => {
                        let tag_end = read_varint(data, field.start)?.1;
                        let mut bytes = Vec::with_capacity(tag_end - field.start + 5 + new_payload.len());
                        bytes.extend_from_slice(&data[field.start..tag_end]);
                        write_varint(&mut bytes, new_payload.len() as u64);
                        bytes.extend_from_slice(&new_payload);
                        Content::Bytes(bytes)
                    }
                },
            };
            edits.push(Edit { start: field.start, end: field.end, content });
        }
        if own.changed {
            let position = count_after.or(count_before).unwrap_or(data.len());
            self.count(&mut own, count_field, data, position, has_count, &mut edits)?;
        }
        if edits.is_empty() {
            return Ok(None);
        }
        Ok(Some(Rebuilt::new(data, edits)))
    }

    /// Redact one leaf: validate it, ask the pre-filter, call its Python leaf if suspicious.
    fn leaf(
        &mut self,
        role: Role,
        kind: Kind,
        payload: &[u8],
        depth: u32,
        position: usize,
        item: Option<&mut Item<'py>>,
    ) -> WalkResult<Leaf> {
        if let Some(&(start, end)) = self.previous.get(position) {
            if self.root.get(start..end) == Some(payload) {
                return Ok(Leaf::Unchanged); // the same bytes as a clean piece
            }
        }
        if self.prefilter.is_known_clean(payload) {
            self.remember_position(position, payload);
            return Ok(Leaf::Unchanged);
        }
        self.schema.validate_payload(kind, payload, depth)?;
        if role == Role::Attribute && self.callbacks.keeps_keys && self.key_is_kept(payload)? {
            self.prefilter.remember_clean(payload);
            self.remember_position(position, payload);
            return Ok(Leaf::Unchanged);
        }
        if !self.prefilter.is_suspicious(payload) {
            self.remember_position(position, payload);
            return Ok(Leaf::Unchanged);
        }
        let Some(item) = item else {
            return Err(PyErr::new::<pyo3::exceptions::PyRuntimeError, _>(
                "a redactable field outside any item: the walk's schema is wrong",
            )
            .into());
        };
        if role == Role::Attribute {
            if let Some(pair) = string_pair(payload) {
                return self.string_attribute(item, payload, pair);
            }
        }
        let hits = match &item.hits {
            Some(hits) => hits.clone(),
            None => {
                let hits = self.callbacks.counter_type.bind(self.py).call0()?;
                item.hits = Some(hits.clone());
                hits
            }
        };
        let leaf = match role {
            Role::Attribute => &self.callbacks.attribute,
            Role::Text => &self.callbacks.text,
            _ => &self.callbacks.body,
        };
        let result = leaf.bind(self.py).call_method1(
            "redact",
            (self.engine, PyBytes::new(self.py, payload), hits),
        )?;
        if result.is_none() {
            return Ok(Leaf::Unchanged);
        }
        item.changed = true;
        if result.is(self.callbacks.dropped.bind(self.py)) {
            return Ok(Leaf::Dropped);
        }
        Ok(Leaf::Replaced(result.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes().to_vec()))
    }

    /// Remember that the clean leaf at `position` of an item is `payload` (a part of `root`).
    fn remember_position(&mut self, position: usize, payload: &[u8]) {
        let start = (payload.as_ptr() as usize).wrapping_sub(self.root.as_ptr() as usize);
        if start > self.root.len() || position > 64 {
            return; // not a part of the request (cannot happen), or an unusually long item
        }
        if self.previous.len() <= position {
            self.previous.resize(position + 1, (usize::MAX, usize::MAX));
        }
        self.previous[position] = (start, start + payload.len());
    }

    /// Redact a canonical string attribute (`pair`: see `string_pair`) as the Python
    /// attribute leaf does, without its decoding and encoding: the engine's `redact_value`
    /// with hits of its own, kept only if the value changed (or was dropped), with the
    /// placeholder rule `changed` (`drop`) when the engine counted nothing.
    fn string_attribute(
        &mut self,
        item: &mut Item<'py>,
        payload: &[u8],
        pair: StringPair<'_>,
    ) -> WalkResult<Leaf> {
        let py = self.py;
        let key = PyString::new(py, utf8(pair.key)?);
        let value = PyString::new(py, utf8(pair.value)?);
        let fresh = self.callbacks.counter_type.bind(py).call0()?;
        let redacted = self.engine.call_method1("redact_value", (&key, &value, &fresh))?;
        if redacted.is(self.drop()?) {
            self.settle(item, &fresh, "drop")?;
            return Ok(Leaf::Dropped);
        }
        let exact_string = redacted.is_exact_instance_of::<PyString>();
        if exact_string && redacted.eq(&value)? {
            return Ok(Leaf::Unchanged);
        }
        self.settle(item, &fresh, "changed")?;
        if exact_string {
            if let Ok(text) = redacted.cast::<PyString>().map_err(PyErr::from)?.to_str() {
                let mut value_field = vec![0x0A];
                write_varint(&mut value_field, text.len() as u64);
                value_field.extend_from_slice(text.as_bytes());
                let mut bytes = payload[..pair.value_field].to_vec();
                write_len_field(&mut bytes, 2, &value_field);
                return Ok(Leaf::Replaced(bytes));
            }
        }
        let encoded = self.callbacks.encode_pair.bind(py).call1((&key, &redacted))?;
        Ok(Leaf::Replaced(encoded.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes().to_vec()))
    }

    /// The engine's sentinel for a dropped value (looked up once per walk).
    fn drop(&mut self) -> PyResult<Bound<'py, PyAny>> {
        if let Some(drop) = &self.engine_drop {
            return Ok(drop.clone());
        }
        let drop = self.engine.getattr("DROP")?;
        self.engine_drop = Some(drop.clone());
        Ok(drop)
    }

    /// Add a changed piece's own hits (`fresh`) to its item's, or `placeholder` once when
    /// there are none.
    fn settle(
        &mut self,
        item: &mut Item<'py>,
        fresh: &Bound<'py, PyAny>,
        placeholder: &str,
    ) -> WalkResult<()> {
        item.changed = true;
        let fresh_counts = fresh.cast::<PyDict>().map_err(PyErr::from)?;
        let Some(hits) = &item.hits else {
            // the item's first change: its hits are this piece's
            if fresh_counts.is_empty() {
                fresh_counts.set_item(placeholder, 1)?;
            }
            item.hits = Some(fresh.clone());
            return Ok(());
        };
        let hits = hits.cast::<PyDict>().map_err(PyErr::from)?;
        if fresh_counts.is_empty() {
            add(hits, &PyString::new(self.py, placeholder).into_any(), 1)?;
            return Ok(());
        }
        for (rule, count) in fresh_counts.iter() {
            add(hits, &rule, count.extract()?)?;
        }
        Ok(())
    }

    /// Whether the engine keeps every value of the key of attribute `payload` (a valid
    /// `KeyValue` whose key field is written once), asking the engine once per key.
    fn key_is_kept(&mut self, payload: &[u8]) -> WalkResult<bool> {
        let Some(key) = single_key(payload)? else { return Ok(false) };
        if let Some(kept) = self.prefilter.kept_key(key) {
            return Ok(kept);
        }
        let text = std::str::from_utf8(key).map_err(|_| WireError("key is not UTF-8".into()))?;
        let kept = self.engine.call_method1("keeps_key", (text,))?.is_truthy()?;
        self.prefilter.remember_key(key, kept);
        Ok(kept)
    }

    /// Give a changed item its `redaction.count`: add to an existing count attribute (the
    /// first one, through Python), or insert a new one at `position`.
    fn count(
        &mut self,
        item: &mut Item<'py>,
        count_field: u32,
        data: &[u8],
        position: usize,
        has_count: bool,
        edits: &mut Vec<Edit<'_>>,
    ) -> WalkResult<()> {
        let hits = item.hits.clone().expect("a changed item has hits");
        self.changed_items += 1;
        self.changed_hits.push(hits.clone());
        let existing = if has_count { existing_count(data, count_field, edits)? } else { None };
        if let Some((start, end, existing)) = existing {
            let call = self.callbacks.count_existing.bind(self.py);
            let result = call.call1((PyBytes::new(self.py, &existing), &hits))?;
            let mut bytes = Vec::new();
            write_len_field(&mut bytes, count_field, result.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes());
            edits.retain(|edit| edit.start != start);
            edits.push(Edit { start, end, content: Content::Bytes(bytes) });
            edits.sort_by_key(|edit| (edit.start, edit.end));
            return Ok(());
        }
        let total: i64 = hits
            .cast::<PyDict>().map_err(PyErr::from)?
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
}

enum Leaf {
    Unchanged,
    Dropped,
    Replaced(Vec<u8>),
}

/// `hits[rule] += count` on a dict of counts.
pub fn add(hits: &Bound<'_, PyDict>, rule: &Bound<'_, PyAny>, count: i64) -> PyResult<()> {
    let before: i64 = match hits.get_item(rule)? {
        Some(value) => value.extract()?,
        None => 0,
    };
    hits.set_item(rule, before + count)
}

fn utf8(bytes: &[u8]) -> WalkResult<&str> {
    std::str::from_utf8(bytes).map_err(|_| WireError("string field is not valid UTF-8".into()).into())
}

/// A `KeyValue` encoded as protobuf encodes one holding a string:
/// `0a <key> 12 <0a <string>>`, the key not empty, nothing else.
struct StringPair<'a> {
    key: &'a [u8],
    value: &'a [u8],
    /// Where the value field (`12 ...`) starts.
    value_field: usize,
}

fn string_pair(payload: &[u8]) -> Option<StringPair<'_>> {
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
fn single_key(payload: &[u8]) -> WalkResult<Option<&[u8]>> {
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
