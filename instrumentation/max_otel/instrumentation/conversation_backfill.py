"""Give ``conversation_id`` to the spans of a trace that ended before the id was known.

A webhook names no conversation: the request finds or creates it, then binds it
(``with conversation(id):``). The spans started after that get the id from baggage, the
still-open server span gets it from the binding, but the spans that had already *ended* (the
lookup ``SELECT``, the ``INSERT``) cannot be changed any more. This processor sits in front
of the export processor and holds the ended spans of each trace until the trace's *local
root* (the span of this process with no parent, or a remote parent) ends; then each held span
without ``conversation_id`` is passed on as a copy carrying the root's value, and the rest
unchanged::

    provider.add_span_processor(
        ConversationBackfillSpanProcessor(BatchSpanProcessor(OTLPSpanExporter()))
    )

Contract: ``on_start``/``on_end`` never raise and never block (one short lock). Memory is
bounded by explicit caps: at most ``max_traces`` traces and ``max_spans_per_trace`` spans per
trace are held, each trace at most ``max_hold_seconds`` (checked whenever a span ends).
Past a cap, spans pass on unchanged, counted in ``passed_unchanged`` by cap, with one debug
log per cap. A span that ends after its root passes on at once (with the root's id, when the
root had one and the span has none). Unsampled spans are never held. ``force_flush`` and
``shutdown`` pass every held span on first; a forked child forgets its parent's held spans.

Spans are grouped by trace id: when one request touches several conversations, the spans that
ended before any was bound get the one the root ended with; when one process runs several
local roots of a trace (two tasks of one trace on one worker), the first root to end releases
the held spans, and spans ending after it pass straight on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.util.types import AttributeValue

from max_otel.instrumentation.baggage_policy import CONVERSATION_ID
from max_otel.instrumentation.plain_attributes import plain_attributes
from max_otel.processors.in_process.span_copy import span_copy

logger = logging.getLogger(__name__)

_DEFAULT_MAX_TRACES = 2048
_DEFAULT_MAX_SPANS_PER_TRACE = 512
_DEFAULT_MAX_HOLD_SECONDS = 30.0

MAX_TRACES = "max_traces"
MAX_SPANS_PER_TRACE = "max_spans_per_trace"
MAX_HOLD_SECONDS = "max_hold_seconds"


@dataclass
class _Held:
    since: float
    spans: list[ReadableSpan] = field(default_factory=list)


def with_attribute(span: ReadableSpan, key: str, value: AttributeValue) -> ReadableSpan:
    """A copy of the ended ``span`` with ``key`` set to ``value`` (dropped counts kept)."""
    return span_copy(span, attributes={**plain_attributes(span.attributes), key: value})


def is_local_root(span: ReadableSpan) -> bool:
    """Whether ``span`` has no parent in this process (none, or a remote one)."""
    return span.parent is None or span.parent.is_remote


class ConversationBackfillSpanProcessor(SpanProcessor):
    """Holds ended spans per trace until the local root ends, then fills in its
    ``conversation_id`` and passes everything to ``inner``."""

    def __init__(
        self,
        inner: SpanProcessor,
        *,
        key: str = CONVERSATION_ID,
        max_traces: int = _DEFAULT_MAX_TRACES,
        max_spans_per_trace: int = _DEFAULT_MAX_SPANS_PER_TRACE,
        max_hold_seconds: float = _DEFAULT_MAX_HOLD_SECONDS,
    ) -> None:
        for name, value in (
            ("max_traces", max_traces),
            ("max_spans_per_trace", max_spans_per_trace),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1; got {value}")
        if not max_hold_seconds > 0:
            raise ValueError(f"max_hold_seconds must be positive; got {max_hold_seconds}")
        self._inner = inner
        self._key = key
        self._max_traces = max_traces
        self._max_spans = max_spans_per_trace
        self._max_hold = max_hold_seconds
        self.passed_unchanged: Counter[str] = Counter()
        """Spans passed on without waiting for their root, by the cap that made them."""
        self._reset()
        if hasattr(os, "register_at_fork"):
            forget = weakref.WeakMethod(self._reset)

            def _after_in_child() -> None:
                method = forget()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=_after_in_child)

    def _reset(self) -> None:
        """Forget every held span (done in a forked child: they are the parent's to export)."""
        self._lock = threading.Lock()
        self._held: OrderedDict[int, _Held] = OrderedDict()
        self._finished: OrderedDict[int, AttributeValue | None] = OrderedDict()

    @property
    def held_spans(self) -> int:
        """How many ended spans are waiting for their root."""
        return sum(len(held.spans) for held in list(self._held.values()))

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._inner.on_start(span, parent_context=parent_context)
        except Exception:
            logger.exception("the export span processor failed on span start")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            ready = self._take(span)
        except Exception:
            logger.exception("could not hold span %s for its root; passing it on", span.name)
            ready = [span]
        self._pass_on(ready)

    def _take(self, span: ReadableSpan) -> list[ReadableSpan]:
        """The spans to pass on now that ``span`` ended (maybe none)."""
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return [span]
        trace_id = context.trace_id
        now = time.monotonic()
        with self._lock:
            ready = self._expired(now) if self._held else []
            if is_local_root(span):
                held = self._held.pop(trace_id, None)
                value = plain_attributes(span.attributes).get(self._key)
                self._remember(trace_id, value)
                if held is not None:
                    ready.extend(self._filled(held.spans, value))
                ready.append(span)
                return ready
            if trace_id in self._finished:
                ready.extend(self._filled([span], self._finished[trace_id]))
                return ready
            held = self._held.get(trace_id)
            if held is None:
                if len(self._held) >= self._max_traces:
                    return [*ready, *self._unchanged([span], MAX_TRACES)]
                held = self._held[trace_id] = _Held(now)
            elif len(held.spans) >= self._max_spans:
                return [*ready, *self._unchanged([span], MAX_SPANS_PER_TRACE)]
            held.spans.append(span)
            return ready

    def _expired(self, now: float) -> list[ReadableSpan]:
        """Pop the traces held longer than ``max_hold_seconds`` (oldest first)."""
        ready: list[ReadableSpan] = []
        while self._held:
            trace_id, held = next(iter(self._held.items()))
            if now - held.since < self._max_hold:
                break
            del self._held[trace_id]
            ready.extend(self._unchanged(held.spans, MAX_HOLD_SECONDS))
        return ready

    def _remember(self, trace_id: int, value: AttributeValue | None) -> None:
        """Keep the ended root's value, so spans ending after it pass straight on."""
        self._finished[trace_id] = value
        self._finished.move_to_end(trace_id)
        while len(self._finished) > self._max_traces:
            self._finished.popitem(last=False)

    def _filled(
        self, spans: list[ReadableSpan], value: AttributeValue | None
    ) -> list[ReadableSpan]:
        if value is None:
            return spans
        return [
            span
            if plain_attributes(span.attributes).get(self._key) is not None
            else self._copy(span, value)
            for span in spans
        ]

    def _copy(self, span: ReadableSpan, value: AttributeValue) -> ReadableSpan:
        try:
            return with_attribute(span, self._key, value)
        except Exception:
            logger.exception("could not copy span %s with %s", span.name, self._key)
            return span

    def _unchanged(self, spans: list[ReadableSpan], cap: str) -> list[ReadableSpan]:
        if spans and cap not in self.passed_unchanged:
            logger.debug(
                "max_otel: %s reached; spans pass on without waiting for their root's %s",
                cap,
                self._key,
            )
        self.passed_unchanged[cap] += len(spans)
        return spans

    def _pass_on(self, spans: list[ReadableSpan]) -> None:
        for span in spans:
            try:
                self._inner.on_end(span)
            except Exception:
                logger.exception("the export span processor failed on span %s", span.name)

    def _release_all(self) -> None:
        try:
            with self._lock:
                held, self._held = self._held, OrderedDict()
            self._pass_on([span for entry in held.values() for span in entry.spans])
        except Exception:
            logger.exception("could not pass the held spans on")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Pass every held span on (unchanged), then flush the export processor."""
        self._release_all()
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Pass every held span on (unchanged), then shut the export processor down."""
        self._release_all()
        self._inner.shutdown()
