//! One request's walk, in two passes. The first (`suspects`) validates every byte and
//! finds the suspicious leaves; the engine then redacts all of them in one call into
//! Python (`redact_leaves`), so a batch crosses into Python once, whatever the number of
//! its changed values; the second (`splice`) splices the results back and adds
//! `redaction.count` to changed items, descending only into the messages that hold a
//! suspicious leaf.
//!
//! The walk keeps the bytes of everything it does not change, so a clean message costs a
//! validation and a pre-filter look per leaf, and an unchanged request comes back as the
//! very same bytes. A changed message is rebuilt from its original bytes (`rebuilt`): its
//! unchanged fields copied in place, changed ones re-encoded with their new length, a
//! dropped one left out, and for a changed item the count added after its last attribute
//! (where protobuf's own serializer puts it for canonically encoded input).
//!
//! Contract: `Walk::run` returns the new request (`None`: unchanged) and leaves the counts
//! in `items`, `changed_items` and `changed_hits`; malformed input is a `WalkError::Wire`
//! raised before any piece reaches the engine, an error of the Python code a
//! `WalkError::Python`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::plain::PlainScrubber;
use crate::rebuilt::Rebuilt;
use crate::scan::Prefilter;
use crate::schema::Schema;
use crate::splice::Splice;
use crate::suspects::Suspects;
use crate::wire::WireError;

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
    /// The engine's compiled text scrubber, if it has one and `scrubs_as_text(key) ->
    /// bool`: true when its `redact_value(key, value, hits)` of a string value that does
    /// not start with `{`, `[` or a blank is its text scrubbing, which this scrubber runs
    /// when it can (see `Walk::redact_pending`).
    pub text_scrubber: Option<Py<PlainScrubber>>,
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

pub type WalkResult<T> = Result<T, WalkError>;

/// A suspicious leaf found by the first pass.
pub struct Pending<'py> {
    /// Where its payload starts in the request.
    pub offset: usize,
    /// Its entry in `redact_leaves`' list: `(None, key, value)` for a canonical string
    /// attribute, `(leaf, payload, None)` otherwise.
    pub args: Bound<'py, PyTuple>,
    /// For a canonical string attribute: where its value field starts in the payload.
    pub value_field: Option<usize>,
}

pub struct Walk<'a, 'py> {
    pub py: Python<'py>,
    pub schema: &'a Schema,
    pub prefilter: &'a mut Prefilter,
    pub callbacks: &'a Callbacks,
    pub engine: &'a Bound<'py, PyAny>,
    /// The request's bytes.
    pub root: &'a [u8],
    pub items: u64,
    pub changed_items: u64,
    pub changed_hits: Vec<Bound<'py, PyAny>>,
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
            root,
            items: 0,
            changed_items: 0,
            changed_hits: Vec::new(),
        }
    }

    /// Walk the request, a message of type `index`: its new bytes, or `None` if nothing
    /// changed.
    pub fn run(&mut self, index: usize) -> WalkResult<Option<Rebuilt<'a>>> {
        let (py, schema, callbacks, engine, root) =
            (self.py, self.schema, self.callbacks, self.engine, self.root);
        let mut suspects = Suspects::new(py, schema, &mut *self.prefilter, callbacks, engine, root);
        suspects.request(index)?;
        self.items = suspects.items;
        let pending = suspects.pending;
        if pending.is_empty() {
            return Ok(None);
        }
        let results = self.redact_pending(&pending)?;
        let mut splice = Splice {
            py,
            schema,
            callbacks,
            engine,
            root,
            pending,
            results,
            cursor: 0,
            changed_items: 0,
            changed_hits: Vec::new(),
            engine_drop: None,
        };
        let rebuilt = splice.request(index)?;
        self.changed_items = splice.changed_items;
        self.changed_hits = splice.changed_hits;
        Ok(rebuilt)
    }

    /// (result, hits) of each pending leaf: a string attribute whose key the engine
    /// scrubs as text straight from the compiled text scrubber when it takes the value
    /// (`redact_value`'s result, without entering Python code), every other leaf through
    /// `redact_leaves`, all of them in one call.
    #[allow(clippy::type_complexity)]
    fn redact_pending(
        &mut self,
        pending: &[Pending<'py>],
    ) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let py = self.py;
        let mut pairs: Vec<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> =
            Vec::with_capacity(pending.len());
        let mut others = Vec::new();
        for (index, leaf) in pending.iter().enumerate() {
            let direct = match leaf.value_field {
                Some(_) => self.scrubbed_as_text(&leaf.args)?,
                None => None,
            };
            if direct.is_none() {
                others.push(index);
            }
            pairs.push(direct);
        }
        if !others.is_empty() {
            let leaves = PyList::new(py, others.iter().map(|&index| &pending[index].args))?;
            let results = self.callbacks.redact_leaves.bind(py).call1((self.engine, leaves))?;
            let results = results.cast::<PyList>().map_err(PyErr::from)?;
            if results.len() != others.len() {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "redact_leaves must return one result per leaf",
                ));
            }
            for (result, &index) in results.iter().zip(&others) {
                let pair = result.cast::<PyTuple>().map_err(PyErr::from)?;
                pairs[index] = Some((pair.get_item(0)?, pair.get_item(1)?));
            }
        }
        Ok(pairs.into_iter().map(|pair| pair.expect("every leaf has a result")).collect())
    }

    /// `redact_value(key, value, hits)` of a canonical string attribute `(None, key,
    /// value)` from the compiled text scrubber, with new hits; None when it is not the
    /// engine's text case, or the scrubber does not take the value (or raised: the
    /// engine's own call then meets the error and handles it as it does).
    #[allow(clippy::type_complexity)]
    fn scrubbed_as_text(
        &mut self,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let Some(scrubber) = &self.callbacks.text_scrubber else {
            return Ok(None);
        };
        let key = args.get_item(1)?;
        let value = args.get_item(2)?;
        let (Ok(key), Ok(value)) = (key.cast::<PyString>(), value.cast::<PyString>()) else {
            return Ok(None);
        };
        let Ok(text) = value.to_str() else {
            return Ok(None);
        };
        // `redact_value` tries text starting with `{`, `[` or a blank as JSON first; a
        // first byte outside printable ASCII is left to it too (Python's idea of a blank).
        if let Some(&first) = text.as_bytes().first() {
            if !(0x21..0x7F).contains(&first) || first == b'{' || first == b'[' {
                return Ok(None);
            }
        }
        let Ok(key_text) = key.to_str() else {
            return Ok(None);
        };
        let as_text = match self.prefilter.text_key(key_text.as_bytes()) {
            Some(as_text) => as_text,
            None => {
                let as_text = self.engine.call_method1("scrubs_as_text", (key,))?.is_truthy()?;
                self.prefilter.remember_text_key(key_text.as_bytes(), as_text);
                as_text
            }
        };
        if !as_text {
            return Ok(None);
        }
        let hits = PyDict::new(self.py);
        match scrubber.get().scrub(self.py, value, &hits) {
            Ok(Some(scrubbed)) => Ok(Some((scrubbed.into_any(), hits.into_any()))),
            Ok(None) | Err(_) => Ok(None),
        }
    }
}
