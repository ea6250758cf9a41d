"""The distro and configurator in a real process under ``opentelemetry-instrument``, exporting
over OTLP/gRPC to a test receiver: redaction, conversation_id, JSON logs, fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from max_otel.processors.redaction import PseudonymKey
from tests.support.crm_endpoint import CrmEndpoint
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

KEY = "integration-test-pseudonym-key-0123456789"
CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"
PHONE = "+5511987654321"
PSEUDONYM = PseudonymKey(KEY.encode(), "k1").pseudonymise("phone", PHONE)
BIN = Path(sys.executable).parent

SCRIPT = textwrap.dedent(
    f"""
    import logging, os
    from opentelemetry import metrics, trace
    from max_otel.instrumentation import Events, conversation, emit
    from max_otel.instrumentation.exit_flush import flush_telemetry

    tracer = trace.get_tracer("script")
    counter = metrics.get_meter("script").create_counter("script.runs")
    with tracer.start_as_current_span("work") as span:
        span.set_attribute("customer.phone", "{PHONE}")
        with conversation("{CID}"):
            emit(Events.MESSAGE_RECEIVED, phone="{PHONE}", message_content="hello there")
            with tracer.start_as_current_span("db"):
                pass
    if os.environ.get("CRM_URL"):
        import httpx, requests
        with conversation("{CID}", team_id="sales"):
            httpx.post(os.environ["CRM_URL"], json={{"client": "httpx"}})
            requests.post(os.environ["CRM_URL"], json={{"client": "requests"}})
    if os.environ.get("FORK_CHILD"):
        pid = os.fork()
        if pid == 0:
            with tracer.start_as_current_span("in-child"):
                logging.getLogger("child").warning("child says hi")
                counter.add(1)
            flush_telemetry()
            os._exit(0)
        os.waitpid(pid, 0)
    """
)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def run_instrumented(receiver: OtlpReceiver, **env: str | None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MAX_"))}
    environment.update(
        PATH=f"{BIN}{os.pathsep}{environment.get('PATH', '')}",
        OTEL_PYTHON_DISTRO="max_otel",
        OTEL_SERVICE_NAME="script",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="60000",
        MAX_OTEL_PSEUDONYM_KEY=KEY,
    )
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        ["opentelemetry-instrument", "python", "-c", SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_spans_logs_and_stdout_are_redacted_and_carry_the_conversation(
    receiver: OtlpReceiver,
) -> None:
    result = run_instrumented(receiver)
    spans = {span.name: span for span in receiver.spans()}
    assert spans["work"].attributes["customer.phone"] == PSEUDONYM
    assert spans["work"].attributes["conversation_id"] == CID
    assert spans["db"].attributes["conversation_id"] == CID
    assert spans["work"].resource["deployment.environment.name"] == "development"
    (record,) = [r for r in receiver.log_records() if r.event_name == "message.received"]
    assert record.body == "message.received"
    assert record.attributes["phone"] == PSEUDONYM
    assert record.attributes["message_content"] == "<11 chars>"
    assert record.attributes["conversation_id"] == CID
    assert record.trace_id == spans["work"].trace_id
    (line,) = [line for line in json_lines(result.stdout) if line["event"] == "message.received"]
    assert line["phone"] == PSEUDONYM
    assert line["conversation_id"] == CID
    assert line["trace_id"] == spans["work"].trace_id
    assert line["service"] == "script"
    everything = result.stdout + result.stderr + repr(receiver.requests())
    assert PHONE not in everything and "hello there" not in everything


def test_span_redaction_can_be_left_to_the_collector(receiver: OtlpReceiver) -> None:
    run_instrumented(receiver, MAX_OTEL_REDACT_SPANS="false")
    spans = {span.name: span for span in receiver.spans()}
    assert spans["work"].attributes["customer.phone"] == PHONE
    (record,) = [r for r in receiver.log_records() if r.event_name == "message.received"]
    assert record.attributes["phone"] == PSEUDONYM


def test_missing_pseudonym_key_masks_and_warns_once(receiver: OtlpReceiver) -> None:
    result = run_instrumented(receiver, MAX_OTEL_PSEUDONYM_KEY=None)
    spans = {span.name: span for span in receiver.spans()}
    assert spans["work"].attributes["customer.phone"] == "***"
    warnings = [line for line in result.stderr.splitlines() if "pseudonym key" in line]
    assert len(warnings) == 1
    assert "masked instead of pseudonymised until MAX_OTEL_PSEUDONYM_KEY is set" in warnings[0]


def test_a_forked_child_exports_spans_logs_and_metrics_as_its_own_instance(
    receiver: OtlpReceiver,
) -> None:
    run_instrumented(receiver, FORK_CHILD="1")
    spans = {span.name: span for span in receiver.spans()}
    parent_instance = spans["work"].resource["service.instance.id"]
    child_instance = spans["in-child"].resource["service.instance.id"]
    assert child_instance != parent_instance
    (log,) = [r for r in receiver.log_records() if r.body == "child says hi"]
    assert log.resource["service.instance.id"] == child_instance
    assert log.trace_id == spans["in-child"].trace_id
    runs = [m for m in receiver.metrics() if m.name == "script.runs"]
    assert {m.resource["service.instance.id"] for m in runs} >= {child_instance}


def test_outbound_http_calls_carry_the_conversation_in_baggage(receiver: OtlpReceiver) -> None:
    with CrmEndpoint() as crm:
        run_instrumented(receiver, CRM_URL=crm.url)
        calls = {call.body["client"]: call for call in crm.calls}
    for client in ("httpx", "requests"):
        headers = calls[client].headers
        assert headers["baggage"] == f"conversation_id={CID},team_id=sales"
        trace_id = headers["traceparent"].split("-")[1]
        (span,) = [s for s in receiver.spans() if s.kind == "CLIENT" and s.trace_id == trace_id]
        assert span.attributes["conversation_id"] == CID
        assert span.attributes["team_id"] == "sales"
