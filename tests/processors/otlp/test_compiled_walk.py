"""The compiled walk (``max_otel_native``): installed by the set-up, used for the real engine,
and a safe fallback to the Python walk when it cannot serve a rule set. (What it returns is
checked against the reference walker by the differential tests.)"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from max_otel.processors.otlp import (
    OtlpDecodeError,
    native,
    redact_traces,
    reference_redact_traces,
)
from max_otel.processors.otlp.fast import COMPILED_WALKS
from max_otel.processors.redaction import PseudonymKey, Redactor, rules_from_mapping
from tests.processors.otlp.engines import TEST_PSEUDONYM_KEY, real_engine

pytestmark = pytest.mark.unit


def _request(note: str) -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="send")
    span.attributes.add(key="conversation_id").value.string_value = "c-1"
    span.attributes.add(key="note").value.string_value = note
    return request.SerializeToString()


def _note(data: bytes) -> str:
    span = ExportTraceServiceRequest.FromString(data).resource_spans[0].scope_spans[0].spans[0]
    return next(kv.value.string_value for kv in span.attributes if kv.key == "note")


def test_the_compiled_walk_is_installed_and_serves_the_real_engine() -> None:
    assert native.available(), "max_otel_native is not installed: run scripts/setup"
    assert COMPILED_WALKS.serves(real_engine())


def test_it_can_be_turned_off() -> None:
    native.use_native(False)
    try:
        assert not COMPILED_WALKS.serves(real_engine())
    finally:
        native.use_native(True)


def test_rules_the_compiled_prefilter_cannot_read_fall_back_to_the_python_walk(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``\\C`` (any byte) is RE2 syntax the compiled pre-filter lacks: the rules still work."""
    rules = rules_from_mapping(
        {"custom_detectors": [{"name": "ticket", "pattern": r"TKT\C[0-9]{4}", "action": "mask"}]}
    )
    engine = Redactor(rules, PseudonymKey(TEST_PSEUDONYM_KEY.encode(), "k1"))
    with caplog.at_level(logging.ERROR, logger="max_otel.processors.otlp.native"):
        assert not COMPILED_WALKS.serves(engine)
    assert "walking in Python" in caplog.text
    result = redact_traces(engine, _request("see TKT+1234 and +44 20 7946 0958"))
    note = _note(result.data)
    assert note.startswith("see *** and phone:k1:")
    assert "7946" not in note


def test_quoted_literals_are_spelled_out_for_the_compiled_prefilter() -> None:
    rules = rules_from_mapping(
        {"custom_detectors": [{"name": "ticket", "pattern": r"\QTKT+\E[0-9]{4}", "action": "mask"}]}
    )
    engine = Redactor(rules, PseudonymKey(TEST_PSEUDONYM_KEY.encode(), "k1"))
    assert COMPILED_WALKS.serves(engine)
    assert _note(redact_traces(engine, _request("see TKT+1234 now")).data) == "see *** now"
    assert _note(redact_traces(engine, _request("see TKTT1234 now")).data) == "see TKTT1234 now"


@pytest.mark.parametrize("blank", ["\u00a0", "\u2003", "\u3000"])
def test_url_credentials_around_a_unicode_blank_are_redacted(blank: str) -> None:
    """RE2's ``\\s`` is ASCII: a URL's user name may hold a no-break space, and the
    pre-filter must still see the credentials (it once read ``\\s`` as Unicode, and let
    this password through)."""
    note = _note(
        redact_traces(real_engine(), _request(f"see https://bob{blank}x:hunter2@h/a")).data
    )
    assert "hunter2" not in note
    assert note == "see https://REDACTED:REDACTED@h/a"


@pytest.mark.parametrize(
    ("pattern", "note"),
    [(r"\<secret\>", "a <secret> b"), (r"REF[\s-\d]{6,}", "see REF 12-3456 now")],
)
def test_custom_patterns_reach_the_prefilter_as_re2_reads_them(pattern: str, note: str) -> None:
    """RE2 reads ``\\<`` as ``<`` and ``[\\s-\\d]`` as three members; the crate, given them
    as they are, reads a word boundary and a range, and the pre-filter called the note
    clean."""
    rules = rules_from_mapping(
        {"custom_detectors": [{"name": "probe", "pattern": pattern, "action": "mask"}]}
    )
    engine = Redactor(rules, PseudonymKey(TEST_PSEUDONYM_KEY.encode(), "k1"))
    compiled = _note(redact_traces(engine, _request(note)).data)
    assert compiled == _note(reference_redact_traces(engine, _request(note)).data)
    assert compiled != note


class _PythonCallCounter:
    """The real engine, counting the ``redact_value`` calls that reach Python."""

    def __init__(self) -> None:
        self._engine = real_engine()
        self.python_calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> object:
        self.python_calls.append(key)
        return self._engine.redact_value(key, value, hits)


def test_text_attributes_are_scrubbed_without_entering_python() -> None:
    engine = _PythonCallCounter()
    assert engine.compiled_text_scrubber() is not None
    note = _note(redact_traces(engine, _request("call +44 20 7946 0958 now")).data)
    assert note.startswith("call phone:k1:") and "7946" not in note
    assert engine.python_calls == []


@pytest.mark.parametrize(
    "value", ['[ "+44 20 7946 0958" ]', '{"note": "+44 20 7946 0958"}', " +44 20 7946 0958"]
)
def test_json_looking_text_attributes_still_go_to_the_engine(value: str) -> None:
    """``redact_value`` parses text starting with ``[``, ``{`` or a blank as JSON first."""
    engine = _PythonCallCounter()
    compiled = _note(redact_traces(engine, _request(value)).data)
    assert engine.python_calls == ["note"]
    assert compiled == _note(reference_redact_traces(real_engine(), _request(value)).data)
    assert "7946" not in compiled


def test_a_clean_piece_seen_again_is_still_redacted_when_it_changes() -> None:
    """The memory of clean pieces is exact: a piece one byte away from a clean one is
    scanned again."""
    engine = real_engine()
    clean = redact_traces(engine, _request("order 1234567 shipped"))
    assert clean.changed_items == 0
    dirty = redact_traces(engine, _request("order +44 20 7946 0958 shipped"))
    assert "7946" not in _note(dirty.data)
    assert dirty.changed_items == 1


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\xff",  # a length past the end
        b"\x0a\x05\x12\x03\x0a\x01",  # a nested length past its parent's end
        b"\x0a\x04\x12\x02\x0a\x02",  # a span cut short
    ],
)
def test_malformed_requests_are_refused_before_anything_is_redacted(data: bytes) -> None:
    with pytest.raises(OtlpDecodeError):
        redact_traces(real_engine(), data)


class _CountingEngine:
    """The real engine, counting the values it is asked to redact."""

    def __init__(self) -> None:
        self._engine = real_engine()
        self.DROP = self._engine.DROP
        self.values: list[object] = []

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> object:
        self.values.append(value)
        return self._engine.redact_value(key, value, hits)

    def redact_text(self, text: str, hits: Counter[str]) -> str:
        self.values.append(text)
        return self._engine.redact_text(text, hits)

    def might_contain_pii(self, data: bytes) -> bool:
        return self._engine.might_contain_pii(data)

    def prefilter_patterns(self) -> tuple[list[str], list[str]]:
        return self._engine.prefilter_patterns()  # type: ignore[attr-defined, no-any-return]

    def keeps_key(self, key: str) -> bool:
        return self._engine.keeps_key(key)  # type: ignore[attr-defined, no-any-return]


def test_a_request_malformed_after_its_pii_is_refused_before_the_engine_sees_any_of_it() -> None:
    """The whole request is checked before any piece goes to the engine."""
    engine = _CountingEngine()
    assert COMPILED_WALKS.serves(engine)
    valid = _request("call +44 20 7946 0958")
    assert redact_traces(engine, valid).changed_items == 1
    engine.values.clear()
    with pytest.raises(OtlpDecodeError):
        redact_traces(engine, valid + b"\x0a\x05\x12")  # a second ResourceSpans cut short
    assert engine.values == []


def test_every_suspicious_piece_of_a_request_is_redacted_in_one_pass() -> None:
    """Many PII values in many spans: each is redacted, each span counted once."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for index in range(30):
        span = spans.add(name=f"send {index}")
        span.attributes.add(key="note").value.string_value = f"call +44 20 7946 {1000 + index}"
        span.attributes.add(key="conversation_id").value.string_value = f"c-{index}"
        if index % 3 == 0:
            span.status.message = f"mail ann{index}@example.com"
    engine = _CountingEngine()
    result = redact_traces(engine, request.SerializeToString())
    assert result.items == 30
    assert result.changed_items == 30
    assert result.hits == Counter({"phone_international": 30, "email_address": 10})
    redacted = ExportTraceServiceRequest.FromString(result.data).resource_spans[0]
    for index, span in enumerate(redacted.scope_spans[0].spans):
        attributes = {kv.key: kv.value for kv in span.attributes}
        assert attributes["note"].string_value.startswith("call phone:k1:")
        assert attributes["conversation_id"].string_value == f"c-{index}"
        assert attributes["redaction.count"].int_value == (2 if index % 3 == 0 else 1)
        assert "example.com" not in span.status.message


def test_a_string_that_is_not_utf8_is_refused_even_in_a_clean_field() -> None:
    """What protobuf's own parser refuses, the compiled walk refuses: the next hop would."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="ok")
    span.trace_state = "x"
    data = request.SerializeToString().replace(b"\x1a\x01x", b"\x1a\x01\xff")
    with pytest.raises(OtlpDecodeError, match="UTF-8"):
        redact_traces(real_engine(), data)


def _spans_request(first: KeyValue, second_name: str) -> ExportTraceServiceRequest:
    """A span holding only attribute ``first``, then a span named ``second_name``: the
    first leaf of each is at the same position."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    spans.add().attributes.append(first)
    spans.add(name=second_name)
    return request


def test_a_span_name_with_the_bytes_of_a_kept_attribute_is_still_redacted() -> None:
    """An attribute is clean because the engine keeps its key; a span name that happens to
    have the same bytes is text to scan all the same."""
    kept = KeyValue(key="conversation_id")
    kept.value.string_value = "call +44 20 7946 0958"
    request = _spans_request(kept, kept.SerializeToString().decode())
    result = redact_traces(real_engine(), request.SerializeToString())
    name = ExportTraceServiceRequest.FromString(result.data).resource_spans[0]
    assert "7946" not in name.scope_spans[0].spans[1].name
    assert result.changed_items == 1


def test_a_span_name_with_the_bytes_of_a_clean_attribute_is_still_checked_for_utf8() -> None:
    """A clean attribute holding bytes need not be UTF-8; a string with the same bytes
    must be, wherever the walk met them before."""
    blob = KeyValue(key="blob")
    blob.value.bytes_value = b"\xff\xfe"
    raw = blob.SerializeToString()
    placeholder = "x" * len(raw)
    data = _spans_request(blob, placeholder).SerializeToString()
    engine = real_engine()
    redact_traces(engine, _spans_request(blob, "ok").SerializeToString())  # now remembered
    with pytest.raises(OtlpDecodeError, match="UTF-8"):
        redact_traces(engine, data.replace(placeholder.encode(), raw))
