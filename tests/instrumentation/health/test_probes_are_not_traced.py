"""Readiness probes run every few seconds: they must not add a trace per probe to Jaeger."""

from __future__ import annotations

import pytest
import redis
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from max_otel.instrumentation.health import HealthCheck, Readiness, redis_probe

pytestmark = pytest.mark.integration


def test_redis_readiness_probe_makes_no_span_while_other_redis_calls_do(redis_server) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    RedisInstrumentor().instrument(tracer_provider=provider)
    try:
        client = redis.Redis.from_url(redis_server.url)
        readiness = Readiness([HealthCheck("redis", redis_probe(client))])
        try:
            assert readiness.check_blocking().ready
        finally:
            readiness.close()
        assert exporter.get_finished_spans() == ()
        client.ping()  # the same call outside a probe is traced: the instrumentation is live
        assert [span.name for span in exporter.get_finished_spans()] == ["PING"]
    finally:
        RedisInstrumentor().uninstrument()
