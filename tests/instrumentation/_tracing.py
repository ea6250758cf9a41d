"""Test helpers: a private TracerProvider whose finished spans land in memory."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def in_memory_provider(*processors: SpanProcessor) -> tuple[TracerProvider, InMemorySpanExporter]:
    """A provider running ``processors`` first, then exporting to an in-memory exporter."""
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter
