"""Remembering clean values never lets PII through and changes no redaction result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from max_otel.instrumentation.clean_values import CleanValueMemo
from max_otel.instrumentation.redaction_setup import build_redactor
from max_otel.processors.in_process import RedactingSpanExporter

pytestmark = pytest.mark.unit

KEY = "unit-test-pseudonym-key-0123456789abcdef"
PHONE = "+5511987654321"
REDACTOR = build_redactor({"MAX_OTEL_PSEUDONYM_KEY": KEY})
CLEAN: dict[str, str | int | bool] = {
    "http.method": "GET",
    "http.route": "/ping",
    "http.status_code": 200,
    "ok": True,
}


def both(attributes: Mapping[str, object], memo: CleanValueMemo) -> None:
    """The memo gives what the redactor gives: the same map and the same hits."""
    expected_hits: Counter[str] = Counter()
    expected = REDACTOR.redact_attributes(attributes, expected_hits)
    hits: Counter[str] = Counter()
    assert memo.redact_attributes(attributes, hits) == expected
    assert hits == expected_hits


def test_clean_values_are_remembered_and_pii_is_redacted_every_time() -> None:
    memo = CleanValueMemo(REDACTOR)
    for _ in range(3):
        both(CLEAN, memo)
    for _ in range(3):
        hits: Counter[str] = Counter()
        redacted = memo.redact_attributes({**CLEAN, "customer.phone": PHONE}, hits)
        assert PHONE not in str(redacted)
        assert sum(hits.values()) == 1
        assert {k: redacted[k] for k in CLEAN} == CLEAN


def test_a_value_seen_clean_under_one_key_is_still_redacted_under_a_sensitive_key() -> None:
    memo = CleanValueMemo(REDACTOR)
    both({"note": "hunter2"}, memo)
    both({"password": "hunter2"}, memo)
    assert "hunter2" not in str(memo.redact_attributes({"password": "hunter2"}, Counter()))


def test_true_is_not_taken_for_one() -> None:
    memo = CleanValueMemo(REDACTOR)
    for value in (1, True, 0, False, "1"):
        both({"flag": value}, memo)
        both({"flag": value}, memo)


def test_clean_texts_are_remembered_and_pii_in_text_is_redacted_every_time() -> None:
    memo = CleanValueMemo(REDACTOR)
    for _ in range(2):
        assert memo.redact_text("GET /ping", Counter()) == "GET /ping"
        hits: Counter[str] = Counter()
        assert PHONE not in memo.redact_text(f"GET /customers/{PHONE}", hits)
        assert sum(hits.values()) == 1


def test_the_memo_is_bounded() -> None:
    memo = CleanValueMemo(REDACTOR, max_entries=2)
    for i in range(10):
        both({"n": i, "s": str(i)}, memo)
    assert len(memo._pairs) <= 2
    with pytest.raises(ValueError, match="max_entries must be at least 1; got 0"):
        CleanValueMemo(REDACTOR, max_entries=0)


values = st.one_of(
    st.sampled_from(["GET", "/ping", PHONE, "4111 1111 1111 1111", "ana@example.com", "x"]),
    st.integers(min_value=-5, max_value=5),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(st.sampled_from(["a", PHONE]), max_size=2),
    st.text(max_size=12),
)
keys = st.sampled_from(["http.route", "password", "phone", "customer.phone", "note", "n", "url"])

SHARED = CleanValueMemo(REDACTOR)  # warm across examples


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, max_size=5))
def test_any_map_is_redacted_as_the_redactor_redacts_it(attributes: dict[str, object]) -> None:
    both(attributes, SHARED)
    both(attributes, SHARED)


def test_spans_through_the_exporter_stay_redacted_after_the_memo_warmed_up() -> None:
    inner = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(RedactingSpanExporter(inner, CleanValueMemo(REDACTOR)))
    )
    tracer = provider.get_tracer("t")
    for phone in ("", PHONE, "", PHONE):
        with tracer.start_as_current_span("GET /ping", attributes=CLEAN) as span:
            if phone:
                span.set_attribute("customer.phone", phone)
    exported = inner.get_finished_spans()
    assert len(exported) == 4
    assert PHONE not in repr([dict(span.attributes or {}) for span in exported])
    assert [("customer.phone" in (span.attributes or {})) for span in exported] == [
        False,
        True,
        False,
        True,
    ]
