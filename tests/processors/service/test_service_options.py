"""Command line, TLS/mTLS on both sides, --dev, and the service's own Prometheus metrics."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.processors.service.certificates import Certificates, make_certificates
from tests.processors.service.next_hop import NextHop
from tests.processors.service.processor_process import (
    ProcessorProcess,
    processor_command,
    processor_environment,
)

pytestmark = pytest.mark.integration

_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _request(note: str) -> bytes:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for index in range(3):
        span = scope_spans.spans.add(name=f"span {index}")
        span.attributes.add(key="note").value.string_value = note
    return request.SerializeToString()


@pytest.fixture
def next_hop() -> Iterator[NextHop]:
    with NextHop() as hop:
        yield hop


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


def _sample(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_help_explains_the_rules_file_with_an_example() -> None:
    finished = subprocess.run(
        processor_command("--help"), capture_output=True, text=True, timeout=30
    )
    assert finished.returncode == 0
    for expected in (
        "sensitive_keys:",
        "action: pseudonymise",
        "docs/redaction-rules.md",
        "MAX_OTEL_PSEUDONYM_KEY",
        "--forward URL",
        "SIGHUP",
    ):
        assert expected in finished.stdout, expected


def test_own_metrics_count_items_redactions_latency_and_forward_errors(
    next_hop: NextHop,
) -> None:
    with ProcessorProcess(forward=next_hop.url) as processor, processor.channel() as channel:
        export = channel.unary_unary(_EXPORT)
        export(_request("call +44 20 7946 0958"), timeout=10)
        export(_request("all clean"), timeout=10)
        next_hop.fail_with = grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.RpcError):
            export(_request("all clean"), timeout=10)
        metrics = _scrape(processor.metrics_port)
    assert _sample(metrics, "max_otel_processor_items_total", signal="traces") == 9
    assert _sample(metrics, "max_otel_processor_redactions_total", rule="phone_international") == 3
    assert _sample(metrics, "max_otel_processor_batch_duration_seconds_count", outcome="ok") == 2
    assert _sample(metrics, "max_otel_processor_forward_errors_total", code="UNAVAILABLE") == 1


def test_each_worker_serves_its_metrics_on_its_own_port(next_hop: NextHop) -> None:
    with ProcessorProcess(forward=next_hop.url, workers=2) as processor:
        ports = (processor.metrics_port, processor.metrics_port + 1)
        workers = {
            re.search(r'max_otel_processor_worker="(\d)"', _scrape(port)).group(1)  # type: ignore[union-attr]
            for port in ports
        }
    assert workers == {"0", "1"}


def test_dev_runs_without_a_key_and_warns_loudly(next_hop: NextHop) -> None:
    environment = processor_environment()
    del environment["MAX_OTEL_PSEUDONYM_KEY"]
    with (
        ProcessorProcess(
            forward=next_hop.url, extra=["--dev"], environment=environment
        ) as processor,
        processor.channel() as channel,
    ):
        channel.unary_unary(_EXPORT)(_request("call +44 20 7946 0958"), timeout=10)
    assert "WARNING: --dev uses a throwaway pseudonym key" in processor.log
    assert b"7946" not in next_hop.traces[0].SerializeToString()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def test_mtls_on_both_sides(certificates: Certificates) -> None:
    hop_credentials = grpc.ssl_server_credentials(
        [(certificates.read("server_key"), certificates.read("server_cert"))],
        root_certificates=certificates.read("ca"),
        require_client_auth=True,
    )
    client = grpc.ssl_channel_credentials(
        root_certificates=certificates.read("ca"),
        private_key=certificates.read("client_key"),
        certificate_chain=certificates.read("client_cert"),
    )
    tls_options = [
        "--tls-cert", str(certificates.server_cert),
        "--tls-key", str(certificates.server_key),
        "--tls-client-ca", str(certificates.ca),
        "--forward-ca", str(certificates.ca),
        "--forward-cert", str(certificates.client_cert),
        "--forward-key", str(certificates.client_key),
    ]  # fmt: skip
    with (
        NextHop(credentials=hop_credentials) as hop,
        ProcessorProcess(forward=hop.url, extra=tls_options, credentials=client) as processor,
    ):
        with processor.channel() as channel:
            channel.unary_unary(_EXPORT)(_request("call +44 20 7946 0958"), timeout=10)
        without_certificate = grpc.ssl_channel_credentials(
            root_certificates=certificates.read("ca")
        )
        with grpc.secure_channel(f"localhost:{processor.port}", without_certificate) as channel:
            with pytest.raises(grpc.RpcError) as raised:
                channel.unary_unary(_EXPORT)(_request("x"), timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert len(hop.spans()) == 3
        assert b"7946" not in hop.traces[0].SerializeToString()


def test_a_config_file_sets_options(next_hop: NextHop, tmp_path: Path) -> None:
    config = tmp_path / "processor.yaml"
    config.write_text("max_message_bytes: 2048\nforward_timeout: 3\n", encoding="utf-8")
    with ProcessorProcess(forward=next_hop.url, extra=["--config", str(config)]) as processor:
        with processor.channel() as channel, pytest.raises(grpc.RpcError) as raised:
            channel.unary_unary(_EXPORT)(_request("x" * 4096), timeout=10)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_max_connection_age_makes_clients_reconnect_without_failing_calls(
    next_hop: NextHop,
) -> None:
    """After the age, the server sends GOAWAY; the client reconnects and calls keep working."""
    extra = ["--max-connection-age", "0.5"]
    with ProcessorProcess(forward=next_hop.url, extra=extra, workers=2) as processor:
        with processor.channel() as channel:
            export = channel.unary_unary(_EXPORT)
            for _ in range(12):
                export(_request("x"), timeout=10)
                time.sleep(0.15)
        metrics = _scrape(processor.metrics_port) + _scrape(processor.metrics_port + 1)
    assert len(next_hop.spans()) == 36
    assert _sample(metrics, "max_otel_processor_items_total", signal="traces") == 36
