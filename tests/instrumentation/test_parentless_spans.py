"""Parentless spans of chosen instrumentations (an idle Celery worker's Redis heartbeat) are
not exported; the same calls inside a request or a task are."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from max_otel.instrumentation.configurator import parentless_spans_to_drop
from max_otel.instrumentation.parentless_spans import DropParentlessSpans

pytestmark = pytest.mark.unit

REDIS = "opentelemetry.instrumentation.redis"
SQLALCHEMY = "opentelemetry.instrumentation.sqlalchemy"
FASTAPI = "opentelemetry.instrumentation.fastapi"


def exported_names(drop: frozenset[str]) -> tuple[list[str], DropParentlessSpans]:
    exporter = InMemorySpanExporter()
    processor = DropParentlessSpans(SimpleSpanProcessor(exporter), drop)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    redis = provider.get_tracer(REDIS)
    with redis.start_as_current_span("PUBLISH"):  # a heartbeat: no parent
        pass
    with provider.get_tracer(SQLALCHEMY).start_as_current_span("CREATE"):
        pass
    with (
        provider.get_tracer(FASTAPI).start_as_current_span("POST /webhook"),
        redis.start_as_current_span("LPUSH"),  # inside a request: kept
    ):
        pass
    provider.shutdown()
    return [span.name for span in exporter.get_finished_spans()], processor


def test_parentless_redis_spans_are_dropped_and_counted() -> None:
    names, processor = exported_names(frozenset({"redis"}))
    assert names == ["CREATE", "LPUSH", "POST /webhook"]
    assert processor.dropped == 1


def test_each_named_instrumentation_is_dropped_and_no_other() -> None:
    names, processor = exported_names(frozenset({"redis", "sqlalchemy"}))
    assert names == ["LPUSH", "POST /webhook"]
    assert processor.dropped == 2
    names, processor = exported_names(frozenset())
    assert names == ["PUBLISH", "CREATE", "LPUSH", "POST /webhook"]
    assert processor.dropped == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"redis"}),
        ("", set()),
        ("redis, sqlalchemy", {"redis", "sqlalchemy"}),
        ("sqlalchemy,", {"sqlalchemy"}),
    ],
)
def test_the_setting_names_the_instrumentations(value: str | None, expected: set[str]) -> None:
    env = {} if value is None else {"MAX_OTEL_DROP_PARENTLESS_SPANS": value}
    assert parentless_spans_to_drop(env) == expected
