"""``might_contain_pii``: the conservative pre-filter the service uses on raw OTLP bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from max_otel.processors.redaction import Redactor

pytestmark = pytest.mark.unit

CLEAN = {
    "http.request.method": "POST",
    "url.full": "https://api.max.example/v1/conversations/5f0c6b1e/messages?limit=20",
    "http.response.status_code": 201,
    "conversation_id": "c-1",
    "server.address": "api.max.example",
    "http.route": "/v1/conversations/{conversation_id}/messages",
}


def otlp_request(attributes: dict[str, object]) -> bytes:
    """A serialised ExportTraceServiceRequest holding one span with ``attributes``."""
    values = []
    for key, value in attributes.items():
        any_value = (
            AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value)  # type: ignore[arg-type]
        )
        values.append(KeyValue(key=key, value=any_value))
    span = Span(
        trace_id=bytes(range(1, 17)),
        span_id=bytes(range(1, 9)),
        name="POST /v1/conversations/{conversation_id}/messages",
        start_time_unix_nano=1_717_171_717_000_000_000,
        end_time_unix_nano=1_717_171_717_100_000_000,
        attributes=values,
    )
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    )
    return request.SerializeToString()


def test_clean_otlp_request_is_reported_clean(redactor: Redactor) -> None:
    assert redactor.might_contain_pii(otlp_request(CLEAN)) is False


@pytest.mark.parametrize(
    "value", ["+14155550123", "4111111111111111", "ana@example.com", "AKIAIOSFODNN7EXAMPLE"]
)
def test_pii_right_after_a_digit_length_byte_is_seen(redactor: Redactor, value: str) -> None:
    """The protobuf length byte before a 52-byte string is b'4': validators would reject
    ``4+14155550123`` as glued, the pre-filter must not."""
    padded = value + " " * (0x34 - len(value))
    data = otlp_request({**CLEAN, "max.note": padded})
    assert data[data.index(value.encode()) - 1 : data.index(value.encode())] == b"4"
    assert redactor.might_contain_pii(data) is True


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("password", "hunter2"),
        ("message.body", "hello"),
        ("http.request.header.x-api-key", "abc"),
        ("db.statement", "SELECT 1 FROM t WHERE n = 5"),
        ("customer.phone", "4155550123"),
    ],
)
def test_sensitive_key_with_harmless_value_is_seen(
    redactor: Redactor, attribute: str, value: str
) -> None:
    assert redactor.might_contain_pii(otlp_request({**CLEAN, attribute: value})) is True


@pytest.mark.parametrize(
    "text",
    [
        '{"note": "call \\u002b14155550123"}',
        "/customers/%2B14155550123",
        "https:\\/\\/ana:pw@host",
        "https://ana@host/",
        "x?sig=abc",
    ],
)
def test_escaped_or_structured_pii_is_seen(redactor: Redactor, text: str) -> None:
    assert redactor.might_contain_pii(text) is True
    assert redactor.might_contain_pii(text.encode()) is True


def test_message_body_size_alone_is_not_a_message(redactor: Redactor) -> None:
    data = otlp_request({**CLEAN, "messaging.message.body.size": 120})
    assert redactor.might_contain_pii(data) is False


def test_prefilter_accepts_memoryview_and_bytearray(redactor: Redactor) -> None:
    data = otlp_request({**CLEAN, "email": "ana@example.com"})
    assert redactor.might_contain_pii(memoryview(data)) is True
    assert redactor.might_contain_pii(bytearray(data)) is True


def test_many_chunks_are_checked_in_one_scan(redactor: Redactor) -> None:
    chunks = [
        otlp_request(CLEAN),
        otlp_request({**CLEAN, "max.note": "call +14155550123"}),
        b"plain words",
        b"ends with a key: password",
        b"abc starts with letters",
        otlp_request({**CLEAN, "email": "ana@example.com"}),
    ]
    assert redactor.might_contain_pii_many(chunks) == [1, 3, 5]
    assert redactor.might_contain_pii_many([]) == []


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from(
                [b"+14155550123", b"password", b"ana@example.com", b"db.statement", b"x" * 8]
            ),
        ),
        max_size=8,
    )
)
def test_many_chunks_find_every_chunk_the_single_check_finds(
    redactor: Redactor, chunks: list[bytes]
) -> None:
    expected = {index for index, chunk in enumerate(chunks) if redactor.might_contain_pii(chunk)}
    assert expected <= set(redactor.might_contain_pii_many(chunks))
