"""Drop the spans of chosen instrumentations when they start a trace of their own.

An idle Celery worker talks to its Redis broker all the time: a heartbeat ``PUBLISH`` every
2 seconds, plus the ``EVALSHA``/``SREM``/``LLEN`` of its start-up and its control mailbox.
Each is a Redis span without a parent, so each becomes a one-span trace that names no
conversation: tens of thousands a day per worker, burying the traces engineers
look for. A Redis command made inside a request or a task has a parent and is kept::

    processor = DropParentlessSpans(inner, frozenset({"redis"}))

Contract: ``on_end`` passes every span to ``inner`` except those with no parent span whose
instrumentation scope is ``opentelemetry.instrumentation.<name>`` for a ``name`` in
``instrumentations``; ``dropped`` counts them. Everything else (``on_start``, flushing,
shutdown) goes to ``inner`` unchanged. Nothing here raises into the application.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

INSTRUMENTATION_SCOPE_PREFIX = "opentelemetry.instrumentation."

DROPPABLE_INSTRUMENTATIONS = frozenset({"redis", "sqlalchemy"})
"""The instrumentations whose parentless spans can be dropped: client calls that mean
something inside a request or a task and are noise on their own."""


def parse_instrumentation_names(value: str) -> frozenset[str]:
    """The comma-separated names in ``value`` (spaces and empty items ignored)."""
    return frozenset(name.strip() for name in value.split(",") if name.strip())


class DropParentlessSpans(SpanProcessor):
    """Passes ended spans to ``inner``, leaving out the parentless spans of
    ``instrumentations`` (short names such as ``redis``)."""

    def __init__(self, inner: SpanProcessor, instrumentations: Iterable[str]) -> None:
        self._inner = inner
        self._scopes = frozenset(INSTRUMENTATION_SCOPE_PREFIX + name for name in instrumentations)
        self.dropped = 0
        """How many spans were left out."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if span.parent is None:
            scope = span.instrumentation_scope
            if scope is not None and scope.name in self._scopes:
                self.dropped += 1
                return
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
