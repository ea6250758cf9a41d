"""A span exporter that redacts copies of the spans before the real exporter sees them.

``RedactingSpanExporter(inner, redactor)`` sits between the batch span processor and the
OTLP exporter, so no path from a span to the network bypasses redaction. For each span it
redacts the name and the status description (free text: a JWT or a phone number in a URL
path ends up in span names), the attributes, the event attributes (exception messages and
stack traces), the link attributes and the resource attributes. A span nothing matched in is
passed on as is (no copy); the others are passed on as new ``ReadableSpan`` objects, so the
span other processors see is untouched::

    exporter = RedactingSpanExporter(OTLPSpanExporter(), Redactor(load_rules(None), key))
    provider.add_span_processor(BatchSpanProcessor(exporter))

It runs in the batch processor's export thread, never on the request path. ``export`` never
raises: a span whose redaction fails unexpectedly is dropped (fail closed) and counted in
``dropped_spans``, with one logged exception.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from max_otel.processors.in_process._redactor import (
    AttributeRedactor,
    redacted_attributes,
    redacted_text,
)
from max_otel.processors.in_process.span_copy import span_copy

logger = logging.getLogger(__name__)

_MAX_CACHED_RESOURCES = 64


class ResourceRedaction:
    """Redacted resources, computed once per ``Resource`` object (resources are shared by
    every span of a provider)."""

    def __init__(self, redactor: AttributeRedactor) -> None:
        self._redactor = redactor
        self._cache: dict[int, tuple[Resource, Resource]] = {}

    def __call__(self, resource: Resource) -> Resource:
        cached = self._cache.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        hits: Counter[str] = Counter()
        attributes = redacted_attributes(self._redactor, resource.attributes, hits)
        redacted = (
            resource
            if attributes is resource.attributes
            else Resource(dict(attributes or {}), resource.schema_url)
        )
        if len(self._cache) >= _MAX_CACHED_RESOURCES:
            self._cache.clear()
        self._cache[id(resource)] = (resource, redacted)
        return redacted


def _redacted_events(
    redactor: AttributeRedactor, events: Sequence[Event], hits: Counter[str]
) -> Sequence[Event]:
    """``events`` itself when nothing changed, else a list of redacted copies."""
    before = sum(hits.values())
    copies = [
        Event(
            redacted_text(redactor, event.name, hits) or "",
            redacted_attributes(redactor, event.attributes, hits),
            event.timestamp,
        )
        for event in events
    ]
    return events if sum(hits.values()) == before else copies


def _redacted_links(
    redactor: AttributeRedactor, links: Sequence[Link], hits: Counter[str]
) -> Sequence[Link]:
    """``links`` itself when nothing changed, else a list of redacted copies."""
    before = sum(hits.values())
    copies = [
        Link(link.context, redacted_attributes(redactor, link.attributes, hits)) for link in links
    ]
    return links if sum(hits.values()) == before else copies


class RedactingSpanExporter(SpanExporter):
    """Redacts every span, then delegates to ``inner``."""

    def __init__(self, inner: SpanExporter, redactor: AttributeRedactor) -> None:
        self._inner = inner
        self._redactor = redactor
        self._resources = ResourceRedaction(redactor)
        self.dropped_spans = 0
        self.redactions: Counter[str] = Counter()
        self._failure_logged = False

    @property
    def inner(self) -> SpanExporter:
        """The exporter redacted spans are handed to."""
        return self._inner

    def redact(self, span: ReadableSpan, hits: Counter[str]) -> ReadableSpan:
        """``span`` itself if nothing in it needs redaction, else a redacted copy."""
        redactor = self._redactor
        before = sum(hits.values())
        name = redacted_text(redactor, span.name, hits) or ""
        attributes = redacted_attributes(redactor, span.attributes, hits)
        events = _redacted_events(redactor, span.events, hits)
        links = _redacted_links(redactor, span.links, hits)
        status = span.status
        description = redacted_text(redactor, status.description, hits)
        resource = self._resources(span.resource)
        if sum(hits.values()) == before and resource is span.resource:
            return span
        if description != status.description:
            status = Status(status.status_code, description)
        return span_copy(
            span,
            name=name,
            attributes=attributes,
            events=events,
            links=links,
            status=status,
            resource=resource,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        hits: Counter[str] = Counter()
        redacted: list[ReadableSpan] = []
        for span in spans:
            try:
                redacted.append(self.redact(span, hits))
            except Exception:
                self.dropped_spans += 1
                if not self._failure_logged:
                    self._failure_logged = True
                    logger.exception("span redaction failed; the span is dropped, not exported")
        self.redactions.update(hits)
        if not redacted:
            return SpanExportResult.SUCCESS
        return self._inner.export(redacted)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
