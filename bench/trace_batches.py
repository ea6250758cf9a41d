"""The benchmark's OTLP trace batches: 512 spans of about 20 attributes, some with PII.

::

    make_batch(seed, pii_every=20)                     # 1 span in 20 carries PII
    make_batch(seed, pii_every=1, distinct_pii=True)   # every span, values unique to seed

A span with PII has an ``exception.message`` naming a phone number and an email address in
free text. By default the values depend on the span's index only, so every batch repeats
the same customers (as one conversation's spans repeat its customer's number); with
``distinct_pii`` they depend on the seed too, so no two batches share a value.
"""

from __future__ import annotations

import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SPANS_PER_BATCH = 512


def _attributes(
    rng: random.Random, index: int, customer: tuple[int, int] | None
) -> dict[str, object]:
    conversation = f"{rng.getrandbits(64):016x}"
    attributes: dict[str, object] = {
        "http.request.method": "POST",
        "http.route": "/v1/conversations/{conversation_id}/messages",
        "url.full": f"https://api.max.example/v1/conversations/{conversation}/messages?page=2",
        "url.scheme": "https",
        "server.address": "api.max.example",
        "server.port": 443,
        "network.protocol.version": "1.1",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) MaxApp/4.2",
        "http.response.status_code": 200,
        "conversation_id": conversation,
        "team_id": "sales",
        "agent_id": f"agent-{index % 40}",
        "channel": "whatsapp",
        "db.system": "postgresql",
        "http.request.body.size": 512,
        "messaging.system": "redis",
        "code.function": "assign_conversation",
        "code.namespace": "max.conversations.routing",
        "retry.attempt": 0,
        "feature.flags": "routing-v2,ai-summaries",
    }
    if customer is not None:
        number, mailbox = customer
        phone = f"+44 7{number // 1_000_000 % 1000:03d} {number % 1_000_000:06d}"
        attributes["exception.message"] = (
            f"delivery failed for customer {phone} "
            f"(contact alex.morgan{mailbox}@example.com), will retry"
        )
    return attributes


def _customer(seed: int, index: int, distinct_pii: bool) -> tuple[int, int]:
    """(phone number, mailbox number) of span ``index``'s customer: unique to (seed, index)
    when ``distinct_pii``, else to ``index``."""
    if distinct_pii:
        unique = seed * SPANS_PER_BATCH + index
        return 700_000_000 + unique, unique
    return 700_900_000 + index % 1000, index


def make_batch(seed: int, pii_every: int, distinct_pii: bool = False) -> bytes:
    """A serialized 512-span request; every ``pii_every``-th span carries PII in free text."""
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (("service.name", "core-api"), ("deployment.environment", "bench")):
        resource_spans.resource.attributes.add(key=key).value.string_value = value
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "opentelemetry.instrumentation.fastapi"
    scope_spans.scope.version = "0.66b1"
    for index in range(SPANS_PER_BATCH):
        span = scope_spans.spans.add()
        span.trace_id = rng.randbytes(16)
        span.span_id = rng.randbytes(8)
        span.parent_span_id = rng.randbytes(8)
        span.name = "POST /v1/conversations/{conversation_id}/messages"
        span.kind = 2
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + index * 1000
        span.end_time_unix_nano = span.start_time_unix_nano + 4_500_000
        customer = _customer(seed, index, distinct_pii) if index % pii_every == 0 else None
        for key, item in _attributes(rng, index, customer).items():
            target = span.attributes.add(key=key).value
            if isinstance(item, int):
                target.int_value = item
            else:
                target.string_value = str(item)
    return request.SerializeToString()
