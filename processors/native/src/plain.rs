//! The engine's common case in one call: free text in which only value detectors fire.
//!
//! ```python
//! scrubber = PlainScrubber(set_patterns, set_kinds, value_set_patterns, value_set_kinds,
//!                          detectors, protected_pattern)
//! scrubber.scrub(text, hits)   # -> the scrubbed str, `text` itself, or None
//! ```
//!
//! Contract: `scrub(text, hits)` returns what the engine's `TextScrubber.scrub` returns
//! for `text` and adds the same hits, or returns None without touching `hits` when the text
//! is not its case (a sensitive key, a trigger, a URL, SQL, a detector it cannot run,
//! findings that overlap, text that is not valid UTF-8): the caller then takes its general
//! path. Findings inside protected spans (pseudonyms, UUIDs, hex ids, timestamps) are
//! dropped as the engine's `_resolve` drops them. The patterns are the engine's,
//! translated from RE2 syntax to the regex crate's so that they match the same bytes (see
//! `max_otel.processors.redaction.native_syntax`); the replacements and validators are
//! the engine's own Python callables, called as its detectors call them, but for the
//! validators with a compiled copy (`validators.rs`).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use regex::bytes::{Regex, RegexSet, RegexSetBuilder};

use crate::count::add;
use crate::scan::{compile, KEY_BYTES, REGEX_MEMORY};
use crate::validators::{self, Validator};

/// What an index of a scan set stands for (`_scanner`'s kinds, as numbers).
const DETECTOR: u8 = 0;
const SQL_START: u8 = 2;
const SQL_BODY: u8 = 3;
const PROTECTED: u8 = 5;

/// One value detector, as `RegexDetector.find_plain` runs it.
struct Detector {
    regex: Regex,
    group: usize,
    validate: Option<Py<PyAny>>,
    /// The compiled equivalent of `validate`, used instead of it when there is one.
    native_validate: Option<Validator>,
    replace: Py<PyAny>,
    name: Py<PyString>,
    /// Whether its findings make the engine look for protected spans.
    protect: bool,
}

/// `(name, pattern, group, validate or None, replace, protect, validator name)`: a
/// detector as Python gives it; the validator's name picks its compiled equivalent
/// (`validators::by_name`), if any.
type DetectorParts = (Py<PyString>, String, usize, Option<Py<PyAny>>, Py<PyAny>, bool, String);

/// A scan set and the kind of each of its patterns.
struct Scan {
    set: RegexSet,
    kinds: Vec<u8>,
}

/// What a scan saw: the detectors' indices and whether a protected span may be there, or
/// that the text is not this module's case.
enum Seen {
    Detectors(Vec<usize>, bool),
    Elsewhere,
}

impl Scan {
    fn new(patterns: Vec<String>, kinds: Vec<u8>) -> PyResult<Scan> {
        if patterns.len() != kinds.len() {
            return Err(pyo3::exceptions::PyValueError::new_err("one kind per set pattern"));
        }
        let set = RegexSetBuilder::new(&patterns)
            .size_limit(REGEX_MEMORY)
            .dfa_size_limit(REGEX_MEMORY)
            .build()
            .map_err(|error| pyo3::exceptions::PyValueError::new_err(error.to_string()))?;
        Ok(Scan { set, kinds })
    }

    fn seen(&self, buffer: &[u8]) -> Seen {
        let mut detectors = Vec::new();
        let (mut sql_start, mut sql_body, mut protected) = (false, false, false);
        for index in self.set.matches(buffer).iter() {
            match self.kinds[index] {
                DETECTOR => detectors.push(index),
                SQL_START => sql_start = true,
                SQL_BODY => sql_body = true,
                PROTECTED => protected = true,
                _ => return Seen::Elsewhere, // a key, trigger or URL
            }
        }
        if sql_start && sql_body {
            return Seen::Elsewhere;
        }
        Seen::Detectors(detectors, protected)
    }
}

/// A finding: bytes `start..end` become `replacement`, counted under detector `detector`.
struct Finding<'py> {
    start: usize,
    end: usize,
    detector: usize,
    replacement: Bound<'py, PyBytes>,
}

#[pyclass(frozen)]
pub struct PlainScrubber {
    /// Over `data + b"\0" + data` normalised like keys, for text with `:` or `=`.
    full: Scan,
    /// Over `data` alone, for text without.
    values: Scan,
    /// By detector index; None for one this module cannot run.
    detectors: Vec<Option<Detector>>,
    /// The engine's `_PROTECTED` pattern.
    protected: Regex,
}

#[pymethods]
impl PlainScrubber {
    /// `detectors[i]`: `DetectorParts` of the detector with index i in both sets, or None
    /// if its pattern has no faithful translation; `protected`: the pattern of the spans
    /// no protecting detector may redact inside.
    #[new]
    fn new(
        set_patterns: Vec<String>,
        set_kinds: Vec<u8>,
        value_set_patterns: Vec<String>,
        value_set_kinds: Vec<u8>,
        detectors: Vec<Option<DetectorParts>>,
        protected: String,
    ) -> PyResult<Self> {
        let mut compiled = Vec::with_capacity(detectors.len());
        for detector in detectors {
            compiled.push(match detector {
                None => None,
                Some((name, pattern, group, validate, replace, protect, validator)) => {
                    match compile(&pattern) {
                        Ok(regex) if group < regex.captures_len() => Some(Detector {
                            regex,
                            group,
                            native_validate: validate.as_ref().and(validators::by_name(&validator)),
                            validate,
                            replace,
                            name,
                            protect,
                        }),
                        _ => None,
                    }
                }
            });
        }
        Ok(PlainScrubber {
            full: Scan::new(set_patterns, set_kinds)?,
            values: Scan::new(value_set_patterns, value_set_kinds)?,
            detectors: compiled,
            protected: compile(&protected).map_err(pyo3::exceptions::PyValueError::new_err)?,
        })
    }

    /// See the module docs.
    pub fn scrub<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        hits: &Bound<'py, PyDict>,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        let Ok(text_str) = text.to_str() else {
            return Ok(None); // lone surrogates: not valid UTF-8
        };
        let data = text_str.as_bytes();
        let seen = if data.iter().any(|&byte| byte == b':' || byte == b'=') {
            let mut buffer = Vec::with_capacity(2 * data.len() + 1);
            buffer.extend_from_slice(data);
            buffer.push(0);
            buffer.extend(data.iter().map(|&byte| KEY_BYTES[byte as usize]));
            self.full.seen(&buffer)
        } else {
            self.values.seen(data)
        };
        let (indices, maybe_protected) = match seen {
            Seen::Detectors(indices, protected) if !indices.is_empty() => (indices, protected),
            Seen::Detectors(..) => return Ok(Some(text.clone())),
            Seen::Elsewhere => return Ok(None),
        };
        let mut findings: Vec<Finding<'py>> = Vec::new();
        let mut data_object: Option<Bound<'py, PyBytes>> = None;
        let mut protect = false;
        for &index in &indices {
            let Some(Some(detector)) = self.detectors.get(index) else {
                return Ok(None);
            };
            let before = findings.len();
            if !find(py, detector, index, data, &mut data_object, &mut findings)? {
                return Ok(None);
            }
            protect |= detector.protect && findings.len() > before;
        }
        if protect && maybe_protected {
            // As `_resolve`: once a protecting detector found something, no finding of
            // any detector survives inside a protected span.
            let spans = protected_spans(&self.protected, data);
            if !spans.is_empty() {
                findings.retain(|finding| {
                    !spans.iter().any(|&(start, end)| start <= finding.start && finding.end <= end)
                });
            }
        }
        if findings.len() > 1 {
            findings.sort_by_key(|finding| (finding.start, finding.end));
            let mut last_end = 0;
            for finding in &findings {
                if finding.start < last_end {
                    return Ok(None); // overlapping findings: the general resolution
                }
                last_end = finding.end;
            }
        }
        let mut out: Vec<u8> = Vec::new();
        let mut position = 0;
        let mut counted: Vec<usize> = Vec::new();
        for finding in &findings {
            let replacement = finding.replacement.as_bytes();
            if replacement == &data[finding.start..finding.end] {
                continue; // a claim
            }
            out.extend_from_slice(&data[position..finding.start]);
            out.extend_from_slice(replacement);
            position = finding.end;
            counted.push(finding.detector);
        }
        if counted.is_empty() {
            return Ok(Some(text.clone()));
        }
        out.extend_from_slice(&data[position..]);
        let Ok(scrubbed) = std::str::from_utf8(&out) else {
            return Ok(None);
        };
        for index in counted {
            if let Some(Some(detector)) = self.detectors.get(index) {
                add(hits, detector.name.bind(py).as_any(), 1)?;
            }
        }
        Ok(Some(PyString::new(py, scrubbed)))
    }
}

/// `RegexDetector.find_plain` of `detector` (index `index`) on `data`, its findings
/// appended to `findings`; false if a match has no span for the detector's group, or
/// the validator gives one outside the text (the general path decides then).
/// `data_object` is `data` as a Python bytes object, made the first time a validator
/// needs it.
fn find<'py>(
    py: Python<'py>,
    detector: &Detector,
    index: usize,
    data: &[u8],
    data_object: &mut Option<Bound<'py, PyBytes>>,
    findings: &mut Vec<Finding<'py>>,
) -> PyResult<bool> {
    let size = data.len();
    let mut position = 0;
    let mut locations = detector.regex.capture_locations();
    while position <= size {
        let (match_start, start, end) = if detector.group == 0 {
            match detector.regex.find_at(data, position) {
                Some(found) => (found.start(), found.start(), found.end()),
                None => return Ok(true),
            }
        } else {
            let Some(found) = detector.regex.captures_read_at(&mut locations, data, position)
            else {
                return Ok(true);
            };
            match locations.get(detector.group) {
                Some((start, end)) => (found.start(), start, end),
                None => return Ok(false),
            }
        };
        let (mut start, mut end) = (start, end);
        if let Some(validate) = detector.native_validate {
            let Some(span) = validate(data, start, end) else {
                position = match_start + 1;
                continue;
            };
            (start, end) = span;
        } else if let Some(validate) = &detector.validate {
            let whole = data_object.get_or_insert_with(|| PyBytes::new(py, data)).clone();
            let span = validate.bind(py).call1((whole, start, end))?;
            if span.is_none() {
                position = match_start + 1;
                continue;
            }
            (start, end) = span.extract::<(usize, usize)>()?;
            if start > end || end > size {
                return Ok(false); // not a span of the text: the general path decides
            }
        }
        if start == end {
            position = match_start + 1;
            continue;
        }
        let replacement =
            detector.replace.bind(py).call1((PyBytes::new(py, &data[start..end]),))?;
        if replacement.is_none() {
            position = match_start + 1;
            continue;
        }
        let replacement = replacement.cast_into::<PyBytes>().map_err(PyErr::from)?;
        findings.push(Finding { start, end, detector: index, replacement });
        position = if end > match_start { end } else { match_start + 1 };
    }
    Ok(true)
}

/// The engine's `protected_spans(data)`: every match of `protected`, but a 16- or 32-byte
/// alphanumeric one (a hex id) only when it stands alone and holds a hex letter.
fn protected_spans(protected: &Regex, data: &[u8]) -> Vec<(usize, usize)> {
    let word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut spans = Vec::new();
    let mut position = 0;
    while position <= data.len() {
        let Some(found) = protected.find_at(data, position) else {
            break;
        };
        let (start, end) = (found.start(), found.end());
        position = if end > start { end } else { start + 1 };
        let chunk = &data[start..end];
        if (chunk.len() == 16 || chunk.len() == 32) && chunk.iter().all(u8::is_ascii_alphanumeric) {
            let glued =
                (start > 0 && word(data[start - 1])) || (end < data.len() && word(data[end]));
            if glued || !chunk.iter().any(|byte| (b'a'..=b'f').contains(byte)) {
                continue;
            }
        }
        spans.push((start, end));
    }
    spans
}
