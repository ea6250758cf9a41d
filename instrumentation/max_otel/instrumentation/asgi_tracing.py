"""The tracer provider of the FastAPI/ASGI instrumentation: request attributes set once.

OpenTelemetry's ASGI middleware (``opentelemetry-instrumentation-asgi`` 0.66b1) collects the
request attributes (``http.method``, ``http.url``, ``http.route``... 12 for ``GET /ping``),
starts the server span *with* them, and then, the span being recording, sets each of them
again with ``span.set_attribute``. The SDK cleans and stores every value both times: about
80 000 instructions, 15-20 us of CPU per request on a shared 2-core machine, for nothing.

``asgi_tracer_provider(provider)`` returns a ``TracerProvider`` for the FastAPI instrumentor
(its public ``tracer_provider`` option; the distro passes it) that shares everything with
``provider`` (the same span processor chain, so the same processors, batching and export;
the same resource, id generator and span limits) except its sampler:
``AttributesSetAfterStartSampler`` wraps ``provider``'s sampler, lets it decide with the
attributes as before, and starts the span without the attributes the middleware is about to
set again. The span that ends is the same (same attributes, values and limits), the
sampling decision is the same; one difference: span processors' ``on_start`` sees the ASGI
spans without their request attributes (the ones of max_otel do not read them).

    FastAPIInstrumentor().instrument(tracer_provider=asgi_tracer_provider(get_tracer_provider()))

Returns None when ``provider`` is not the SDK's (nothing to share: the instrumentor then
uses the global provider as before). Reads the SDK provider's span processor chain
(``_active_span_processor``) and span limits (``_span_limits``): the SDK is pinned exactly,
and ``tests/instrumentation/test_asgi_tracing.py`` checks the whole span against the
middleware of the pinned version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

logger = logging.getLogger(__name__)

_MISSING = object()


class AttributesSetAfterStartSampler(Sampler):
    """``inner``'s decision and trace state; the span starts without the ``attributes`` its
    caller passed (attributes ``inner`` added of its own are kept).

    Only for callers that set the same attributes on the span right after starting it, as
    the ASGI middleware does. Never raises more than ``inner`` does.
    """

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        result = self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if not attributes or not result.attributes:
            return result
        own = {
            key: value
            for key, value in result.attributes.items()
            if attributes.get(key, _MISSING) is not value
        }
        return SamplingResult(result.decision, own or None, result.trace_state)

    def get_description(self) -> str:
        return f"AttributesSetAfterStart{{{self.inner.get_description()}}}"


def asgi_tracer_provider(provider: object) -> TracerProvider | None:
    """A provider sharing ``provider``'s processors, resource, ids and limits, with
    ``AttributesSetAfterStartSampler`` around its sampler; None if ``provider`` is not an SDK
    ``TracerProvider``. Never raises."""
    if not isinstance(provider, TracerProvider):
        return None
    try:
        processors = provider._active_span_processor
        limits = getattr(provider, "_span_limits", None)
        return TracerProvider(
            sampler=AttributesSetAfterStartSampler(provider.sampler),
            resource=provider.resource,
            shutdown_on_exit=False,  # the processors are ``provider``'s to shut down
            active_span_processor=processors,
            id_generator=provider.id_generator,
            span_limits=limits if isinstance(limits, SpanLimits) else None,
        )
    except Exception:
        logger.exception("max_otel: could not build the ASGI tracer provider; using the global one")
        return None
