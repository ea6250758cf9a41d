"""Faults on the real pipeline: nothing the collector accepted is lost, nothing leaks.

Each test starts its own stack (Jaeger, Prometheus, the redaction processor, otelcol-max on
free ports), sends spans full of PII through the SDK's OTLP exporter, as a service does
(``SpanSender``), breaks one part, repairs it, and then compares the ids of the spans the
collector accepted with the ids Jaeger stores, and searches everything Jaeger stored for the
PII.

Waits: a batch waits up to 1 s in each stage's batch processor; a failed export is retried
after 1 s, doubling up to 10 s (plus jitter), so after a repair delivery resumes within
about 15 s. Jaeger is polled until every span is there, with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from demo.jaeger_api import JaegerApi, stored_text, wait_for
from demo.seeded_pii import find_seeded
from max_otel.cli._stack_health import http_ok
from max_otel.cli.stack import LocalStack
from tests.e2e.conftest import SpanId, SpanSender, restart, stored_span_ids, stored_traces

pytestmark = pytest.mark.e2e

_ARRIVAL_TIMEOUT = 45.0

StackFactory = Callable[..., LocalStack]
SenderFactory = Callable[[str, str], SpanSender]


def _wait_until_all_stored(jaeger: JaegerApi, sender: SpanSender) -> set[SpanId]:
    """Poll Jaeger until it has every span the collector accepted; return what it has."""
    expected = sender.accepted

    def stored() -> set[SpanId] | None:
        found = stored_span_ids(stored_traces(jaeger, sender.service_name))
        return found if expected <= found else None

    try:
        return wait_for(stored, _ARRIVAL_TIMEOUT, interval=1.0)
    except TimeoutError:
        found = stored_span_ids(stored_traces(jaeger, sender.service_name))
        pytest.fail(
            f"{len(expected - found)} of {len(expected)} accepted spans never reached Jaeger "
            f"within {_ARRIVAL_TIMEOUT:.0f}s"
        )


def _assert_nothing_leaked(jaeger: JaegerApi, sender: SpanSender) -> None:
    traces = stored_traces(jaeger, sender.service_name)
    assert find_seeded(stored_text(traces)) == []
    phones = {str(s.tags.get("customer.phone")) for t in traces for s in t.spans}
    assert phones and all(p.startswith("phone:") for p in phones), sorted(phones)[:3]


def _collector_retried(stack: LocalStack, exporter: str) -> bool:
    """True when the collector logged a failed export of ``exporter`` that it will retry:
    the fault really met traffic."""
    log_path = stack.component("collector").log_path
    assert log_path is not None
    return any(
        "Will retry" in line and f'"otelcol.component.id": "{exporter}"' in line
        for line in log_path.read_text(errors="replace").splitlines()
    )


def _assert_everything_accepted(sender: SpanSender) -> None:
    assert sender.rejected == 0
    assert len(sender.accepted) == sender.sent


def test_processor_killed_mid_traffic_loses_nothing_and_leaks_nothing(
    stack_factory: StackFactory, span_sender: SenderFactory
) -> None:
    stack = stack_factory()
    jaeger = JaegerApi(stack.layout.jaeger_url)
    sender = span_sender(stack.layout.collector_grpc, "fault-processor-killed")
    sending = sender.send_in_background(traces=40, spans_per_trace=5, seconds=5.0)
    time.sleep(2.0)
    stack.component("processor").kill()
    time.sleep(2.0)
    restart(stack, "processor")
    sending.join()
    sender.flush()
    _assert_everything_accepted(sender)
    assert _collector_retried(stack, "otlp_grpc/redaction")

    stored = _wait_until_all_stored(jaeger, sender)

    assert stored == sender.accepted
    _assert_nothing_leaked(jaeger, sender)


def test_spans_sent_while_jaeger_is_down_arrive_after_it_returns(
    stack_factory: StackFactory, span_sender: SenderFactory
) -> None:
    """Jaeger keeps traces in memory, so only the spans sent during the outage are checked:
    they wait in the collector's queue and are delivered once Jaeger is back."""
    stack = stack_factory()
    jaeger = JaegerApi(stack.layout.jaeger_url)
    stack.component("jaeger").stop()
    assert not http_ok(f"{stack.layout.jaeger_url}/api/services")
    sender = span_sender(stack.layout.collector_grpc, "fault-jaeger-down")
    sender.send(traces=30, spans_per_trace=4, seconds=3.0)
    sender.flush()
    _assert_everything_accepted(sender)
    time.sleep(3.0)  # past both batch timeouts: the spans now wait for Jaeger
    assert _collector_retried(stack, "otlp_grpc/jaeger")
    restart(stack, "jaeger")

    stored = _wait_until_all_stored(jaeger, sender)

    assert stored == sender.accepted
    _assert_nothing_leaked(jaeger, sender)


def test_collector_restart_keeps_what_its_persistent_queue_held(
    stack_factory: StackFactory, span_sender: SenderFactory
) -> None:
    """With the processor down, accepted spans wait in the ingress queue on disk; the
    collector is restarted (SIGTERM) with them there, then the processor comes back."""
    stack = stack_factory()
    jaeger = JaegerApi(stack.layout.jaeger_url)
    stack.component("processor").stop()
    sender = span_sender(stack.layout.collector_grpc, "fault-collector-restart")
    sender.send(traces=30, spans_per_trace=4, seconds=3.0)
    sender.flush()
    _assert_everything_accepted(sender)
    time.sleep(2.0)  # past the ingress batch timeout: the spans are in the sending queue
    queue_dir = stack.layout.state_dir / "queue"
    assert any(queue_dir.iterdir()), "the ingress sending queue is not on disk"
    assert _collector_retried(stack, "otlp_grpc/redaction")

    stack.component("collector").stop()
    restart(stack, "collector")
    restart(stack, "processor")

    stored = _wait_until_all_stored(jaeger, sender)

    assert stored == sender.accepted
    _assert_nothing_leaked(jaeger, sender)
