"""Throughput of the redaction engine, against a plain ``dict(attrs)`` copy in the same run.

    .venv/bin/python bench/redaction_engine.py                      # about 25 s
    .venv/bin/python bench/redaction_engine.py --seconds 0.5
    .venv/bin/python bench/redaction_engine.py --baseline-ref HEAD  # about 50 s

Prints, per case, microseconds per call and the ratio to the ``dict(attrs)`` copy: the
20-attribute maps of ``redact_attributes``; the calls the OTLP service makes on a suspicious
span (``redact_value`` on one value, ``might_contain_pii_many`` over a span's serialised
attributes); the pre-filter's MB/s on 4 KB of clean and PII-bearing text.

``--baseline-ref REF`` also loads the engine as it is at git ``REF`` (its files, under
another package name) and measures both, alternating rounds, so each line ends with the
speed-up of this working tree over ``REF`` measured in the same run.

Times are CPU time of this process (``time.process_time``), best of three rounds, so other
work on a shared machine inflates them less than wall time would; one core, one thread.
Compare ratios, not absolute numbers.

Map cases: ``clean`` (nothing to redact), ``typical`` (a WhatsApp message span: phone and
message body under their keys, an email in an exception message), ``pii-heavy`` (nine
redactions: phone, email and message body under their keys, an SQL statement with two
literals, an exception message with an email and a phone, a bearer token, a card number
in a note). ``free text, new PII`` is the value that sizes the OTLP processor's budget: an
``exception.message`` with a phone and an email never seen before (new digits on every call,
so neither the pseudonym caches nor the scan's cached DFA states for those digits can help);
``redact_text log line, new PII`` is the same for a log line holding a ``:`` (scanned with
the key patterns too). The other value cases repeat one value.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

import max_otel.processors.redaction as engine

ROOT = Path(__file__).resolve().parent.parent
ENGINE_DIR = "processors/max_otel/processors/redaction"
SECRET = b"bench-secret-0123456789abcdef0123"

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
VALUES: dict[str, tuple[str, str]] = {
    "free text, 2 PII": (
        "exception.message",
        "delivery failed for customer +44 7700 900123 (contact alex.morgan@example.com)",
    ),
    "SQL with literals": (
        "db.statement",
        "SELECT * FROM contacts WHERE phone = '+14155550123' LIMIT 1",
    ),
    "SQL parameterised": (
        "db.statement",
        "SELECT c.id, c.team_id FROM conversations c WHERE c.id = %(id_1)s::UUID LIMIT %(param_1)s",
    ),
    "URL with PII": (
        "url.full",
        "https://api.max.example/v1/customers/+14155550123/messages?token=abc123",
    ),
    "phone under its key": ("max.customer.phone", "+14155550123"),
    "clean short text": ("max.channel", "whatsapp"),
}


def key_values(attributes: dict[str, object]) -> list[bytes]:
    """Each attribute as a serialised OTLP ``KeyValue``, as the service's walker sees it."""
    out = []
    for key, value in attributes.items():
        if isinstance(value, bool):
            any_value = AnyValue(bool_value=value)
        elif isinstance(value, int):
            any_value = AnyValue(int_value=value)
        elif isinstance(value, float):
            any_value = AnyValue(double_value=value)
        else:
            any_value = AnyValue(string_value=str(value))
        out.append(KeyValue(key=key, value=any_value).SerializeToString())
    return out


AnyRedactor = Any
"""A ``Redactor`` of this tree or of the baseline ref (another package, the same API)."""
Make = Callable[[AnyRedactor], Callable[[], object]]
"""Given a redactor, the call to time."""


class Case:
    """One line of output: ``label``, ``unit`` ("map", "value", "call" or "MB/s" on a
    4096-byte text), how to ``make`` the call, and ``note(redactor)``: what it did."""

    def __init__(
        self, label: str, unit: str, make: Make, note: Callable[[AnyRedactor], str]
    ) -> None:
        self.label, self.unit, self.make, self.note = label, unit, make, note


def cases() -> list[Case]:
    out: list[Case] = []
    for name, attributes in (("clean", CLEAN), ("typical", TYPICAL), ("pii-heavy", PII)):
        out.append(Case(f"redact_attributes {name}", "map", *_map_case(attributes)))
    for name, (key, value) in VALUES.items():
        out.append(Case(f"redact_value {name}", "value", *_value_case(key, value)))
    out.append(
        Case("redact_value free text, new PII", "value", _new_customer, lambda _: "2 redactions")
    )
    out.append(Case("redact_text log line, new PII", "call", _new_log_line, _new_log_note))
    for name, attributes in (("clean", CLEAN), ("typical", TYPICAL)):
        chunks = key_values(attributes)
        out.append(Case(f"might_contain_pii_many {name} KVs", "call", *_many_case(chunks)))
    clean_text = ("GET /v1/conversations/5f0c6b1e/messages status=201 latency=41ms " * 64).encode()
    pii_text = clean_text[:-64] + b" phone +14155550123 " + b"x" * 44
    for name, data in (("clean", clean_text), ("pii-at-end", pii_text)):
        out.append(Case(f"might_contain_pii {name}", "MB/s", *_prefilter_case(data)))
    return out


def _map_case(attributes: dict[str, object]) -> tuple[Make, Callable[[AnyRedactor], str]]:
    def make(redactor: AnyRedactor) -> Callable[[], object]:
        return lambda: redactor.redact_attributes(attributes, engine.RedactionHits())

    def note(redactor: AnyRedactor) -> str:
        hits = engine.RedactionHits()
        redactor.redact_attributes(attributes, hits)
        return f"{sum(hits.values())} redactions"

    return make, note


def _value_case(key: str, value: str) -> tuple[Make, Callable[[AnyRedactor], str]]:
    def make(redactor: AnyRedactor) -> Callable[[], object]:
        return lambda: redactor.redact_value(key, value, engine.RedactionHits())

    def note(redactor: AnyRedactor) -> str:
        hits = engine.RedactionHits()
        redactor.redact_value(key, value, hits)
        return f"{sum(hits.values())} redactions"

    return make, note


def _new_customer(redactor: AnyRedactor) -> Callable[[], object]:
    numbers = itertools.count(100_000)

    def call() -> object:
        number = next(numbers)
        text = (
            f"delivery failed for customer +44 7700 {number} "
            f"(contact alex.morgan{number}@example.com), will retry"
        )
        return redactor.redact_value("exception.message", text, engine.RedactionHits())

    return call


def _log_line(number: int) -> str:
    return f"send failed: to=+44 7700 {number} from alex.morgan{number}@example.com, retrying"


def _new_log_line(redactor: AnyRedactor) -> Callable[[], object]:
    numbers = itertools.count(100_000)
    return lambda: redactor.redact_text(_log_line(next(numbers)), engine.RedactionHits())


def _new_log_note(redactor: AnyRedactor) -> str:
    hits = engine.RedactionHits()
    redactor.redact_text(_log_line(100_000), hits)
    return f"{sum(hits.values())} redactions"


def _many_case(chunks: list[bytes]) -> tuple[Make, Callable[[AnyRedactor], str]]:
    def make(redactor: AnyRedactor) -> Callable[[], object]:
        return lambda: redactor.might_contain_pii_many(chunks)

    def note(redactor: AnyRedactor) -> str:
        found = redactor.might_contain_pii_many(chunks)
        return f"20 KeyValues, {sum(map(len, chunks))} B, {len(found)} suspicious"

    return make, note


def _prefilter_case(data: bytes) -> tuple[Make, Callable[[AnyRedactor], str]]:
    def make(redactor: AnyRedactor) -> Callable[[], object]:
        return lambda: redactor.might_contain_pii(data)

    return make, lambda redactor: f"-> {redactor.might_contain_pii(data)}"


def calibrate(function: Callable[[], object], seconds: float) -> int:
    """Calls per round so that three rounds take about ``seconds``."""
    calls = 1
    while True:
        start = time.process_time()
        for _ in range(calls):
            function()
        elapsed = time.process_time() - start
        if elapsed > 0.05:
            return max(1, int(calls * (seconds / 3) / elapsed))
        calls *= 2


def measure(functions: list[Callable[[], object]], seconds: float) -> list[float]:
    """CPU seconds per call of each function, best of three rounds; the functions take
    turns round by round, so load that comes and goes hits them alike."""
    per_round = calibrate(functions[0], seconds)
    best = [float("inf")] * len(functions)
    for _ in range(3):
        for index, function in enumerate(functions):
            start = time.process_time()
            for _ in range(per_round):
                function()
            best[index] = min(best[index], (time.process_time() - start) / per_round)
    return best


def engine_at(ref: str, into: Path) -> ModuleType:
    """The engine's package as it is at git ``ref``, imported as ``_engine_at_ref``."""
    listing = ["git", "ls-tree", "--name-only", ref, f"{ENGINE_DIR}/"]
    files = subprocess.run(listing, cwd=ROOT, capture_output=True, text=True, check=True)
    package = into / "_engine_at_ref"
    package.mkdir()
    for path in files.stdout.split():
        show = ["git", "show", f"{ref}:{path}"]
        content = subprocess.run(show, cwd=ROOT, capture_output=True, check=True).stdout
        if path.endswith(".py"):
            content = content.replace(b"max_otel.processors.redaction", b"_engine_at_ref")
        (package / Path(path).name).write_bytes(content)
    sys.path.insert(0, str(into))
    return importlib.import_module("_engine_at_ref")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per case")
    parser.add_argument("--baseline-ref", help="also measure the engine at this git ref")
    args = parser.parse_args()
    assert len(CLEAN) == len(TYPICAL) == len(PII) == 20
    engines = [engine]
    with tempfile.TemporaryDirectory() as scratch:
        if args.baseline_ref:
            engines.append(engine_at(args.baseline_ref, Path(scratch)))
        redactors = [
            module.Redactor(module.load_rules(), module.PseudonymKey(SECRET, "k1"))
            for module in engines
        ]
        (copy,) = measure([lambda: dict(CLEAN)], args.seconds)
        print(f"baseline dict(attrs) copy: {copy * 1e6:8.2f} us/map")
        for case in cases():
            times = measure([case.make(redactor) for redactor in redactors], args.seconds)
            print(_line(case, times, copy, case.note(redactors[0])))


def _line(case: Case, times: list[float], copy: float, note: str) -> str:
    now = times[0]
    if case.unit == "MB/s":
        line = f"{case.label:<34}: {4096 / now / 1e6:8.1f} MB/s {note}"
    else:
        unit = f"us/{case.unit}"
        line = f"{case.label:<34}: {now * 1e6:8.2f} {unit:<8} {now / copy:6.0f}x copy  ({note})"
    if len(times) > 1 and case.unit == "MB/s":
        line += f"  | at ref {4096 / times[1] / 1e6:6.1f} MB/s: now x{times[1] / now:.2f} as fast"
    elif len(times) > 1:
        line += f"  | at ref {times[1] * 1e6:7.2f} us: now x{times[1] / now:.2f} as fast"
    return line


if __name__ == "__main__":
    main()
