"""A span processor that remembers the spans of this process that are still open.

When a conversation id becomes known in the middle of a request (a path parameter, known only
after routing, or ``with conversation(id):`` in a handler), the spans already started (the
HTTP server span, a handler span around the block) must get the attribute too.
``OpenSpans.lineage(span)`` returns ``span`` and its still-open local ancestors, so they can::

    open_spans = OpenSpans()
    provider.add_span_processor(open_spans)
    for span in open_spans.lineage(trace.get_current_span()):
        span.set_attribute("conversation_id", conversation_id)

The map holds at most ``max_spans`` spans (spans started beyond that are not tracked, so a
leak of unended spans cannot grow memory); it is emptied in a forked child, whose copies of
the parent's open spans never end there. ``on_start``/``on_end`` never raise and never block.
"""

from __future__ import annotations

import logging
import os
import weakref

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

logger = logging.getLogger(__name__)

_DEFAULT_MAX_SPANS = 10_000
_MAX_DEPTH = 64


class OpenSpans(SpanProcessor):
    """span id -> span for spans started in this process and not yet ended."""

    def __init__(self, max_spans: int = _DEFAULT_MAX_SPANS) -> None:
        if max_spans < 1:
            raise ValueError(f"max_spans must be at least 1; got {max_spans}")
        self._max_spans = max_spans
        self._spans: dict[int, Span] = {}
        if hasattr(os, "register_at_fork"):
            forget = weakref.WeakMethod(self.clear)

            def _after_in_child() -> None:
                method = forget()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=_after_in_child)

    def __len__(self) -> int:
        return len(self._spans)

    def clear(self) -> None:
        """Forget every span (done automatically in a forked child)."""
        self._spans = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if len(self._spans) < self._max_spans:
            self._spans[span.context.span_id] = span

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None:
            self._spans.pop(span.context.span_id, None)

    def lineage(self, span: trace.Span) -> list[trace.Span]:
        """``span`` (if recording) and its open local ancestors, nearest first."""
        found: list[trace.Span] = []
        if not span.is_recording():
            return found
        found.append(span)
        parent = getattr(span, "parent", None)
        while parent is not None and not parent.is_remote and len(found) < _MAX_DEPTH:
            ancestor = self._spans.get(parent.span_id)
            if ancestor is None:
                break
            found.append(ancestor)
            parent = ancestor.parent
        return found

    def shutdown(self) -> None:
        self.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
