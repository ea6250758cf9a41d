"""The collector path running: real otelcol-max and Jaeger processes, telemetry sent over OTLP.

A second otelcol-max stands in for the redaction processor service (an OTLP receiver that
forwards unchanged to the redacted stage): these tests check the collector's plumbing and its
persistent queues, not redaction. A test OTLP receiver stands in for the log shipper. Every
process is stopped when its test ends; binaries missing from the tools cache skip the test
(see ``collector_support``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import pytest
from max_service_launch.local_servers import free_port
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.e2e.collector_support import (
    BASE_CONFIG,
    CONFIG_DIR,
    BackgroundProcess,
    clean_env,
    http_get,
    loopback,
    tool,
    wait_until,
)
from tests.support.otlp_receiver import LOGS, OtlpReceiver

pytestmark = pytest.mark.e2e

STANDIN_PROCESSOR_CONFIG = """
extensions:
  health_check:
    endpoint: ${env:STANDIN_HEALTH}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:STANDIN_ENDPOINT}
exporters:
  otlp_grpc:
    endpoint: ${env:MAX_OTEL_REDACTED_GRPC}
    tls:
      insecure: true
service:
  extensions: [health_check]
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp_grpc]}
    metrics: {receivers: [otlp], exporters: [otlp_grpc]}
    logs: {receivers: [otlp], exporters: [otlp_grpc]}
  telemetry:
    metrics:
      level: none
"""


@pytest.fixture
def processes() -> Iterator[list[BackgroundProcess]]:
    """Every process a test appends here is stopped when the test ends, pass or fail."""
    started: list[BackgroundProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


def _start_jaeger(processes: list[BackgroundProcess], tmp_path: Path) -> dict[str, str]:
    env = clean_env(
        MAX_OTEL_JAEGER_OTLP=loopback(),
        MAX_OTEL_JAEGER_UI=loopback(),
        MAX_OTEL_JAEGER_QUERY_GRPC=loopback(),
        MAX_OTEL_JAEGER_HEALTH=loopback(),
        MAX_OTEL_JAEGER_METRICS_PORT=str(free_port()),
        # Nothing listens there: Jaeger must start without its metrics back end.
        MAX_OTEL_PROMETHEUS_URL=f"http://{loopback()}",
    )
    jaeger = BackgroundProcess(
        [tool("jaeger"), f"--config={CONFIG_DIR / 'jaeger.yaml'}"], env, tmp_path / "jaeger.log"
    )
    processes.append(jaeger)
    jaeger.start(f"http://{env['MAX_OTEL_JAEGER_HEALTH']}/status")
    return env


class _Pipeline:
    """otelcol-max (with ``overlays`` on its config), the stand-in processor hop and, with
    ``jaeger``, Jaeger; all running. ``env`` adds or overrides otelcol-max's variables."""

    def __init__(
        self,
        processes: list[BackgroundProcess],
        tmp_path: Path,
        *,
        jaeger: bool = True,
        overlays: Sequence[Path] = (),
        **env: str,
    ) -> None:
        jaeger_otlp = loopback()
        if jaeger:
            jaeger_env = _start_jaeger(processes, tmp_path)
            self.jaeger_api = f"http://{jaeger_env['MAX_OTEL_JAEGER_UI']}/api"
            jaeger_otlp = jaeger_env["MAX_OTEL_JAEGER_OTLP"]
        self.env = clean_env(
            MAX_OTEL_COLLECTOR_GRPC=loopback(),
            MAX_OTEL_COLLECTOR_HTTP=loopback(),
            MAX_OTEL_PROCESSOR_ENDPOINT=loopback(),
            MAX_OTEL_REDACTED_GRPC=loopback(),
            MAX_OTEL_JAEGER_OTLP=jaeger_otlp,
            MAX_OTEL_PROMETHEUS_EXPORTER=loopback(),
            MAX_OTEL_COLLECTOR_HEALTH=loopback(),
            MAX_OTEL_COLLECTOR_ZPAGES=loopback(),
            MAX_OTEL_COLLECTOR_METRICS_PORT=str(free_port()),
            MAX_OTEL_QUEUE_DIR=str(tmp_path / "queue"),
            **env,
        )
        configs = [f"--config={c}" for c in (BASE_CONFIG, *overlays)]
        collector = BackgroundProcess(
            [tool("otelcol-max"), *configs], self.env, tmp_path / "otelcol.log"
        )
        processes.append(collector)
        collector.start(f"http://{self.env['MAX_OTEL_COLLECTOR_HEALTH']}/")

        self.standin_health = loopback()
        standin_config = tmp_path / "standin-processor.yaml"
        standin_config.write_text(STANDIN_PROCESSOR_CONFIG, encoding="utf-8")
        self.standin = BackgroundProcess(
            [tool("otelcol-max"), f"--config={standin_config}"],
            clean_env(
                STANDIN_HEALTH=self.standin_health,
                STANDIN_ENDPOINT=self.env["MAX_OTEL_PROCESSOR_ENDPOINT"],
                MAX_OTEL_REDACTED_GRPC=self.env["MAX_OTEL_REDACTED_GRPC"],
            ),
            tmp_path / "standin-processor.log",
        )
        processes.append(self.standin)
        self.start_standin()

    @property
    def _endpoint(self) -> str:
        return f"http://{self.env['MAX_OTEL_COLLECTOR_GRPC']}"

    def start_standin(self) -> None:
        self.standin.start(f"http://{self.standin_health}/")

    def send(self, service: str, spans: int) -> None:
        """Send ``spans`` one-span traces, a counter and a histogram to the ingress stage."""
        resource = Resource.create({"service.name": service})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=self._endpoint, insecure=True))
        )
        for number in range(spans):
            with tracer_provider.get_tracer("e2e").start_as_current_span(f"turn-{number}"):
                pass
        tracer_provider.shutdown()
        exporter = OTLPMetricExporter(endpoint=self._endpoint, insecure=True)
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = meter_provider.get_meter("e2e")
        meter.create_counter("conversations_total", unit="1").add(spans)
        meter.create_histogram("reply.latency", unit="s").record(0.25)
        meter_provider.shutdown()

    def send_logs(self, service: str, bodies: Sequence[str]) -> None:
        """Send one INFO log record per body to the ingress stage."""
        provider = LoggerProvider(resource=Resource.create({"service.name": service}))
        provider.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(endpoint=self._endpoint, insecure=True))
        )
        logger = provider.get_logger("e2e")
        for body in bodies:
            logger.emit(body=body, severity_number=SeverityNumber.INFO, severity_text="INFO")
        provider.shutdown()

    def spans_in_jaeger(self, service: str) -> int:
        status, body = http_get(f"{self.jaeger_api}/traces?service={service}")
        traces = (json.loads(body)["data"] or []) if status == 200 else []
        return sum(len(trace["spans"]) for trace in traces)

    def exported_metrics(self) -> str:
        return http_get(f"http://{self.env['MAX_OTEL_PROMETHEUS_EXPORTER']}/metrics")[1].decode()


def test_jaeger_runs_with_its_config_and_answers_api_services(
    processes: list[BackgroundProcess], tmp_path: Path
) -> None:
    env = _start_jaeger(processes, tmp_path)
    status, body = http_get(f"http://{env['MAX_OTEL_JAEGER_UI']}/api/services")
    assert status == 200, body
    assert json.loads(body)["errors"] is None


def test_spans_reach_jaeger_through_the_processor_hop(
    processes: list[BackgroundProcess], tmp_path: Path
) -> None:
    pipeline = _Pipeline(processes, tmp_path)
    pipeline.send("e2e-through", spans=3)
    wait_until(lambda: pipeline.spans_in_jaeger("e2e-through") == 3, 30, "3 spans in Jaeger")


def test_metric_names_are_exported_as_instrumented(
    processes: list[BackgroundProcess], tmp_path: Path
) -> None:
    """No `_total` or unit suffix is added, and resource attributes become labels."""
    pipeline = _Pipeline(processes, tmp_path)
    pipeline.send("e2e-metrics", spans=1)
    wait_until(lambda: "\nconversations_total{" in pipeline.exported_metrics(), 30, "a counter")
    lines = pipeline.exported_metrics().splitlines()
    names = {line.split("{")[0] for line in lines if not line.startswith("#")}
    assert {"conversations_total", "reply_latency_bucket", "reply_latency_sum"} <= names
    assert not {"conversations_total_total", "reply_latency_seconds_bucket"} & names
    counter = next(line for line in lines if line.startswith("conversations_total{"))
    assert 'service_name="e2e-metrics"' in counter


def test_spans_wait_on_disk_while_the_processor_is_down(
    processes: list[BackgroundProcess], tmp_path: Path
) -> None:
    pipeline = _Pipeline(processes, tmp_path)
    pipeline.standin.stop()
    pipeline.send("e2e-outage", spans=2)
    time.sleep(3)
    assert pipeline.spans_in_jaeger("e2e-outage") == 0
    assert any((tmp_path / "queue").iterdir()), "the sending queue is not on disk"
    pipeline.start_standin()
    # Retries back off to at most 10s (+50% jitter) in otelcol-max.yaml.
    wait_until(lambda: pipeline.spans_in_jaeger("e2e-outage") == 2, 45, "2 spans after outage")


def test_logs_reach_the_log_shipper_after_it_refused_them(
    processes: list[BackgroundProcess], tmp_path: Path
) -> None:
    """With logs-elasticsearch.yaml, redacted logs go to the log shipper; while it answers
    UNAVAILABLE (Elasticsearch down) they are kept and retried, not lost."""
    with OtlpReceiver() as shipper:
        shipper.respond_with(grpc.StatusCode.UNAVAILABLE)
        pipeline = _Pipeline(
            processes,
            tmp_path,
            jaeger=False,
            overlays=[CONFIG_DIR / "logs-elasticsearch.yaml"],
            MAX_OTEL_LOG_SHIPPER_OTLP=f"127.0.0.1:{shipper.port}",
        )
        pipeline.send_logs("e2e-logs", ["conversation started", "reply sent"])
        shipper.wait_for(lambda: shipper.requests(LOGS), timeout=30)
        assert shipper.log_records() == []

        shipper.respond_with(grpc.StatusCode.OK)

        def delivered() -> list[str]:
            bodies = sorted(r.body for r in shipper.log_records() if r.service_name == "e2e-logs")
            return bodies if len(bodies) >= 2 else []

        # Retries back off to at most 10s (+50% jitter) in logs-elasticsearch.yaml.
        assert shipper.wait_for(delivered, timeout=45) == ["conversation started", "reply sent"]
