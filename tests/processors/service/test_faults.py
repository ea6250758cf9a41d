"""The service under faults: next hop down, SIGTERM mid-traffic, broken rules, bad input."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from max_otel.processors.otlp.anyvalue import to_python
from tests.processors.service.next_hop import NextHop
from tests.processors.service.processor_process import (
    ProcessorProcess,
    processor_command,
    processor_environment,
)

pytestmark = pytest.mark.integration

_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_EXPORT_LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


@pytest.fixture
def next_hop() -> Iterator[NextHop]:
    with NextHop() as hop:
        yield hop


def _export(endpoint: str, payload: bytes, timeout: float = 20.0) -> bytes:
    """One raw ``TraceService/Export`` call; raises ``grpc.RpcError``."""
    with grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", -1)]) as channel:
        response: bytes = channel.unary_unary(_EXPORT)(payload, timeout=timeout)
        return response


def _request(count: int, note: str = "clean") -> bytes:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for index in range(count):
        span = scope_spans.spans.add(name=f"span {index}")
        span.trace_id = index.to_bytes(16, "big")
        span.span_id = (index + 1).to_bytes(8, "big")
        span.attributes.add(key="note").value.string_value = note
    return request.SerializeToString()


def _sdk_spans(count: int) -> tuple[ReadableSpan, ...]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("fault-test")
    for index in range(count):
        with tracer.start_as_current_span(f"work {index}"):
            pass
    return memory.get_finished_spans()


def test_next_hop_down_answers_unavailable_and_nothing_is_lost_when_it_returns(
    next_hop: NextHop,
) -> None:
    with ProcessorProcess(forward=next_hop.url, extra=["--forward-timeout", "2"]) as processor:
        next_hop.stop()
        with pytest.raises(grpc.RpcError) as raised:
            _export(processor.endpoint, _request(3))
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE

        exporter = OTLPSpanExporter(endpoint=processor.endpoint, insecure=True, timeout=30)
        spans = _sdk_spans(50)
        results: list[SpanExportResult] = []
        sender = threading.Thread(target=lambda: results.append(exporter.export(spans)))
        sender.start()
        time.sleep(1.5)  # the exporter is retrying against the processor meanwhile
        assert not next_hop.spans()
        next_hop.start()
        sender.join(timeout=40)
        exporter.shutdown()
    assert results == [SpanExportResult.SUCCESS]
    assert sorted(span.name for span in next_hop.spans()) == sorted(span.name for span in spans)


def test_next_hop_failure_codes_become_unavailable_except_invalid_argument(
    next_hop: NextHop,
) -> None:
    with ProcessorProcess(forward=next_hop.url) as processor:
        for code, expected in [
            (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE),
            (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE),
            (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INVALID_ARGUMENT),
        ]:
            next_hop.fail_with = code
            with pytest.raises(grpc.RpcError) as raised:
                _export(processor.endpoint, _request(1))
            assert raised.value.code() == expected, code


def test_the_next_hops_partial_success_reaches_the_caller(next_hop: NextHop) -> None:
    next_hop.rejected_spans = 2
    with ProcessorProcess(forward=next_hop.url) as processor:
        response = ExportTraceServiceResponse.FromString(_export(processor.endpoint, _request(5)))
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "some spans rejected"


def test_sigterm_finishes_in_flight_requests_then_exits_0(next_hop: NextHop) -> None:
    next_hop.delay = 2.0
    processor = ProcessorProcess(forward=next_hop.url, workers=2)
    with processor, ThreadPoolExecutor(max_workers=6) as pool:
        calls = [pool.submit(_export, processor.endpoint, _request(10)) for _ in range(6)]
        deadline = time.monotonic() + 10
        while next_hop.in_flight < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert next_hop.in_flight == 6
        processor.send_signal(signal.SIGTERM)
        assert processor.wait() == 0
        responses = [call.result(timeout=10) for call in calls]
    assert len(responses) == 6
    assert len(next_hop.spans()) == 60


def test_sighup_with_a_broken_rules_file_keeps_the_old_rules(
    next_hop: NextHop, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "sensitive_keys:\n  - name: notes\n    pattern: '^note$'\n    action: mask\n",
        encoding="utf-8",
    )
    extra = ["--rules", str(rules)]
    with ProcessorProcess(forward=next_hop.url, extra=extra, workers=2) as processor:
        _export(processor.endpoint, _request(1, note="ticket 8812"))
        rules.write_text("sensitive_keys: [ {name: notes, pattern: '(' ", encoding="utf-8")
        processor.send_signal(signal.SIGHUP)
        processor.wait_for_log("rules reload failed, keeping the previous rules")
        for _ in range(4):  # whichever worker answers
            _export(processor.endpoint, _request(1, note="ticket 8813"))
    notes = [to_python(span.attributes[0].value) for span in next_hop.spans()]
    assert notes == ["***"] * 5
    assert processor.log.count("rules reload failed") == 1


def test_sighup_with_a_valid_rules_file_applies_it_in_every_worker(
    next_hop: NextHop, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("keep_keys: [note]\n", encoding="utf-8")
    extra = ["--rules", str(rules)]
    with ProcessorProcess(forward=next_hop.url, extra=extra, workers=2) as processor:
        _export(processor.endpoint, _request(1, note="ticket 8812"))
        rules.write_text(
            "sensitive_keys:\n  - name: notes\n    pattern: '^note$'\n    action: mask\n",
            encoding="utf-8",
        )
        processor.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while processor.log.count("rules reloaded") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(4):
            _export(processor.endpoint, _request(1, note="ticket 8813"))
    notes = [to_python(span.attributes[0].value) for span in next_hop.spans()]
    assert notes == ["ticket 8812", "***", "***", "***", "***"]


def test_a_killed_worker_is_restarted_and_the_service_keeps_serving(next_hop: NextHop) -> None:
    with ProcessorProcess(forward=next_hop.url, workers=2) as processor:
        workers = processor.worker_pids()
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        processor.wait_for_log("restarting it")
        deadline = time.monotonic() + 10
        while len(processor.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processor.worker_pids()) == 2
        processor.wait_until_serving()
        for _ in range(4):
            _export(processor.endpoint, _request(1))
    assert processor.returncode == 0, processor.log
    assert len(next_hop.spans()) == 4


def test_a_port_in_use_exits_2_with_the_reason() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            processor_command("--listen", f"127.0.0.1:{port}", "--metrics-listen", ""),
            env=processor_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in finished.stderr


def test_malformed_protobuf_gets_invalid_argument_and_nothing_is_forwarded(
    next_hop: NextHop,
) -> None:
    with ProcessorProcess(forward=next_hop.url) as processor:
        for garbage in (b"\xff\xff\xff\xff", b"\x0a\x10short", b"\x0a\x02\x12\x05"):
            with pytest.raises(grpc.RpcError) as raised:
                _export(processor.endpoint, garbage)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        _export(processor.endpoint, _request(1))  # the worker is still fine
    assert len(next_hop.traces) == 1


def _nested_log_request(depth: int) -> bytes:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    value = record.body
    for _ in range(depth):
        value = value.kvlist_value.values.add(key="note").value
    value.string_value = "call +44 20 7946 0958"
    return request.SerializeToString()


def test_deep_nesting_is_bounded_and_never_crashes_a_worker(next_hop: NextHop) -> None:
    """Past protobuf's recursion limit: INVALID_ARGUMENT; within it: redacted and forwarded."""
    with ProcessorProcess(forward=next_hop.url) as processor, processor.channel() as channel:
        export_logs = channel.unary_unary(_EXPORT_LOGS)
        with pytest.raises(grpc.RpcError) as raised:
            export_logs(_nested_log_request(500), timeout=20)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        export_logs(_nested_log_request(30), timeout=20)
        processor.wait_until_serving()
    assert len(next_hop.logs) == 1
    assert b"7946" not in next_hop.logs[0].SerializeToString()


def test_oversized_request_gets_resource_exhausted(next_hop: NextHop) -> None:
    extra = ["--max-message-bytes", "4096"]
    with ProcessorProcess(forward=next_hop.url, extra=extra) as processor:
        with pytest.raises(grpc.RpcError) as raised:
            _export(processor.endpoint, _request(200))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        _export(processor.endpoint, _request(1))
    assert len(next_hop.traces) == 1


def test_health_service_answers_serving_for_each_otlp_service(next_hop: NextHop) -> None:
    with ProcessorProcess(forward=next_hop.url) as processor, processor.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in (
            "",
            "opentelemetry.proto.collector.trace.v1.TraceService",
            "opentelemetry.proto.collector.logs.v1.LogsService",
            "opentelemetry.proto.collector.metrics.v1.MetricsService",
        ):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING, service


def test_missing_pseudonym_key_exits_2_with_how_to_set_it() -> None:
    environment = processor_environment()
    del environment["MAX_OTEL_PSEUDONYM_KEY"]
    finished = subprocess.run(
        processor_command("--listen", "127.0.0.1:0", "--metrics-listen", ""),
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert "MAX_OTEL_PSEUDONYM_KEY" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_short_pseudonym_key_exits_2() -> None:
    finished = subprocess.run(
        processor_command("--metrics-listen", ""),
        env=processor_environment(MAX_OTEL_PSEUDONYM_KEY="too-short"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert "MAX_OTEL_PSEUDONYM_KEY" in finished.stderr and "Traceback" not in finished.stderr
