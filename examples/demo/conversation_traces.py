"""Drive the sample service's conversations one customer at a time, then find their traces.

Each customer's conversation (``max_service.traffic``) runs alone, with its time window
recorded, followed by an agent-console lookup carrying the customer's PII
(:func:`demo.seeded_pii.console_lookup`). Afterwards, for each conversation, Jaeger's API gives:

- ``inbound``: the trace of the first WhatsApp message, the spec's "Inbound Message" flow
  (webhook → database → triage task → worker). The webhook names no conversation (the API
  finds or creates it while handling the message), so this trace is found by operation and
  time window;
- ``tagged``: every trace with a span tagged ``conversation_id=<id>`` (agent reply and its
  worker task, reads, close, the console lookup).

::

    runs = drive_conversations(service_url, webhook_secret)
    found = wait_until_settled(JaegerApi(jaeger_url), runs, timeout=45)
    for item in found:
        print(item.run.conversation_id, item.inbound.trace_id, len(item.tagged))
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from demo.jaeger_api import JaegerApi, JaegerTrace
from demo.seeded_pii import console_lookup
from demo.trace_checks import CONVERSATION_ID
from max_service import traffic
from max_service.traffic import CUSTOMERS, Customer

API_SERVICE = "core-api"
WORKER_SERVICE = "core-worker"
INBOUND_OPERATION = "POST /webhooks/whatsapp"

_POLL_SECONDS = 1.0
_WINDOW_SLACK_US = 1_000_000


@dataclass(frozen=True)
class ConversationRun:
    """One customer's conversation and the time window (µs since the epoch) it ran in."""

    customer: Customer
    conversation_id: str
    start_us: int
    end_us: int


@dataclass(frozen=True)
class ConversationTraces:
    """What Jaeger stored for one conversation (see the module docstring)."""

    run: ConversationRun
    inbound: JaegerTrace | None
    tagged: tuple[JaegerTrace, ...]

    @property
    def span_count(self) -> int:
        inbound = len(self.inbound.spans) if self.inbound else 0
        return inbound + sum(len(trace.spans) for trace in self.tagged)

    def complete(self, worker_service: str = WORKER_SERVICE) -> bool:
        """True once both the inbound flow and a tagged trace reached the worker."""
        return (
            self.inbound is not None
            and worker_service in self.inbound.services
            and any(worker_service in trace.services for trace in self.tagged)
        )


def _now_us() -> int:
    return time.time_ns() // 1000


def drive_conversations(
    base_url: str, secret: str, customers: Sequence[Customer] = CUSTOMERS
) -> list[ConversationRun]:
    """Run each customer's conversation, then a console lookup; raise on any HTTP error."""
    runs: list[ConversationRun] = []
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        for customer in customers:
            start = _now_us()
            (conversation_id,) = traffic.drive_conversations(base_url, secret, customers=[customer])
            console_lookup(client, conversation_id, customer)
            runs.append(ConversationRun(customer, conversation_id, start, _now_us()))
    return runs


def find_conversation_traces(
    jaeger: JaegerApi, run: ConversationRun, api_service: str = API_SERVICE
) -> ConversationTraces:
    """Query Jaeger for ``run``'s inbound trace and its conversation_id-tagged traces."""
    start_us, end_us = run.start_us, run.end_us + _WINDOW_SLACK_US
    inbound = jaeger.find_traces(
        api_service, operation=INBOUND_OPERATION, start_us=start_us, end_us=end_us
    )
    tagged = jaeger.find_traces(
        api_service,
        tags={CONVERSATION_ID: run.conversation_id},
        start_us=start_us,
        end_us=end_us,
        limit=1000,
    )
    first = min(inbound, key=lambda trace: trace.root().start_us, default=None)
    by_start = sorted(tagged, key=lambda trace: trace.root().start_us)
    return ConversationTraces(run, first, tuple(by_start))


def wait_until_settled(
    jaeger: JaegerApi,
    runs: Sequence[ConversationRun],
    timeout: float,
    api_service: str = API_SERVICE,
    worker_service: str = WORKER_SERVICE,
) -> list[ConversationTraces]:
    """Poll until every conversation is :meth:`~ConversationTraces.complete` and no new span
    arrived since the previous poll; return what was found then.

    Raises TimeoutError (naming the incomplete conversations) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    previous: list[int] | None = None
    while True:
        found = [find_conversation_traces(jaeger, run, api_service) for run in runs]
        counts = [item.span_count for item in found]
        if all(item.complete(worker_service) for item in found) and counts == previous:
            return found
        previous = counts
        if time.monotonic() > deadline:
            incomplete = [
                f"{item.run.conversation_id} (inbound: "
                f"{sorted(item.inbound.services) if item.inbound else 'not found'}, "
                f"{len(item.tagged)} tagged traces)"
                for item in found
                if not item.complete(worker_service)
            ]
            raise TimeoutError(
                f"traces not complete in Jaeger after {timeout:.0f}s: {incomplete or counts}"
            )
        time.sleep(_POLL_SECONDS)


__all__ = [
    "API_SERVICE",
    "INBOUND_OPERATION",
    "WORKER_SERVICE",
    "ConversationRun",
    "ConversationTraces",
    "drive_conversations",
    "find_conversation_traces",
    "wait_until_settled",
]
