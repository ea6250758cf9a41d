//! `max_otel_native`: the compiled walk of the max-otel redaction processor.
//!
//! ```python
//! walker = OtlpWalker(schema, value_patterns, key_patterns, attribute, text, body,
//!                     dropped, redact_leaves, count_existing, encode_pair, keeps_keys,
//!                     text_scrubber)
//! data, items, changed_items, hits_by_rule = walker.redact(root_index, engine, request_bytes)
//! ```
//!
//! The Python side (`max_otel.processors.otlp.native`) describes the OTLP message types
//! (`schema`) and gives the engine's pre-filter patterns and its leaf functions; this
//! module validates the request, pre-filters every leaf (remembering clean ones), has
//! the leaves that may hold PII redacted in one call (`redact_leaves`) and rebuilds what
//! changed. Malformed input raises
//! `WireError`; errors raised by the Python callbacks propagate unchanged.

mod count;
mod pairs;
mod plain;
mod rebuilt;
mod recent;
mod scan;
mod schema;
mod splice;
mod suspects;
mod validators;
mod walk;
mod wire;

use std::sync::Mutex;

use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::rebuilt::{Output, Rebuilt};
use crate::scan::Prefilter;
use crate::schema::{RawField, Schema};
use crate::walk::{Callbacks, Walk, WalkError};

create_exception!(
    max_otel_native,
    WireError,
    PyValueError,
    "The bytes are not a valid encoding of the request."
);

/// A walker for one rule set: its schema, pre-filter and callbacks (see the module docs).
#[pyclass(frozen)]
struct OtlpWalker {
    schema: Schema,
    prefilter: Mutex<Prefilter>,
    callbacks: Callbacks,
}

#[pymethods]
impl OtlpWalker {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        schema: Vec<(u32, bool, Vec<RawField>)>,
        value_patterns: Vec<String>,
        key_patterns: Vec<String>,
        attribute: Py<PyAny>,
        text: Py<PyAny>,
        body: Py<PyAny>,
        dropped: Py<PyAny>,
        redact_leaves: Py<PyAny>,
        count_existing: Py<PyAny>,
        encode_pair: Py<PyAny>,
        keeps_keys: bool,
        text_scrubber: Option<Py<plain::PlainScrubber>>,
    ) -> PyResult<Self> {
        let schema = Schema::new(schema).map_err(PyValueError::new_err)?;
        let prefilter = Prefilter::new(&value_patterns, &key_patterns)
            .map_err(|error| PyValueError::new_err(format!("pre-filter patterns: {error}")))?;
        Ok(OtlpWalker {
            schema,
            prefilter: Mutex::new(prefilter),
            callbacks: Callbacks {
                attribute,
                text,
                body,
                dropped,
                redact_leaves,
                count_existing,
                encode_pair,
                keeps_keys,
                text_scrubber,
            },
        })
    }

    /// Redact `data`, a message of type `root`: (new bytes or `data` itself, items,
    /// changed items, the hits of all changed items added up by rule).
    fn redact<'py>(
        &self,
        py: Python<'py>,
        root: usize,
        engine: &Bound<'py, PyAny>,
        data: &Bound<'py, PyBytes>,
    ) -> PyResult<(Py<PyAny>, u64, u64, Py<PyDict>)> {
        if root >= self.schema.messages.len() {
            return Err(PyValueError::new_err(format!("no message type {root}")));
        }
        let mut prefilter = self
            .prefilter
            .lock()
            .map_err(|_| PyRuntimeError::new_err("pre-filter poisoned by an earlier panic"))?;
        let mut walk =
            Walk::new(py, &self.schema, &mut prefilter, &self.callbacks, engine, data.as_bytes());
        let new_data: Py<PyAny> = match walk.run(root) {
            Ok(Some(message)) => new_bytes(py, &message)?,
            Ok(None) => data.clone().into_any().unbind(),
            Err(WalkError::Wire(error)) => return Err(WireError::new_err(error.0)),
            Err(WalkError::Python(error)) => return Err(error),
        };
        let total = PyDict::new(py);
        for item_hits in &walk.changed_hits {
            for (rule, count) in item_hits.cast::<PyDict>().map_err(PyErr::from)?.iter() {
                count::add(&total, &rule, count.extract()?)?;
            }
        }
        Ok((new_data, walk.items, walk.changed_items, total.unbind()))
    }
}

/// A new bytes object holding `message`, written straight into it (not zeroed first).
fn new_bytes(py: Python<'_>, message: &Rebuilt<'_>) -> PyResult<Py<PyAny>> {
    let size = isize::try_from(message.len)
        .map_err(|_| PyValueError::new_err("rebuilt request too large"))?;
    // SAFETY: with a null pointer, CPython allocates `size` bytes (plus the terminating
    // NUL it writes itself) and leaves them for the caller to fill, which `write_to` does
    // in full before the object is seen by Python (checked: `left() == 0`).
    unsafe {
        let object = pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), size);
        let bytes = Bound::from_owned_ptr_or_err(py, object)?;
        let mut out = Output::new(pyo3::ffi::PyBytes_AsString(object).cast::<u8>(), message.len);
        message.write_to(&mut out);
        if out.left() != 0 {
            return Err(PyRuntimeError::new_err("rebuilt request shorter than computed"));
        }
        Ok(bytes.unbind())
    }
}

#[pymodule]
fn max_otel_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<OtlpWalker>()?;
    module.add_class::<plain::PlainScrubber>()?;
    module.add("WireError", module.py().get_type::<WireError>())?;
    Ok(())
}
