"""Fast path: redact a serialized OTLP request without decoding what is clean.

Most batches are mostly clean. The walker cuts the request into fields at the wire level
(:mod:`max_otel.processors.otlp._wire`) and asks the engine's conservative pre-filter about
each span, log record and metric (one ``might_contain_pii_many(chunks)`` call for all of a
scope's items when the engine has it, else ``might_contain_pii(bytes)`` for each), then
about each attribute, name and body inside the suspicious ones. Only suspicious pieces
are decoded, given to the engine (:mod:`max_otel.processors.otlp.pieces`, the same functions
the reference walker uses) and encoded again; every other byte is copied as it came. The
generic machinery is in :mod:`max_otel.processors.otlp._walker`; this module describes the
shape of the three OTLP requests to it::

    result = redact_traces(redactor, request_bytes)   # same API as reference_redact_traces

Contract: for any request the result is the same message as the reference walker's
(:mod:`max_otel.processors.otlp.reference`), byte for byte when the input is canonically
encoded (fields in number order, as every OTLP SDK writes them); a request with nothing to
redact comes back as the very same bytes object. Malformed input raises ``OtlpDecodeError``
(the service validates the whole request first, so clean pieces are valid protobuf too).
"""

from __future__ import annotations

from max_otel.processors.otlp._walker import ATTRIBUTE, BODY, TEXT, Message, Walk, container
from max_otel.processors.otlp.pieces import RedactionEngine
from max_otel.processors.otlp.result import RedactionResult

_RESOURCE = Message({1: ATTRIBUTE}, count_field=1)
_SCOPE = Message({3: ATTRIBUTE}, count_field=3)

_SPAN = Message(
    {
        5: TEXT,  # name
        9: ATTRIBUTE,
        11: Message({2: TEXT, 3: ATTRIBUTE}),  # events: name, attributes
        13: Message({4: ATTRIBUTE}),  # links: attributes
        15: Message({2: TEXT}),  # status: message
    },
    count_field=9,
    counted=True,
)
_TRACES = container(
    {1: container({1: _RESOURCE, 2: container({1: _SCOPE, 2: _SPAN})})}  # resource_spans
)

_LOG_RECORD = Message({5: BODY, 6: ATTRIBUTE, 12: TEXT}, count_field=6, counted=True)
_LOGS = container({1: container({1: _RESOURCE, 2: container({1: _SCOPE, 2: _LOG_RECORD})})})


def _data_points(point: Message) -> Message:
    return Message({1: point})


_EXEMPLAR = Message({7: ATTRIBUTE})
_NUMBER_POINT = Message({7: ATTRIBUTE, 5: _EXEMPLAR}, count_field=7)
_HISTOGRAM_POINT = Message({9: ATTRIBUTE, 8: _EXEMPLAR}, count_field=9)
_EXPONENTIAL_POINT = Message({1: ATTRIBUTE, 11: _EXEMPLAR}, count_field=1)
_SUMMARY_POINT = Message({7: ATTRIBUTE}, count_field=7)
_METRIC = Message(
    {
        5: _data_points(_NUMBER_POINT),  # gauge
        7: _data_points(_NUMBER_POINT),  # sum
        9: _data_points(_HISTOGRAM_POINT),  # histogram
        10: _data_points(_EXPONENTIAL_POINT),  # exponential_histogram
        11: _data_points(_SUMMARY_POINT),  # summary
        12: ATTRIBUTE,  # metadata
    },
    count_field=12,
    counted=True,
)
_METRICS = container({1: container({1: _RESOURCE, 2: container({1: _SCOPE, 2: _METRIC})})})


def _run(walker: Message, engine: RedactionEngine, data: bytes) -> RedactionResult:
    walk = Walk(engine)
    result = walker(walk, data, walk.hits)
    redacted = data if result is None else result
    assert isinstance(redacted, bytes)
    return RedactionResult(
        data=redacted, items=walk.items, changed_items=walk.changed_items, hits=walk.hits
    )


def redact_traces(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportTraceServiceRequest`` (see the module contract)."""
    return _run(_TRACES, engine, data)


def redact_logs(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportLogsServiceRequest`` (see the module contract)."""
    return _run(_LOGS, engine, data)


def redact_metrics(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportMetricsServiceRequest`` (see the module contract)."""
    return _run(_METRICS, engine, data)
