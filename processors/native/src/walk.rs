//! One request's walk, in two passes. The first validates every byte and finds the
//! suspicious leaves; the engine then redacts all of them in one call into Python
//! (`redact_leaves`), so a batch crosses into Python once, whatever the number of its
//! changed values; the second pass splices the results back and adds `redaction.count` to
//! changed items, descending only into the messages that hold a suspicious leaf.
//!
//! The walk keeps the bytes of everything it does not change, so a clean message costs a
//! validation and a pre-filter look per leaf, and an unchanged request comes back as the
//! very same bytes. A changed message is rebuilt from its original bytes: its unchanged
//! fields copied in place, changed ones re-encoded with their new length, a dropped one
//! left out, and for a changed item the count added after its last attribute (where
//! protobuf's own serializer puts it for canonically encoded input).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyNone, PyString, PyTuple};

use crate::scan::Prefilter;
use crate::schema::{Kind, Role, Schema};
use crate::wire::{next_field, read_varint, write_len_field, write_varint, WireError, LEN};

/// `KeyValue.key = "redaction.count"`, the start of a count attribute's bytes.
pub const COUNT_PREFIX: &[u8] = b"\x0a\x0fredaction.count";

/// The Python objects a walk calls: the three leaves, the engine's sentinel for dropped
/// pieces, the function redacting a batch of leaves and the function adding to an
/// existing count.
pub struct Callbacks {
    pub attribute: Py<PyAny>,
    pub text: Py<PyAny>,
    pub body: Py<PyAny>,
    pub dropped: Py<PyAny>,
    /// `redact_leaves(engine, leaves) -> [(result, hits)]`: for each `(None, key, value)`
    /// the engine's `redact_value(key, value, hits)`, for each `(leaf, payload, None)`
    /// `leaf.redact(engine, payload, hits)`, each with new, empty hits.
    pub redact_leaves: Py<PyAny>,
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

    /// Write the new encoding to `out`, which takes exactly `self.len` more bytes.
    pub fn write_to(&self, out: &mut Output) {
        let mut cursor = 0;
        for edit in &self.edits {
            out.put(&self.data[cursor..edit.start]);
            match &edit.content {
                Content::Dropped => {}
                Content::Bytes(bytes) => out.put(bytes),
                Content::Message { tag, message } => {
                    out.put(tag);
                    let mut size = Vec::with_capacity(5);
                    write_varint(&mut size, message.len as u64);
                    out.put(&size);
                    message.write_to(out);
                }
            }
            cursor = edit.end;
        }
        out.put(&self.data[cursor..]);
    }
}

/// Where a rebuilt request is written: a buffer of known size, not initialised beforehand
/// (the new bytes object of the result), filled from the start; every write is checked
/// against the space left.
pub struct Output {
    next: *mut u8,
    left: usize,
}

impl Output {
    /// # Safety
    /// `start` must be valid for writes of `size` bytes for the life of this `Output`.
    pub unsafe fn new(start: *mut u8, size: usize) -> Output {
        Output { next: start, left: size }
    }

    fn put(&mut self, bytes: &[u8]) {
        assert!(bytes.len() <= self.left, "rebuilt request longer than computed");
        // SAFETY: `next` has `left` writable bytes (see `new`), `bytes` is another buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.next, bytes.len());
            self.next = self.next.add(bytes.len());
        }
        self.left -= bytes.len();
    }

    /// Bytes not written yet (0 once the whole request is written).
    pub fn left(&self) -> usize {
        self.left
    }
}

fn varint_len(value: u64) -> usize {
    ((64 - (value | 1).leading_zeros() as usize) + 6) / 7
}

/// A suspicious leaf found by the first pass.
pub struct Pending<'py> {
    /// Where its payload starts in the request.
    offset: usize,
    /// Its entry in `redact_leaves`' list: `(None, key, value)` for a canonical string
    /// attribute, `(leaf, payload, None)` otherwise.
    args: Bound<'py, PyTuple>,
    /// For a canonical string attribute: where its value field starts in the payload.
    value_field: Option<usize>,
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
    engine_drop: Option<Bound<'py, PyAny>>,
    /// The request's bytes: every piece is a part of them.
    root: &'a [u8],
    /// Where the clean leaf last seen at each position of an item (n-th attribute) is in
    /// `root`: spans of one batch tend to repeat their attributes in the same order, and
    /// comparing bytes is cheaper than looking a piece up in the memory of clean pieces.
    previous: Vec<(usize, usize)>,
    /// The suspicious leaves, in the order of the walk.
    pending: Vec<Pending<'py>>,
    /// What `redact_leaves` made of each pending leaf: (result, hits).
    results: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    /// The second pass: the next pending leaf.
    cursor: usize,
    /// Whether this is the second pass.
    applying: bool,
}

impl<'a, 'py> Walk<'a, 'py> {
    pub fn new(
        py: Python<'py>,
        schema: &'a Schema,
        prefilter: &'a mut Prefilter,
        callbacks: &'a Callbacks,
        engine: &'a Bound<'py, PyAny>,
        root: &'a [u8],
    ) -> Self {
        Walk {
            py,
            schema,
            prefilter,
            callbacks,
            engine,
            items: 0,
            changed_items: 0,
            changed_hits: Vec::new(),
            engine_drop: None,
            root,
            previous: Vec::new(),
            pending: Vec::new(),
            results: Vec::new(),
            cursor: 0,
            applying: false,
        }
    }

    /// Walk the request, a message of type `index`: its new bytes, or `None` if nothing
    /// changed.
    pub fn run(&mut self, index: usize) -> WalkResult<Option<Rebuilt<'a>>> {
        let data = self.root;
        self.message(index, data, 0, None)?;
        if self.pending.is_empty() {
            return Ok(None);
        }
        self.redact_pending()?;
        self.applying = true;
        self.message(index, data, 0, None)
    }

    /// All pending leaves through `redact_leaves`, in one call.
    fn redact_pending(&mut self) -> PyResult<()> {
        let py = self.py;
        let leaves = PyList::new(py, self.pending.iter().map(|pending| &pending.args))?;
        let results = self.callbacks.redact_leaves.bind(py).call1((self.engine, leaves))?;
        let results = results.cast::<PyList>().map_err(PyErr::from)?;
        if results.len() != self.pending.len() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "redact_leaves must return one result per leaf",
            ));
        }
        self.results.reserve(results.len());
        for result in results.iter() {
            let pair = result.cast::<PyTuple>().map_err(PyErr::from)?;
            self.results.push((pair.get_item(0)?, pair.get_item(1)?));
        }
        Ok(())
    }

    #[inline]
    fn offset_of(&self, piece: &[u8]) -> usize {
        (piece.as_ptr() as usize).wrapping_sub(self.root.as_ptr() as usize)
    }

    /// Where the next pending leaf of the second pass starts (`usize::MAX`: none left).
    #[inline]
    fn next_pending(&self) -> usize {
        self.pending.get(self.cursor).map_or(usize::MAX, |pending| pending.offset)
    }

    /// First pass: validate message `index` encoded as `data` and collect its suspicious
    /// leaves (returns `None`). Second pass: its new bytes, or `None` if nothing changed.
    fn message<'d>(
        &mut self,
        index: usize,
        data: &'d [u8],
        depth: u32,
        parent_item: Option<&mut Item<'py>>,
    ) -> WalkResult<Option<Rebuilt<'d>>> {
        if depth > crate::wire::MAX_DEPTH {
            return Err(WireError("message nested too deep".to_string()).into());
        }
        let base = self.offset_of(data);
        let applying = self.applying;
        if applying && self.next_pending() >= base + data.len() {
            return Ok(None); // no suspicious leaf in here
        }
        let schema = self.schema;
        let spec = &schema.messages[index];
        let count_field = spec.count_field;
        let mut own = Item::default();
        let mut item = if count_field != 0 { Some(&mut own) } else { parent_item };
        let mut edits: Vec<Edit> = Vec::new();
        let mut leaves = 0usize; // leaves of this message seen so far
        let mut pos = 0;
        while pos < data.len() {
            let field = next_field(data, pos, depth)?;
            pos = field.end;
            if field.wire_type != LEN {
                continue;
            }
            let Some(field_spec) = spec.field(field.number) else { continue };
            if applying {
                let next = self.next_pending();
                if next >= base + data.len() {
                    break;
                }
                if next >= base + field.end {
                    continue;
                }
            }
            let payload = &data[field.payload..field.end];
            let content = match (field_spec.role, field_spec.kind) {
                (Role::Plain, kind) => {
                    if !applying {
                        schema.validate_payload(kind, payload, depth)?;
                    }
                    continue;
                }
                (Role::Walk, Kind::Message(child)) => {
                    if !applying && schema.messages[child].counted {
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
                (role, kind) => {
                    leaves += 1;
                    if !applying {
                        self.scan_leaf(role, kind, payload, depth, leaves, item.is_some())?;
                        continue;
                    }
                    match self.apply_leaf(payload, item.as_deref_mut())? {
                        Leaf::Unchanged => continue,
                        Leaf::Dropped => Content::Dropped,
                        Leaf::Replaced(new_payload) => {
                            let tag_end = read_varint(data, field.start)?.1;
                            let mut bytes =
                                Vec::with_capacity(tag_end - field.start + 5 + new_payload.len());
                            bytes.extend_from_slice(&data[field.start..tag_end]);
                            write_varint(&mut bytes, new_payload.len() as u64);
                            bytes.extend_from_slice(&new_payload);
                            Content::Bytes(bytes)
                        }
                    }
                }
            };
            edits.push(Edit { start: field.start, end: field.end, content });
        }
        if own.changed {
            let (position, has_count) = count_place(data, count_field, depth)?;
            self.count(&mut own, count_field, data, position, has_count, &mut edits)?;
        }
        if edits.is_empty() {
            return Ok(None);
        }
        Ok(Some(Rebuilt::new(data, edits)))
    }

    /// First pass, one leaf: the same bytes as the clean leaf at this position of the
    /// previous item (the common case, checked inline), or `scan_new_leaf`.
    #[inline(always)]
    fn scan_leaf(
        &mut self,
        role: Role,
        kind: Kind,
        payload: &[u8],
        depth: u32,
        position: usize,
        in_item: bool,
    ) -> WalkResult<()> {
        if let Some(&(start, end)) = self.previous.get(position) {
            if self.root.get(start..end) == Some(payload) {
                return Ok(()); // the same bytes as a clean piece
            }
        }
        self.scan_new_leaf(role, kind, payload, depth, position, in_item)
    }

    /// First pass, a leaf unlike the previous item's: validate it, ask the pre-filter, and
    /// if it is suspicious keep it for the engine.
    #[inline(never)]
    fn scan_new_leaf(
        &mut self,
        role: Role,
        kind: Kind,
        payload: &[u8],
        depth: u32,
        position: usize,
        in_item: bool,
    ) -> WalkResult<()> {
        if self.prefilter.is_known_clean(payload) {
            self.remember_position(position, payload);
            return Ok(());
        }
        self.schema.validate_payload(kind, payload, depth)?;
        if role == Role::Attribute && self.callbacks.keeps_keys && self.key_is_kept(payload)? {
            self.prefilter.remember_clean(payload);
            self.remember_position(position, payload);
            return Ok(());
        }
        if !self.prefilter.is_suspicious(payload) {
            self.remember_position(position, payload);
            return Ok(());
        }
        if !in_item {
            return Err(PyErr::new::<pyo3::exceptions::PyRuntimeError, _>(
                "a redactable field outside any item: the walk's schema is wrong",
            )
            .into());
        }
        let pending = self.pending_leaf(role, payload)?;
        self.pending.push(pending);
        Ok(())
    }

    /// The entry of a suspicious leaf (a valid piece) for `redact_leaves`.
    fn pending_leaf(&self, role: Role, payload: &[u8]) -> WalkResult<Pending<'py>> {
        let py = self.py;
        let offset = self.offset_of(payload);
        let none = PyNone::get(py).to_owned().into_any();
        if role == Role::Attribute {
            if let Some(pair) = string_pair(payload) {
                let key = PyString::new(py, utf8(pair.key)?).into_any();
                let value = PyString::new(py, utf8(pair.value)?).into_any();
                let args = PyTuple::new(py, [none, key, value])?;
                return Ok(Pending { offset, args, value_field: Some(pair.value_field) });
            }
        }
        let leaf = match role {
            Role::Attribute => &self.callbacks.attribute,
            Role::Text => &self.callbacks.text,
            _ => &self.callbacks.body,
        };
        let args =
            PyTuple::new(py, [leaf.bind(py).clone(), PyBytes::new(py, payload).into_any(), none])?;
        Ok(Pending { offset, args, value_field: None })
    }

    /// Second pass, one leaf: what the engine made of it, if it was pending.
    fn apply_leaf(&mut self, payload: &[u8], item: Option<&mut Item<'py>>) -> WalkResult<Leaf> {
        if self.next_pending() != self.offset_of(payload) {
            return Ok(Leaf::Unchanged); // found clean by the first pass
        }
        let index = self.cursor;
        self.cursor += 1;
        let Some(item) = item else {
            return Ok(Leaf::Unchanged); // cannot happen: the first pass refuses it
        };
        let (result, fresh) = self.results[index].clone();
        if let Some(value_field) = self.pending[index].value_field {
            let args = self.pending[index].args.clone();
            return self.string_attribute(item, payload, value_field, &args, &result, &fresh);
        }
        if result.is_none() {
            return Ok(Leaf::Unchanged);
        }
        self.settle(item, &fresh, "changed")?;
        if result.is(self.callbacks.dropped.bind(self.py)) {
            return Ok(Leaf::Dropped);
        }
        Ok(Leaf::Replaced(result.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes().to_vec()))
    }

    /// Remember that the clean leaf at `position` of an item is `payload` (a part of `root`).
    fn remember_position(&mut self, position: usize, payload: &[u8]) {
        let start = self.offset_of(payload);
        if start > self.root.len() || position > 64 {
            return; // not a part of the request (cannot happen), or an unusually long item
        }
        if self.previous.len() <= position {
            self.previous.resize(position + 1, (usize::MAX, usize::MAX));
        }
        self.previous[position] = (start, start + payload.len());
    }

    /// A canonical string attribute (`args`: `(None, key, value)`; its value field at
    /// `value_field` of `payload`) that the engine's `redact_value` made `redacted` with
    /// hits of its own (`fresh`), as the Python attribute leaf does it, without its
    /// decoding and encoding: kept only if the value changed (or was dropped), with the
    /// placeholder rule `changed` (`drop`) when the engine counted nothing.
    fn string_attribute(
        &mut self,
        item: &mut Item<'py>,
        payload: &[u8],
        value_field: usize,
        args: &Bound<'py, PyTuple>,
        redacted: &Bound<'py, PyAny>,
        fresh: &Bound<'py, PyAny>,
    ) -> WalkResult<Leaf> {
        if redacted.is(self.drop()?) {
            self.settle(item, fresh, "drop")?;
            return Ok(Leaf::Dropped);
        }
        let value = args.get_item(2)?;
        let exact_string = redacted.is_exact_instance_of::<PyString>();
        if exact_string && redacted.eq(&value)? {
            return Ok(Leaf::Unchanged);
        }
        self.settle(item, fresh, "changed")?;
        if exact_string {
            if let Ok(text) = redacted.cast::<PyString>().map_err(PyErr::from)?.to_str() {
                let mut value_field_bytes = vec![0x0A];
                write_varint(&mut value_field_bytes, text.len() as u64);
                value_field_bytes.extend_from_slice(text.as_bytes());
                let mut bytes = payload[..value_field].to_vec();
                write_len_field(&mut bytes, 2, &value_field_bytes);
                return Ok(Leaf::Replaced(bytes));
            }
        }
        let key = args.get_item(1)?;
        let encoded = self.callbacks.encode_pair.bind(self.py).call1((&key, redacted))?;
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
