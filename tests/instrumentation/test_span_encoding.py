"""``SpanRequestEncoder`` builds exactly the request the OTLP exporter's own encoder builds."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from max_otel.instrumentation.span_encoding import SpanRequestEncoder, use_span_request_encoder

pytestmark = pytest.mark.unit


def canonical(request: ExportTraceServiceRequest) -> bytes:
    """Field order and NaN independent form of a request (for comparing two of them)."""
    return request.SerializeToString(deterministic=True)


def assert_same_request(spans: Sequence[ReadableSpan], encoder: SpanRequestEncoder) -> None:
    assert canonical(encoder(spans)) == canonical(encode_spans(spans))


def context(
    trace_id: int, span_id: int, *, remote: bool = False, state: TraceState | None = None
) -> SpanContext:
    return SpanContext(trace_id, span_id, remote, TraceFlags(TraceFlags.SAMPLED), state)


SERVER_ATTRIBUTES = {
    "http.method": "GET",
    "http.route": "/ping",
    "http.status_code": 200,
    "net.peer.port": 50000,
    "http.flavor": "1.1",
    "conversation_id": "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b",
}


def server_span(**overrides: object) -> ReadableSpan:
    arguments: dict[str, object] = {
        "name": "GET /ping",
        "context": context(0x5B8AA5A2D2C872E8321CF37308D69DF2, 0x051581BF3CB55C13),
        "parent": context(0x5B8AA5A2D2C872E8321CF37308D69DF2, 0x1111, remote=True),
        "resource": Resource.create({"service.name": "core-api"}),
        "attributes": SERVER_ATTRIBUTES,
        "kind": SpanKind.SERVER,
        "status": Status(StatusCode.UNSET),
        "start_time": 1_700_000_000_000_000_000,
        "end_time": 1_700_000_000_000_500_000,
        "instrumentation_scope": InstrumentationScope(
            "opentelemetry.instrumentation.fastapi", "0.66b1"
        ),
    }
    arguments.update(overrides)
    return ReadableSpan(**arguments)  # type: ignore[arg-type]


def test_a_server_span_is_encoded_as_the_sdk_encodes_it() -> None:
    assert_same_request([server_span()], SpanRequestEncoder())


def test_cached_pairs_give_the_same_request_again() -> None:
    encoder = SpanRequestEncoder()
    spans = [server_span(), server_span(attributes={**SERVER_ATTRIBUTES, "net.peer.port": 1})]
    first = encoder.encode(spans)
    assert encoder.encode(spans) == first
    assert_same_request(spans, encoder)


def test_true_and_one_are_not_taken_for_each_other() -> None:
    """``True == 1`` in Python: the pair cache must still tell a boolean from an integer."""
    encoder = SpanRequestEncoder()
    for value in (True, 1, False, 0, "1"):
        assert_same_request([server_span(attributes={"flag": value})], encoder)


def test_a_full_cache_is_emptied_and_refilled() -> None:
    encoder = SpanRequestEncoder(max_cached_pairs=2)
    spans = [server_span(attributes={"n": i, "s": str(i)}) for i in range(5)]
    assert_same_request(spans, encoder)
    assert_same_request(spans, SpanRequestEncoder(max_cached_pairs=0))


def test_spans_are_grouped_by_equal_resources_and_by_scope_in_order() -> None:
    api = Resource.create({"service.name": "core-api"})
    api_again = Resource.create({"service.name": "core-api"})  # equal, another object
    worker = Resource({"service.name": "core-worker"}, schema_url="https://example.com/s")
    scope_a = InstrumentationScope("a", "1", "https://example.com/a", {"k": "v"})
    scope_a_again = InstrumentationScope("a", "1", "https://example.com/a", {"k": "v"})
    spans = [
        server_span(resource=worker),
        server_span(resource=api, instrumentation_scope=scope_a),
        server_span(resource=api_again),
        server_span(resource=worker, instrumentation_scope=None),
        server_span(resource=api, instrumentation_scope=scope_a),
        server_span(resource=api_again, instrumentation_scope=scope_a_again),
    ]
    request = SpanRequestEncoder()(spans)
    assert [len(r.scope_spans) for r in request.resource_spans] == [2, 2]
    assert [len(s.spans) for s in request.resource_spans[1].scope_spans] == [3, 1]
    assert_same_request(spans, SpanRequestEncoder())


def test_events_links_status_trace_state_and_dropped_counts() -> None:
    attributes = BoundedAttributes(maxlen=2, attributes={"a": 1, "b": 2, "c": 3})
    linked = context(1, 2, remote=True, state=TraceState([("vendor", "x")]))
    span = server_span(
        context=context(3, 4, state=TraceState([("max", "1"), ("other", "2")])),
        parent=context(3, 5),
        attributes=attributes,
        events=[Event("exception", {"exception.message": "boom"}, timestamp=7), Event("", None, 0)],
        links=[Link(linked, {"link": True}), Link(context(1, 3))],
        status=Status(StatusCode.ERROR, "it failed"),
        kind=SpanKind.CONSUMER,
    )
    assert span.dropped_attributes == 1
    assert_same_request([span], SpanRequestEncoder())
    assert_same_request(
        [server_span(parent=None, name="", status=Status(StatusCode.OK))], SpanRequestEncoder()
    )


def test_what_the_sdk_cannot_encode_is_left_out_with_a_logged_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    span = server_span(attributes={"big": 1 << 64, "odd": object(), "kept": "yes"})
    with caplog.at_level(logging.ERROR):
        request = SpanRequestEncoder()([span])
    encoded = request.resource_spans[0].scope_spans[0].spans[0]
    assert [kv.key for kv in encoded.attributes] == ["kept"]
    assert canonical(request) == canonical(encode_spans([span]))
    assert "Failed to encode key big" in caplog.text
    assert "Failed to encode key odd" in caplog.text


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
attribute_maps = st.dictionaries(st.text(max_size=12), values, max_size=6)


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    trace_id = draw(st.integers(min_value=0, max_value=(1 << 128) - 1))
    parent = draw(st.none() | st.booleans())
    return ReadableSpan(
        name=draw(st.text(max_size=20)),
        context=context(trace_id, draw(st.integers(min_value=0, max_value=(1 << 64) - 1))),
        parent=None if parent is None else context(trace_id, 9, remote=parent),
        resource=draw(
            st.sampled_from(
                [Resource.create({"service.name": "a"}), Resource({"service.name": "b"}, "s")]
            )
        ),
        attributes=draw(attribute_maps),
        events=[
            Event(name, attrs, ts)
            for name, attrs, ts in draw(
                st.lists(
                    st.tuples(
                        st.text(max_size=8),
                        attribute_maps,
                        st.integers(min_value=0, max_value=(1 << 64) - 1),
                    ),
                    max_size=2,
                )
            )
        ],
        links=[
            Link(context(trace_id, 7, remote=remote), attrs)
            for remote, attrs in draw(
                st.lists(st.tuples(st.booleans(), attribute_maps), max_size=2)
            )
        ],
        kind=draw(st.sampled_from(list(SpanKind))),
        status=Status(
            draw(st.sampled_from(list(StatusCode))), draw(st.none() | st.text(max_size=10))
        ),
        start_time=draw(st.integers(min_value=0, max_value=(1 << 64) - 1)),
        end_time=draw(st.integers(min_value=0, max_value=(1 << 64) - 1)),
        instrumentation_scope=draw(
            st.sampled_from([None, InstrumentationScope("s"), InstrumentationScope("t", "1.0")])
        ),
    )


ENCODER = SpanRequestEncoder()  # shared: later examples also run through a warm cache


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), min_size=1, max_size=4))
def test_any_spans_are_encoded_as_the_sdk_encodes_them(batch: list[ReadableSpan]) -> None:
    try:
        expected = canonical(encode_spans(batch))
    except Exception:  # the SDK encoder itself fails (e.g. a lone surrogate): skip
        return
    assert canonical(ENCODER(batch)) == expected


def test_only_the_otlp_grpc_span_exporter_is_switched_to_the_encoder() -> None:
    exporter = OTLPSpanExporter(endpoint="http://127.0.0.1:1", insecure=True)
    try:
        assert use_span_request_encoder(exporter) is exporter
        assert isinstance(exporter._translate_data, SpanRequestEncoder)
        assert canonical(exporter._translate_data([server_span()])) == canonical(
            encode_spans([server_span()])
        )
    finally:
        exporter.shutdown()
    memory = InMemorySpanExporter()
    assert use_span_request_encoder(memory) is memory
    assert "_translate_data" not in vars(memory)
