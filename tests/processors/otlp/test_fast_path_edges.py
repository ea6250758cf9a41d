"""What the small generated requests of the differential test do not reach.

Large scopes (the fast path samples the first items of a large scope and, when most are
suspicious, parses all of them without asking the pre-filter; equal attributes on many spans
are shown to the pre-filter once), and valid but unusual encodings: a singular field written
twice, which a parser reads as "last one wins" (strings) or merges (messages); no
occurrence may slip through unredacted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from max_otel.processors.otlp import (
    RedactionEngine,
    redact_logs,
    redact_traces,
    reference_redact_traces,
)
from max_otel.processors.otlp._wire import encode_field
from tests.processors.otlp.engines import ENGINE_NAMES, engine_named

pytestmark = pytest.mark.unit

PHONE = "+44 20 7946 0958"
EMAIL = "alex.morgan@example.com"


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> Iterator[RedactionEngine]:
    with engine_named(request.param) as engine:
        yield engine


def _large_scope(pii: list[bool]) -> bytes:
    """One scope of spans sharing most attributes; span i carries PII when ``pii[i]``."""
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for index, has_pii in enumerate(pii):
        span = scope_spans.spans.add(name="POST /v1/conversations/{id}/messages")
        span.trace_id = index.to_bytes(16, "big")
        span.span_id = index.to_bytes(8, "big")
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + index
        for key, value in (("http.route", "/v1/conversations/{id}"), ("team_id", "sales")):
            span.attributes.add(key=key).value.string_value = value
        span.attributes.add(key="conversation_id").value.string_value = f"c-{index % 7}"
        if has_pii:
            note = f"customer {PHONE} ({EMAIL})" if index % 2 else f"mail {EMAIL}"
            span.attributes.add(key="note").value.string_value = note
    return request.SerializeToString()


@pytest.mark.parametrize(
    "pattern",
    ["all", "none", "first-16", "all-but-first-16", "every-third", "last"],
)
def test_large_scopes_give_the_reference_result(pattern: str, engine: RedactionEngine) -> None:
    size = 100
    pii = {
        "all": [True] * size,
        "none": [False] * size,
        "first-16": [index < 16 for index in range(size)],
        "all-but-first-16": [index >= 16 for index in range(size)],
        "every-third": [index % 3 == 0 for index in range(size)],
        "last": [index == size - 1 for index in range(size)],
    }[pattern]
    request = _large_scope(pii)
    expected = reference_redact_traces(engine, request)
    actual = redact_traces(engine, request)
    assert actual.data == expected.data
    assert (actual.items, actual.changed_items) == (expected.items, expected.changed_items)
    assert actual.hits == expected.hits
    assert actual.changed_items == sum(pii)


def _pair(key: str, value: str) -> bytes:
    pair = KeyValue(key=key)
    pair.value.string_value = value
    return pair.SerializeToString()


def test_a_span_name_written_twice_is_redacted_in_both(engine: RedactionEngine) -> None:
    span = Span(name="GET /health", trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    doubled = encode_field(5, f"call {PHONE}".encode()) + span.SerializeToString()
    scope = ScopeSpans(spans=[Span(name="clean")]).SerializeToString() + encode_field(2, doubled)
    request = encode_field(1, encode_field(2, scope))
    result = redact_traces(engine, request)
    assert PHONE.encode() not in result.data
    redacted = ExportTraceServiceRequest.FromString(result.data)
    spans = redacted.resource_spans[0].scope_spans[0].spans
    assert [span.name for span in spans] == ["clean", "GET /health"]
    assert result.changed_items == 1


def test_a_resource_written_twice_is_redacted_in_both(engine: RedactionEngine) -> None:
    first = encode_field(1, _pair("note", f"owner {EMAIL}"))
    second = encode_field(1, _pair("service.name", "core-api"))
    resource_spans = encode_field(1, first) + encode_field(1, second)
    resource_spans += ResourceSpans(scope_spans=[ScopeSpans()]).SerializeToString()
    result = redact_traces(engine, encode_field(1, resource_spans))
    assert EMAIL.encode() not in result.data
    merged = ExportTraceServiceRequest.FromString(result.data).resource_spans[0].resource
    assert "core-api" in [pair.value.string_value for pair in merged.attributes]


def test_a_log_body_written_twice_is_redacted_in_both(engine: RedactionEngine) -> None:
    body = encode_field(1, f"conversation assigned, customer {PHONE}".encode())
    record = encode_field(5, body) + encode_field(5, encode_field(1, b"heartbeat"))
    request = encode_field(1, encode_field(2, encode_field(2, record)))
    result = redact_logs(engine, request)
    assert PHONE.encode() not in result.data
    ExportLogsServiceRequest.FromString(result.data)  # still a valid request
    assert result.items == 1 and result.changed_items == 1


def test_an_existing_count_at_the_int64_limit_stays_there(engine: RedactionEngine) -> None:
    """A span already counted 2**63 - 1 times and redacted again: the count cannot grow, the
    batch is still forwarded redacted (no overflow error)."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="send")
    span.attributes.add(key="redaction.count").value.int_value = 2**63 - 1
    span.attributes.add(key="note").value.string_value = f"call {PHONE}"
    result = redact_traces(engine, request.SerializeToString())
    assert PHONE.encode() not in result.data
    [redacted] = (
        ExportTraceServiceRequest.FromString(result.data).resource_spans[0].scope_spans[0].spans
    )
    counts = [a.value.int_value for a in redacted.attributes if a.key == "redaction.count"]
    assert counts == [2**63 - 1]
    assert result.data == reference_redact_traces(engine, request.SerializeToString()).data
