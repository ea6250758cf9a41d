//! The second pass of a walk: the engine's results spliced into the request.
//!
//! Contract: given the request the first pass validated, its pending (suspicious) leaves in
//! walk order and what `redact_leaves` made of each, `Splice::request` returns the new
//! encoding of the request (`None` if nothing in it changed). It enters only the messages
//! that hold a pending leaf, replaces or drops each changed leaf, and gives each changed
//! item (span, log record, metric, data point, resource, scope) its `redaction.count`
//! (`count`). The hits of changed items are collected in `changed_hits`, in walk order.
//! A piece the engine left unchanged keeps its original bytes.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::count::{add, add_count};
use crate::rebuilt::{Content, Edit, Rebuilt};
use crate::schema::{Kind, Role, Schema};
use crate::walk::{Callbacks, Pending, WalkResult};
use crate::wire::{next_field, read_varint, write_len_field, write_varint, LEN};

/// The hits of one item (span, log record, metric, data point, resource, scope).
#[derive(Default)]
struct Item<'py> {
    hits: Option<Bound<'py, PyAny>>,
    changed: bool,
}

/// What became of one leaf.
enum Leaf {
    Unchanged,
    Dropped,
    Replaced(Vec<u8>),
}

pub struct Splice<'a, 'py> {
    pub py: Python<'py>,
    pub schema: &'a Schema,
    pub callbacks: &'a Callbacks,
    pub engine: &'a Bound<'py, PyAny>,
    /// The request's bytes: every piece is a part of them.
    pub root: &'a [u8],
    /// The suspicious leaves of the first pass, in the order of the walk.
    pub pending: Vec<Pending<'py>>,
    /// What `redact_leaves` made of each pending leaf: (result, hits).
    pub results: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    /// The next pending leaf.
    pub cursor: usize,
    pub changed_items: u64,
    pub changed_hits: Vec<Bound<'py, PyAny>>,
    pub engine_drop: Option<Bound<'py, PyAny>>,
}

impl<'a, 'py> Splice<'a, 'py> {
    #[inline]
    fn offset_of(&self, piece: &[u8]) -> usize {
        (piece.as_ptr() as usize).wrapping_sub(self.root.as_ptr() as usize)
    }

    /// Where the next pending leaf starts (`usize::MAX`: none left).
    #[inline]
    fn next_pending(&self) -> usize {
        self.pending.get(self.cursor).map_or(usize::MAX, |pending| pending.offset)
    }

    /// The new bytes of the request, a message of type `index`, or `None` if nothing in
    /// it changed.
    pub fn request(&mut self, index: usize) -> WalkResult<Option<Rebuilt<'a>>> {
        self.message(index, self.root, 0, None)
    }

    /// The new bytes of message `index` encoded as `data` (a part of the request), or
    /// `None` if nothing in it changed.
    fn message<'d>(
        &mut self,
        index: usize,
        data: &'d [u8],
        depth: u32,
        parent_item: Option<&mut Item<'py>>,
    ) -> WalkResult<Option<Rebuilt<'d>>> {
        let base = self.offset_of(data);
        if self.next_pending() >= base + data.len() {
            return Ok(None); // no suspicious leaf in here
        }
        let spec = &self.schema.messages[index];
        let count_field = spec.count_field;
        let mut own = Item::default();
        let mut item = if count_field != 0 { Some(&mut own) } else { parent_item };
        let mut edits: Vec<Edit> = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let field = next_field(data, pos, depth)?;
            pos = field.end;
            if field.wire_type != LEN {
                continue;
            }
            let Some(field_spec) = spec.field(field.number) else {
                continue;
            };
            let next = self.next_pending();
            if next >= base + data.len() {
                break;
            }
            if next >= base + field.end {
                continue;
            }
            let payload = &data[field.payload..field.end];
            let content = match (field_spec.role, field_spec.kind) {
                (Role::Plain, _) => continue,
                (Role::Walk, Kind::Message(child)) => {
                    match self.message(child, payload, depth + 1, item.as_deref_mut())? {
                        Some(message) => {
                            let tag_end = read_varint(data, field.start)?.1;
                            Content::Message { tag: &data[field.start..tag_end], message }
                        }
                        None => continue,
                    }
                }
                _ => match self.leaf(payload, item.as_deref_mut())? {
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
                },
            };
            edits.push(Edit { start: field.start, end: field.end, content });
        }
        if own.changed {
            let hits = own.hits.clone().expect("a changed item has hits");
            self.changed_items += 1;
            self.changed_hits.push(hits.clone());
            let count_existing = self.callbacks.count_existing.bind(self.py);
            add_count(self.py, count_existing, &hits, count_field, data, depth, &mut edits)?;
        }
        if edits.is_empty() {
            return Ok(None);
        }
        Ok(Some(Rebuilt::new(data, edits)))
    }

    /// One leaf: what the engine made of it, if it was pending.
    fn leaf(&mut self, payload: &[u8], item: Option<&mut Item<'py>>) -> WalkResult<Leaf> {
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
}
