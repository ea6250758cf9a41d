"""Copies of ended spans with some parts replaced, keeping what the SDK's limits dropped.

``ReadableSpan.attributes`` is a read-only view and ``events``/``links`` are tuples: a copy
built from them reports no dropped attributes, events or links, and OTLP would tell the
backend nothing was dropped. ``span_copy`` carries the counts over::

    copy = span_copy(span, attributes={**span.attributes, "conversation_id": value})

Contract: every part not given is the span's own; ``dropped_attributes``,
``dropped_events`` and ``dropped_links`` of the copy equal the span's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import Attributes, AttributeValue

_Item = TypeVar("_Item", Event, Link)


def span_copy(
    span: ReadableSpan,
    *,
    name: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    events: Sequence[Event] | None = None,
    links: Sequence[Link] | None = None,
    status: Status | None = None,
    resource: Resource | None = None,
) -> ReadableSpan:
    """``span`` with the given parts replaced and its dropped counts kept."""
    return ReadableSpan(
        name=span.name if name is None else name,
        context=span.context,
        parent=span.parent,
        resource=span.resource if resource is None else resource,
        attributes=_counted_attributes(
            span.attributes if attributes is None else attributes, span.dropped_attributes
        ),
        events=_counted(span.events if events is None else events, span.dropped_events),
        links=_counted(span.links if links is None else links, span.dropped_links),
        kind=span.kind,
        status=span.status if status is None else status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _counted_attributes(attributes: Attributes, dropped: int) -> Attributes:
    if not dropped:
        return attributes
    bounded = BoundedAttributes(maxlen=None, attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded


def _counted(items: Sequence[_Item], dropped: int) -> Sequence[_Item]:
    if not dropped:
        return items
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded
