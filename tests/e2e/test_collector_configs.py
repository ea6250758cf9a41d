"""The configs in ``collector-config/`` against the real otelcol-max, Jaeger and promtool.

``bash collector-config/build-tools.sh`` builds ``otelcol-max`` and ``jaeger`` into
``$MAX_OTEL_TOOLS_DIR`` (default ``~/.cache/max-otel/bin``); a test that needs a binary skips,
naming that command, when it is missing. Every process listens on loopback only, on free ports
passed through the ``MAX_OTEL_*`` variables the configs read, and is killed when its test ends.

The pipeline tests put a second otelcol-max in place of the redaction processor service (an
OTLP receiver that forwards unchanged to the redacted stage): they check the collector's
plumbing and its persistent queue, not redaction.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.servers import free_port

pytestmark = pytest.mark.e2e

CONFIG_DIR = Path(__file__).resolve().parents[2] / "collector-config"
TOOLS_DIR = Path(os.environ.get("MAX_OTEL_TOOLS_DIR", Path.home() / ".cache/max-otel/bin"))
BASE_CONFIG = CONFIG_DIR / "otelcol-max.yaml"
NOT_COLLECTOR_CONFIGS = {"builder-config.yaml", "jaeger.yaml"}
INGRESS_RECEIVER = "otlp"
REDACTION_EXPORTER = "otlp_grpc/redaction"
# `${env:MAX_OTEL_X:-default}` where the default is an address: [scheme://]host:port
_ADDRESS_DEFAULT = re.compile(r"\$\{env:(MAX_OTEL_\w+):-(?:\w+://)?([\w.-]+):\d+\}")

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
  telemetry:
    metrics:
      level: none
"""


def _binary(name: str) -> str:
    path = TOOLS_DIR / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built: run `bash collector-config/build-tools.sh`")
    return str(path)


def _collector_configs() -> list[Path]:
    return sorted(p for p in CONFIG_DIR.glob("*.yaml") if p.name not in NOT_COLLECTOR_CONFIGS)


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _is_overlay(path: Path) -> bool:
    """An overlay (vendor-apm.example.yaml) has no receivers: it goes on top of otelcol-max.yaml."""
    return "receivers" not in _load(path)


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge as the collector merges its --config files: maps key by key, lists replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _clean_env(**overrides: str) -> dict[str, str]:
    """This environment without MAX_OTEL_* and OTEL_* settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAX_OTEL_", "OTEL_"))}
    return env | overrides


def _loopback() -> str:
    return f"127.0.0.1:{free_port()}"


def _http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class _Process:
    """A binary run in the background, its output in ``log``."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self, health_url: str) -> None:
        """Start and wait until ``health_url`` answers 200; fail with the log if it exits."""
        with open(self.log, "ab") as out:
            self._popen = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=out)

        def healthy() -> bool:
            assert self._popen is not None
            if self._popen.poll() is not None:
                raise AssertionError(f"{self.args} exited:\n{self.log.read_text()[-4000:]}")
            return _http_get(health_url)[0] == 200

        _wait_until(healthy, 30, f"{health_url} to answer 200")

    def stop(self) -> None:
        if self._popen is not None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
            self._popen = None


@pytest.fixture
def processes() -> Iterator[list[_Process]]:
    """Every process a test appends here is stopped when the test ends, pass or fail."""
    started: list[_Process] = []
    yield started
    for process in reversed(started):
        process.stop()


def _start_jaeger(processes: list[_Process], tmp_path: Path) -> dict[str, str]:
    env = _clean_env(
        MAX_OTEL_JAEGER_OTLP=_loopback(),
        MAX_OTEL_JAEGER_UI=_loopback(),
        MAX_OTEL_JAEGER_QUERY_GRPC=_loopback(),
        MAX_OTEL_JAEGER_HEALTH=_loopback(),
        MAX_OTEL_JAEGER_METRICS_PORT=str(free_port()),
        # Nothing listens there: Jaeger must start without its metrics back end.
        MAX_OTEL_PROMETHEUS_URL=f"http://{_loopback()}",
    )
    jaeger = _Process(
        [_binary("jaeger"), f"--config={CONFIG_DIR / 'jaeger.yaml'}"], env, tmp_path / "jaeger.log"
    )
    processes.append(jaeger)
    jaeger.start(f"http://{env['MAX_OTEL_JAEGER_HEALTH']}/status")
    return env


# --- the files ------------------------------------------------------------------------------


def test_collector_configs_are_found() -> None:
    assert {p.name for p in _collector_configs()} >= {"otelcol-max.yaml", "vendor-apm.example.yaml"}


@pytest.mark.parametrize("config", _collector_configs(), ids=lambda p: p.name)
def test_ingress_pipelines_export_only_to_the_redaction_processor(config: Path) -> None:
    """No pipeline fed by the ingress receiver may reach Jaeger, Prometheus or a vendor."""
    merged = _merge(_load(BASE_CONFIG), _load(config)) if _is_overlay(config) else _load(config)
    pipelines = merged["service"]["pipelines"]
    ingress = {name: p for name, p in pipelines.items() if INGRESS_RECEIVER in p["receivers"]}
    assert ingress, "no pipeline reads the ingress receiver"
    for name, pipeline in ingress.items():
        assert pipeline["receivers"] == [INGRESS_RECEIVER], name
        assert pipeline["exporters"] == [REDACTION_EXPORTER], name


@pytest.mark.parametrize("config", sorted(CONFIG_DIR.glob("*.y*ml")), ids=lambda p: p.name)
def test_default_addresses_are_loopback(config: Path) -> None:
    for variable, host in _ADDRESS_DEFAULT.findall(config.read_text(encoding="utf-8")):
        assert host == "127.0.0.1", f"{variable} defaults to {host}, not loopback"


@pytest.mark.parametrize("config", _collector_configs(), ids=lambda p: p.name)
def test_collector_config_validates(config: Path) -> None:
    files = [BASE_CONFIG, config] if _is_overlay(config) else [config]
    result = subprocess.run(
        [_binary("otelcol-max"), "validate", *(f"--config={f}" for f in files)],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_prometheus_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: run `bash scripts/setup`")
    config = CONFIG_DIR / "prometheus.yml"
    result = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_jaeger_runs_with_its_config_and_answers_api_services(
    processes: list[_Process], tmp_path: Path
) -> None:
    env = _start_jaeger(processes, tmp_path)
    status, body = _http_get(f"http://{env['MAX_OTEL_JAEGER_UI']}/api/services")
    assert status == 200, body
    assert json.loads(body)["errors"] is None


# --- the collector path, with a stand-in for the redaction processor ------------------------


class _Pipeline:
    """Jaeger, otelcol-max and the stand-in processor hop, all running."""

    def __init__(self, processes: list[_Process], tmp_path: Path) -> None:
        jaeger_env = _start_jaeger(processes, tmp_path)
        self.jaeger_api = f"http://{jaeger_env['MAX_OTEL_JAEGER_UI']}/api"
        self.env = _clean_env(
            MAX_OTEL_COLLECTOR_GRPC=_loopback(),
            MAX_OTEL_COLLECTOR_HTTP=_loopback(),
            MAX_OTEL_PROCESSOR_ENDPOINT=_loopback(),
            MAX_OTEL_REDACTED_GRPC=_loopback(),
            MAX_OTEL_JAEGER_OTLP=jaeger_env["MAX_OTEL_JAEGER_OTLP"],
            MAX_OTEL_PROMETHEUS_EXPORTER=_loopback(),
            MAX_OTEL_COLLECTOR_HEALTH=_loopback(),
            MAX_OTEL_COLLECTOR_ZPAGES=_loopback(),
            MAX_OTEL_COLLECTOR_METRICS_PORT=str(free_port()),
            MAX_OTEL_QUEUE_DIR=str(tmp_path / "queue"),
        )
        collector = _Process(
            [_binary("otelcol-max"), f"--config={BASE_CONFIG}"], self.env, tmp_path / "otelcol.log"
        )
        processes.append(collector)
        collector.start(f"http://{self.env['MAX_OTEL_COLLECTOR_HEALTH']}/")

        self.standin_health = _loopback()
        standin_config = tmp_path / "standin-processor.yaml"
        standin_config.write_text(STANDIN_PROCESSOR_CONFIG, encoding="utf-8")
        self.standin = _Process(
            [_binary("otelcol-max"), f"--config={standin_config}"],
            _clean_env(
                STANDIN_HEALTH=self.standin_health,
                STANDIN_ENDPOINT=self.env["MAX_OTEL_PROCESSOR_ENDPOINT"],
                MAX_OTEL_REDACTED_GRPC=self.env["MAX_OTEL_REDACTED_GRPC"],
            ),
            tmp_path / "standin-processor.log",
        )
        processes.append(self.standin)
        self.start_standin()

    def start_standin(self) -> None:
        self.standin.start(f"http://{self.standin_health}/")

    def send(self, service: str, spans: int) -> None:
        """Send ``spans`` one-span traces, a counter and a histogram to the ingress stage."""
        endpoint = f"http://{self.env['MAX_OTEL_COLLECTOR_GRPC']}"
        resource = Resource.create({"service.name": service})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
        )
        for number in range(spans):
            with tracer_provider.get_tracer("e2e").start_as_current_span(f"turn-{number}"):
                pass
        tracer_provider.shutdown()
        exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = meter_provider.get_meter("e2e")
        meter.create_counter("conversations_total", unit="1").add(spans)
        meter.create_histogram("reply.latency", unit="s").record(0.25)
        meter_provider.shutdown()

    def spans_in_jaeger(self, service: str) -> int:
        status, body = _http_get(f"{self.jaeger_api}/traces?service={service}")
        traces = (json.loads(body)["data"] or []) if status == 200 else []
        return sum(len(trace["spans"]) for trace in traces)

    def exported_metrics(self) -> str:
        return _http_get(f"http://{self.env['MAX_OTEL_PROMETHEUS_EXPORTER']}/metrics")[1].decode()


def test_spans_reach_jaeger_through_the_processor_hop(
    processes: list[_Process], tmp_path: Path
) -> None:
    pipeline = _Pipeline(processes, tmp_path)
    pipeline.send("e2e-through", spans=3)
    _wait_until(lambda: pipeline.spans_in_jaeger("e2e-through") == 3, 30, "3 spans in Jaeger")


def test_metric_names_are_exported_as_instrumented(
    processes: list[_Process], tmp_path: Path
) -> None:
    """No `_total` or unit suffix is added, and resource attributes become labels."""
    pipeline = _Pipeline(processes, tmp_path)
    pipeline.send("e2e-metrics", spans=1)
    _wait_until(lambda: "\nconversations_total{" in pipeline.exported_metrics(), 30, "a counter")
    lines = pipeline.exported_metrics().splitlines()
    names = {line.split("{")[0] for line in lines if not line.startswith("#")}
    assert {"conversations_total", "reply_latency_bucket", "reply_latency_sum"} <= names
    assert not {"conversations_total_total", "reply_latency_seconds_bucket"} & names
    counter = next(line for line in lines if line.startswith("conversations_total{"))
    assert 'service_name="e2e-metrics"' in counter


def test_spans_wait_on_disk_while_the_processor_is_down(
    processes: list[_Process], tmp_path: Path
) -> None:
    pipeline = _Pipeline(processes, tmp_path)
    pipeline.standin.stop()
    pipeline.send("e2e-outage", spans=2)
    time.sleep(3)
    assert pipeline.spans_in_jaeger("e2e-outage") == 0
    assert any((tmp_path / "queue").iterdir()), "the sending queue is not on disk"
    pipeline.start_standin()
    # Retries back off to at most 10s (+50% jitter) in otelcol-max.yaml.
    _wait_until(lambda: pipeline.spans_in_jaeger("e2e-outage") == 2, 45, "2 spans after outage")
