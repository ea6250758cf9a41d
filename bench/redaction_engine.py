"""Throughput of the redaction engine, against a plain ``dict(attrs)`` copy in the same run.

    .venv/bin/python bench/redaction_engine.py            # about 10 s
    .venv/bin/python bench/redaction_engine.py --seconds 0.5

Prints, per case, microseconds per 20-attribute map, maps per second and the ratio to the
baseline copy; then the pre-filter's MB/s on clean and PII-bearing text. Times are CPU time
of this process (``time.process_time``), so other work on a shared machine inflates them
less than wall time would; one core, one thread. Compare ratios, not absolute numbers.

Cases: ``clean`` (nothing to redact), ``typical`` (a WhatsApp message span: phone and
message body under their keys, an email in an exception message), ``pii-heavy`` (eight
PII values, in URL, SQL, free text, a bearer token and a card number).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from max_otel.processors.redaction import PseudonymKey, RedactionHits, Redactor, load_rules

CLEAN: dict[str, object] = {
    "conversation_id": "5f0c6b1e-8d7a-4c5e-9b1f-3a2d4c6e8f00",
    "team_id": "team-4821",
    "http.request.method": "POST",
    "http.route": "/v1/conversations/{conversation_id}/messages",
    "url.full": "https://api.max.example/v1/conversations/5f0c6b1e/messages?limit=20",
    "http.response.status_code": 201,
    "server.address": "api.max.example",
    "server.port": 443,
    "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
    "network.protocol.version": "1.1",
    "max.channel": "whatsapp",
    "max.message.direction": "outbound",
    "max.message.type": "template",
    "max.template.name": "order_shipped_v3",
    "max.agent.kind": "ai",
    "max.tool.name": "lookup_order",
    "max.order.reference": "ORD-123456789012",
    "max.retry": False,
    "max.latency_ms": 41.5,
    "service.version": "2.14.1",
}
PII: dict[str, object] = {
    **CLEAN,
    "max.customer.phone": "+14155550123",
    "email": "ana.silva@example.com",
    "message.body": "Hi, my order ORD-123456789012 has not arrived yet",
    "url.full": "https://api.max.example/v1/customers/+14155550123/messages?token=abc123",
    "db.statement": "SELECT * FROM contacts WHERE phone = '+14155550123' LIMIT 1",
    "exception.message": "lookup failed for ana.silva@example.com (+44 20 7946 0958)",
    "http.request.header.authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "max.note": "card 4111 1111 1111 1111 on file",
}
PII = dict(list(PII.items())[-20:])
TYPICAL: dict[str, object] = {
    **CLEAN,
    "max.customer.phone": "+14155550123",
    "message.body": "Hi, my order ORD-123456789012 has not arrived yet",
    "exception.message": "no contact for ana.silva@example.com",
}
TYPICAL = dict(list(TYPICAL.items())[-20:])


def measure(function: Callable[[], object], seconds: float) -> float:
    """CPU seconds per call, best of three rounds of about ``seconds / 3`` each."""
    calls = 1
    while True:
        start = time.process_time()
        for _ in range(calls):
            function()
        elapsed = time.process_time() - start
        if elapsed > 0.05:
            break
        calls *= 2
    rounds = []
    per_round = max(1, int(calls * (seconds / 3) / elapsed))
    for _ in range(3):
        start = time.process_time()
        for _ in range(per_round):
            function()
        rounds.append((time.process_time() - start) / per_round)
    return min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per case")
    args = parser.parse_args()
    redactor = Redactor(load_rules(), PseudonymKey(b"bench-secret-0123456789abcdef0123", "k1"))
    assert len(CLEAN) == len(TYPICAL) == len(PII) == 20
    baseline = measure(lambda: dict(CLEAN), args.seconds)
    print(f"baseline dict(attrs) copy: {baseline * 1e6:8.2f} us/map")
    for name, attributes in (("clean", CLEAN), ("typical", TYPICAL), ("pii-heavy", PII)):

        def redact(attributes: dict[str, object] = attributes) -> object:
            return redactor.redact_attributes(attributes, RedactionHits())

        cost = measure(redact, args.seconds)
        hits = RedactionHits()
        redactor.redact_attributes(attributes, hits)
        print(
            f"redact_attributes {name:<9}: {cost * 1e6:8.2f} us/map  {1 / cost:10.0f} maps/s  "
            f"{cost / baseline:6.1f}x baseline  ({sum(hits.values())} redactions/map)"
        )
    clean_text = ("GET /v1/conversations/5f0c6b1e/messages status=201 latency=41ms " * 64).encode()
    pii_text = clean_text[:-64] + b" phone +14155550123 " + b"x" * 44
    for name, data in (("clean", clean_text), ("pii-at-end", pii_text)):

        def prefilter(data: bytes = data) -> object:
            return redactor.might_contain_pii(data)

        def copy_bytes(data: bytes = data) -> object:
            return bytes(bytearray(data))

        cost = measure(prefilter, args.seconds)
        copy = measure(copy_bytes, args.seconds)
        print(
            f"might_contain_pii {name:<10}: {len(data) / cost / 1e6:8.1f} MB/s on {len(data)} B "
            f"({cost / copy:5.1f}x a bytes copy) -> {redactor.might_contain_pii(data)}"
        )


if __name__ == "__main__":
    main()
