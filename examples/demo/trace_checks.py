"""What the demo and the end-to-end tests check on stored traces.

::

    missing = spans_without(trace, "conversation_id", conversation_id)   # [] is good
    kinds = span_kinds(trace)       # {"http", "db", "redis", "celery"} for a full flow

A span's kind comes from the instrumentation that recorded it (``otel.scope.name``), so it
does not depend on span names, which the redaction may rewrite.
"""

from __future__ import annotations

from demo.jaeger_api import JaegerSpan, JaegerTrace

CONVERSATION_ID = "conversation_id"

# instrumentation scope (prefix) -> kind
_SCOPE_KINDS: tuple[tuple[str, str], ...] = (
    ("opentelemetry.instrumentation.sqlalchemy", "db"),
    ("opentelemetry.instrumentation.redis", "redis"),
    ("opentelemetry.instrumentation.celery", "celery"),
    ("opentelemetry.instrumentation.fastapi", "http"),
    ("opentelemetry.instrumentation.asgi", "http"),
    ("opentelemetry.instrumentation.httpx", "http"),
    ("opentelemetry.instrumentation.requests", "http"),
)


def span_kind(span: JaegerSpan) -> str | None:
    """``db``, ``redis``, ``celery`` or ``http`` by the span's instrumentation; else None."""
    scope = str(span.tags.get("otel.scope.name", ""))
    return next((kind for prefix, kind in _SCOPE_KINDS if scope.startswith(prefix)), None)


def span_kinds(trace: JaegerTrace) -> set[str]:
    """The kinds of span (see :func:`span_kind`) present in ``trace``."""
    return {kind for span in trace.spans if (kind := span_kind(span)) is not None}


def spans_without(trace: JaegerTrace, key: str, value: str | None = None) -> list[JaegerSpan]:
    """Spans of ``trace`` lacking tag ``key`` (or, with ``value``, not equal to it)."""
    return [
        span
        for span in trace.spans
        if key not in span.tags or (value is not None and span.tags[key] != value)
    ]


def describe_spans(spans: list[JaegerSpan], limit: int = 10) -> str:
    """``service:name`` of up to ``limit`` spans, for messages."""
    names = [f"{span.service}:{span.name}" for span in spans[:limit]]
    more = f" and {len(spans) - limit} more" if len(spans) > limit else ""
    return ", ".join(names) + more


__all__ = ["CONVERSATION_ID", "describe_spans", "span_kind", "span_kinds", "spans_without"]
