//! The first pass of a walk: validate the whole request and collect its suspicious leaves.
//!
//! Contract: `Suspects::request` checks every byte of the request against the schema (wire
//! types, field lengths, UTF-8 strings, packed scalars, nesting at most `wire::MAX_DEPTH`)
//! and fails with a `WireError` on the first fault, before any Python code sees a piece
//! of it. It counts the items (`items`) and lists, in walk order, each leaf (attribute,
//! text, body) that might hold PII as a `Pending` entry for `redact_leaves`. A leaf is
//! clean, and left out, when it has the bytes of the clean leaf of the same role at the
//! same position of the previous item (`RecentLeaves`), is in the memory of clean pieces
//! for its role, is an attribute whose key the engine keeps, or matches none of the
//! pre-filter's patterns; the first two were validated when first seen.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyNone, PyString, PyTuple};

use crate::pairs::{single_key, string_pair, utf8};
use crate::recent::RecentLeaves;
use crate::scan::Prefilter;
use crate::schema::{check_utf8, Action, Kind, MessageSpec, Role, Schema};
use crate::walk::{Callbacks, Pending, WalkResult};
use crate::wire::{next_field, short_len_field, WireError, LEN, MAX_DEPTH};

pub struct Suspects<'a, 'py> {
    py: Python<'py>,
    schema: &'a Schema,
    prefilter: &'a mut Prefilter,
    callbacks: &'a Callbacks,
    engine: &'a Bound<'py, PyAny>,
    /// The request's bytes: every piece is a part of them.
    root: &'a [u8],
    recent: RecentLeaves<'a>,
    /// The suspicious leaves, in the order of the walk.
    pub pending: Vec<Pending<'py>>,
    /// The counted items (spans, log records, data points...) met.
    pub items: u64,
}

impl<'a, 'py> Suspects<'a, 'py> {
    pub fn new(
        py: Python<'py>,
        schema: &'a Schema,
        prefilter: &'a mut Prefilter,
        callbacks: &'a Callbacks,
        engine: &'a Bound<'py, PyAny>,
        root: &'a [u8],
    ) -> Self {
        Suspects {
            py,
            schema,
            prefilter,
            callbacks,
            engine,
            root,
            recent: RecentLeaves::new(),
            pending: Vec::new(),
            items: 0,
        }
    }

    /// Walk the request, a message of type `index` (see the module docs).
    pub fn request(&mut self, index: usize) -> WalkResult<()> {
        self.message(index, self.root, 0, false)
    }

    /// Validate message `index` encoded as `data` (a part of the request) and collect its
    /// suspicious leaves; `in_item`: whether it is inside an item.
    fn message(
        &mut self,
        index: usize,
        data: &'a [u8],
        depth: u32,
        in_item: bool,
    ) -> WalkResult<()> {
        if depth > MAX_DEPTH {
            return Err(WireError("message nested too deep".to_string()).into());
        }
        let schema = self.schema;
        let spec = &schema.messages[index];
        let in_item = in_item || spec.count_field != 0;
        let mut leaves = 0usize; // leaves of this message seen so far
        let mut single_until = 0usize; // leaves up to here are compared one by one
        let message = index as u32; // fewer than 2^32 message types (see `Schema::new`)
        let base = offset_in(self.root, data);
        let mut pos = 0;
        while pos < data.len() {
            let start = pos;
            let (number, payload, end) = match short_len_field(data, pos) {
                Some(field) => field,
                None => {
                    let field = next_field(data, pos, depth)?;
                    if field.wire_type != LEN {
                        pos = field.end;
                        continue;
                    }
                    (field.number, &data[field.payload..field.end], field.end)
                }
            };
            pos = end;
            let Some(&action) = spec.actions.get(number as usize) else {
                continue;
            };
            match action {
                Action::Skip => {}
                Action::Utf8 => check_utf8(payload)?,
                Action::Check => schema.validate_payload(kind_of(spec, number), payload, depth)?,
                Action::Walk { child, counted } => {
                    self.items += u64::from(counted);
                    self.message(child as usize, payload, depth + 1, in_item)?;
                }
                Action::Leaf(role) => {
                    leaves += 1;
                    if leaves > single_until {
                        if let Some(run) = self.recent.run(leaves, role, message) {
                            let size = run.end - run.start;
                            let here = data.get(start..start + size);
                            if here.is_some() && here == self.root.get(run.start..run.end) {
                                // the same fields as the run's: its leaves, each matching
                                pos = start + size;
                                leaves = run.last;
                                continue;
                            }
                            // a run compared in vain is not compared again: each byte of
                            // the request is compared at most twice
                            single_until = run.last;
                        }
                    }
                    if !self.recent.matches(leaves, role, payload) {
                        let kind = kind_of(spec, number);
                        let field = (message, base + start, base + end);
                        self.new_leaf(role, kind, payload, depth, leaves, field, in_item)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A leaf unlike the previous item's: validate it, ask the pre-filter, and if it is
    /// suspicious keep it for the engine; `field`: the message type it is a leaf of, and
    /// where its field is in the request.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn new_leaf(
        &mut self,
        role: Role,
        kind: Kind,
        payload: &'a [u8],
        depth: u32,
        position: usize,
        field: (u32, usize, usize),
        in_item: bool,
    ) -> WalkResult<()> {
        let (message, start, end) = field;
        if self.prefilter.is_known_clean(role, payload) {
            self.recent.remember(position, role, payload, message, start, end);
            return Ok(());
        }
        self.schema.validate_payload(kind, payload, depth)?;
        if role == Role::Attribute && self.callbacks.keeps_keys && self.key_is_kept(payload)? {
            self.prefilter.remember_clean(role, payload);
            self.recent.remember(position, role, payload, message, start, end);
            return Ok(());
        }
        if !self.prefilter.is_suspicious(role, payload) {
            self.recent.remember(position, role, payload, message, start, end);
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
        let offset = (payload.as_ptr() as usize).wrapping_sub(self.root.as_ptr() as usize);
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

    /// Whether the engine keeps every value of the key of attribute `payload` (a valid
    /// `KeyValue` whose key field is written once), asking the engine once per key.
    fn key_is_kept(&mut self, payload: &[u8]) -> WalkResult<bool> {
        let Some(key) = single_key(payload)? else {
            return Ok(false);
        };
        if let Some(kept) = self.prefilter.kept_key(key) {
            return Ok(kept);
        }
        let text = std::str::from_utf8(key).map_err(|_| WireError("key is not UTF-8".into()))?;
        let kept = self.engine.call_method1("keeps_key", (text,))?.is_truthy()?;
        self.prefilter.remember_key(key, kept);
        Ok(kept)
    }
}

/// Where `piece` (a part of `root`) starts in it.
#[inline]
fn offset_in(root: &[u8], piece: &[u8]) -> usize {
    (piece.as_ptr() as usize).wrapping_sub(root.as_ptr() as usize)
}

/// The kind of field `number` of `spec`, which has an action (so a kind).
#[inline]
fn kind_of(spec: &MessageSpec, number: u32) -> Kind {
    spec.field(number).map_or(Kind::Bytes, |field| field.kind)
}
