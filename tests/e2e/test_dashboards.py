"""Grafana dashboards and the metrics catalogue, end to end.

Every panel query of the three provisioned dashboards is run against a real Prometheus:
first one with no data (each query must parse), then one that scrapes the real pipeline
(OTel SDK -> otelcol-max ingress -> redaction processor -> otelcol-max redacted stage ->
prometheus exporter) while a process records the whole catalogue and serves HTTP requests
through the OpenTelemetry FastAPI instrumentation: each query must return data, and the
spec's metric names, labels and buckets must come out exactly.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from max_service_launch.local_servers import free_port

from max_otel.instrumentation.metrics import CATALOGUE, FIRST_RESPONSE_BUCKETS
from tests.support.prometheus import PrometheusServer, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "docker" / "grafana" / "dashboards"
DATASOURCE_FILE = (
    REPO_ROOT / "docker" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
)
RULES_DIR = REPO_ROOT / "docker" / "prometheus" / "rules"
COLLECTOR_CONFIG = REPO_ROOT / "collector-config" / "otelcol-max.yaml"
TOOLS_DIR = Path(os.environ.get("MAX_OTEL_TOOLS_DIR", Path.home() / ".cache/max-otel/bin"))
OTELCOL = TOOLS_DIR / "otelcol-max"
TEST_PSEUDONYM_KEY = "test-only-pseudonym-key-0123456789abcdef"

# The spec's dashboards and the panels it lists for each (each dashboard has more).
SPEC_PANELS = {
    "operations.json": [
        "Active conversations",
        "Queue backlog per team",
        "Messages per hour",
        "First response time p95",
        "HTTP error rate",
    ],
    "team-performance.json": [
        "Conversations handled (last hour)",
        "Average FRT by team (last hour)",
        "Average resolution time (last hour)",
        "Agent utilisation",
    ],
    "integration-health.json": [
        "Requests per second per adapter",
        "Error rate per adapter",
        "Latency p95 per adapter",
        "Circuit breaker state",
    ],
}

# The spec's PromQL examples (section 4), verbatim.
SPEC_QUERIES = [
    'sum(conversations_active{status="assigned"}) by (team)',
    'sum(conversations_active{status="queued"}) by (team)',
    "histogram_quantile(0.95, rate(first_response_time_seconds_bucket[5m]))",
]


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def _panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every target of every panel."""
    return [
        (name, panel["title"], target["expr"])
        for name, dashboard in _dashboards().items()
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


# --------------------------------------------------------------------------- static checks


@pytest.mark.unit
def test_the_three_spec_dashboards_have_the_spec_panels() -> None:
    dashboards = _dashboards()
    assert set(dashboards) == set(SPEC_PANELS)
    for name, titles in SPEC_PANELS.items():
        panel_titles = [panel["title"] for panel in dashboards[name]["panels"]]
        assert [title for title in titles if title not in panel_titles] == [], name


@pytest.mark.unit
def test_every_panel_queries_the_provisioned_prometheus_data_source() -> None:
    (datasource,) = yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"]
    expected = {"type": "prometheus", "uid": datasource["uid"]}
    for name, dashboard in _dashboards().items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in dashboard["panels"]:
            assert panel["datasource"] == expected, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == expected, (name, panel["title"])
                assert target["expr"].strip(), (name, panel["title"])


@pytest.mark.integration
def test_every_panel_query_parses_in_prometheus(tmp_path: Path) -> None:
    with PrometheusServer(tmp_path, rule_files=sorted(RULES_DIR.glob("*.yml"))) as prometheus:
        errors = []
        for name, title, expr in _panel_queries() + [("spec", "example", q) for q in SPEC_QUERIES]:
            try:
                prometheus.query(expr)
            except ValueError as error:
                errors.append(f"{name} / {title}: {error}")
    assert not errors, "\n".join(errors)


# ----------------------------------------------------------------------- the real pipeline


def _emit_catalogue(endpoint: str, stop: Any) -> None:
    """Child process: record every catalogue metric and serve HTTP through the OTel FastAPI
    instrumentation, exporting OTLP to ``endpoint`` twice a second until ``stop`` is set."""
    from fastapi import FastAPI, Response
    from fastapi.testclient import TestClient
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from sqlalchemy import create_engine, text

    from max_otel.instrumentation.metrics import (
        DatabaseGaugeCollector,
        MaxMetrics,
        observe_dependencies,
        observe_process,
        record_query_metrics,
    )

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=500
    )
    resource = Resource.create(
        {"service.name": "catalogue-emitter", "service.instance.id": "emitter-1"}
    )
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    meter = provider.get_meter("max_otel.metrics")
    metrics = MaxMetrics(meter, slow_query_seconds=0.0)
    gauges = DatabaseGaugeCollector(meter, enabled=True, ttl_seconds=0)
    gauges.observe(
        "conversations_active",
        lambda: [("sales", "queued", 25), ("sales", "assigned", 7), ("support", "queued", 3)],
    )
    gauges.observe("agent_active_conversations", lambda: [("agent-1", 9), ("agent-2", 4)])
    gauges.observe("agent_utilization_ratio", lambda: [("agent-1", 0.9), ("agent-2", 0.4)])
    gauges.observe("celery_queue_length", lambda: [("max", 2)])
    observe_dependencies(lambda: {"database": True, "redis": True, "celery": True}, meter)
    observe_process(meter)

    engine = create_engine("sqlite://")
    SQLAlchemyInstrumentor().instrument(engine=engine, meter_provider=provider)
    record_query_metrics(engine, metrics)

    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/boom")
    async def boom() -> Response:
        return Response(status_code=503)

    FastAPIInstrumentor.instrument_app(app, meter_provider=provider)
    client = TestClient(app)

    while not stop.wait(0.2):
        metrics.conversation_created(channel="whatsapp", team="sales")
        metrics.conversation_assigned(team="sales", queue_seconds=45)
        metrics.first_response(team="sales", seconds=120.5, agent_id="agent-1")
        metrics.conversation_closed(channel="whatsapp", team="sales", resolution_seconds=1500)
        metrics.message(direction="inbound", channel="whatsapp", status="received")
        metrics.message(direction="outbound", channel="whatsapp", status="sent", agent_id="agent-1")
        metrics.integration_request(adapter="crm", operation="upsert", succeeded=True, seconds=0.12)
        metrics.integration_request(adapter="crm", operation="upsert", succeeded=False, seconds=2.0)
        metrics.circuit_breaker_state(adapter="crm", state="half_open")
        metrics.integration_cache(adapter="crm", hit=True)
        metrics.integration_cache(adapter="crm", hit=False)
        metrics.task_started()
        metrics.task_finished(task="triage", status="succeeded", seconds=0.05)
        metrics.task_released()
        metrics.task_finished(task="triage", status="failed", seconds=0.5)
        metrics.websocket_connected(resumed=True)
        metrics.websocket_message(direction="outbound")
        metrics.websocket_error(reason="handshake_refused")
        metrics.websocket_disconnected()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        client.get("/ok")
        client.get("/boom")
    provider.shutdown()


class Pipeline:
    """otelcol-max with its real config (ports moved) and the redaction processor service."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = {
            name: free_port()
            for name in (
                "grpc",
                "http",
                "redacted",
                "exporter",
                "own_metrics",
                "health",
                "zpages",
                "processor",
                "processor_metrics",
                "jaeger",
            )
        }
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def otlp_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['grpc']}"

    @property
    def exporter_target(self) -> str:
        return f"127.0.0.1:{self.ports['exporter']}"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with open(self.directory / f"{name}.log", "wb") as log:
            self._processes.append(
                subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
            )

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        p = self.ports
        env = dict(os.environ)
        env.update(
            MAX_OTEL_COLLECTOR_GRPC=f"127.0.0.1:{p['grpc']}",
            MAX_OTEL_COLLECTOR_HTTP=f"127.0.0.1:{p['http']}",
            MAX_OTEL_REDACTED_GRPC=f"127.0.0.1:{p['redacted']}",
            MAX_OTEL_PROCESSOR_ENDPOINT=f"127.0.0.1:{p['processor']}",
            MAX_OTEL_JAEGER_OTLP=f"127.0.0.1:{p['jaeger']}",
            MAX_OTEL_PROMETHEUS_EXPORTER=f"127.0.0.1:{p['exporter']}",
            MAX_OTEL_COLLECTOR_METRICS_PORT=str(p["own_metrics"]),
            MAX_OTEL_COLLECTOR_HEALTH=f"127.0.0.1:{p['health']}",
            MAX_OTEL_COLLECTOR_ZPAGES=f"127.0.0.1:{p['zpages']}",
            MAX_OTEL_QUEUE_DIR=str(self.directory / "queue"),
            MAX_OTEL_PSEUDONYM_KEY=TEST_PSEUDONYM_KEY,
        )
        self._spawn(
            "processor",
            [
                str(Path(sys.executable).parent / "max-otel"),
                "processor",
                "--listen",
                f"127.0.0.1:{p['processor']}",
                "--forward",
                f"http://127.0.0.1:{p['redacted']}",
                "--workers",
                "1",
                "--metrics-listen",
                f"127.0.0.1:{p['processor_metrics']}",
            ],
            env,
        )
        self._spawn("otelcol", [str(OTELCOL), f"--config={COLLECTOR_CONFIG}"], env)
        try:
            wait_for(
                lambda: (
                    self._alive()
                    and httpx.get(f"http://127.0.0.1:{p['health']}/", timeout=1).is_success
                ),
                60,
                "otelcol-max health check",
            )
        except (TimeoutError, RuntimeError):
            self.stop()
            raise

    def _alive(self) -> bool:
        for name, process in zip(("processor", "otelcol"), self._processes, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log(name)}")
        return True

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        self._processes = []


@pytest.fixture(scope="module")
def scraped_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Prometheus (with the recording rules) scraping the pipeline's exporter while the
    catalogue emitter runs; yields once the emitter's series have been scraped a few times."""
    if not OTELCOL.exists():
        pytest.skip(f"{OTELCOL} is missing: run bash collector-config/build-tools.sh")
    directory = tmp_path_factory.mktemp("pipeline")
    pipeline = Pipeline(directory / "pipeline")
    pipeline.start()
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    emitter = context.Process(target=_emit_catalogue, args=(pipeline.otlp_endpoint, stop))
    try:
        with PrometheusServer(
            directory / "prometheus",
            scrape=[pipeline.exporter_target],
            rule_files=sorted(RULES_DIR.glob("*.yml")),
        ) as prometheus:
            emitter.start()
            try:
                wait_for(
                    lambda: (
                        prometheus.query("job:http_server_error_ratio:rate5m")
                        and prometheus.query("rate(first_response_time_seconds_count[1m]) > 0")
                    ),
                    90,
                    "the emitter's metrics in Prometheus, through the pipeline:\n"
                    + pipeline.log("otelcol")[-1500:],
                )
                yield prometheus
            finally:
                stop.set()
                emitter.join(timeout=20)
                if emitter.is_alive():
                    emitter.kill()
    finally:
        pipeline.stop()


@pytest.mark.e2e
def test_every_dashboard_panel_query_returns_data(scraped_pipeline: PrometheusServer) -> None:
    empty = [
        f"{name} / {title}: {expr}"
        for name, title, expr in _panel_queries()
        if not scraped_pipeline.query(expr)
    ]
    assert not empty, "panels with no data:\n" + "\n".join(empty)


@pytest.mark.e2e
@pytest.mark.parametrize("expr", SPEC_QUERIES)
def test_spec_promql_example_returns_data(scraped_pipeline: PrometheusServer, expr: str) -> None:
    assert scraped_pipeline.query(expr)


@pytest.mark.e2e
def test_spec_metrics_come_out_with_the_spec_names_and_labels(
    scraped_pipeline: PrometheusServer,
) -> None:
    ignored = {
        "__name__",
        "job",
        "instance",
        "otel_scope_name",
        "otel_scope_version",
        "otel_scope_schema_url",
        "le",
    }

    def labels_of(name: str) -> set[str]:
        (series, *_) = scraped_pipeline.query(name)
        return {
            label
            for label in series["metric"]
            if label not in ignored and not label.startswith(("service_", "telemetry_"))
        }

    assert labels_of("conversations_total") == {"channel", "team"}
    assert labels_of("conversations_active") == {"team", "status"}
    assert labels_of("messages_total") == {"direction", "channel", "status"}
    assert labels_of("integration_requests_total") == {"adapter", "operation", "status"}
    assert labels_of("integration_latency_seconds_count") == {"adapter", "operation"}
    assert labels_of("first_response_time_seconds_count") == {"team"}
    assert labels_of("agent_active_conversations") == {"agent_id"}
    failed = scraped_pipeline.query('integration_requests_total{status="failed"}')
    assert failed, 'failures must be status="failed"'


@pytest.mark.e2e
def test_first_response_time_has_the_spec_buckets(scraped_pipeline: PrometheusServer) -> None:
    series = scraped_pipeline.query('first_response_time_seconds_bucket{team="sales"}')
    bounds = sorted(float(s["metric"]["le"]) for s in series)
    assert bounds == [*FIRST_RESPONSE_BUCKETS, float("inf")]


@pytest.mark.e2e
def test_every_catalogue_metric_reaches_prometheus_under_its_own_name(
    scraped_pipeline: PrometheusServer,
) -> None:
    missing = []
    for metric in CATALOGUE:
        name = metric.name + ("_count" if metric.buckets is not None else "")
        if not scraped_pipeline.query(name):
            missing.append(name)
    assert not missing, f"not in Prometheus: {missing}"


# ------------------------------------------------------------ the sample service, for real


@pytest.fixture(scope="module")
def sample_service_scraped(
    tmp_path_factory: pytest.TempPathFactory, redis_server: Any
) -> Iterator[tuple[PrometheusServer, Any]]:
    """The sample service (API + worker under opentelemetry-instrument with the max_otel
    distro) exporting to the real pipeline while it takes traffic; Prometheus scrapes it."""
    if not OTELCOL.exists():
        pytest.skip(f"{OTELCOL} is missing: run bash collector-config/build-tools.sh")
    from max_service_launch.sample_service import SampleService

    directory = tmp_path_factory.mktemp("sample")
    pipeline = Pipeline(directory / "pipeline")
    pipeline.start()
    try:
        with (
            PrometheusServer(
                directory / "prometheus",
                scrape=[pipeline.exporter_target],
                rule_files=sorted(RULES_DIR.glob("*.yml")),
            ) as prometheus,
            SampleService(
                directory / "service",
                redis_url=redis_server.url,
                otlp_endpoint=pipeline.otlp_endpoint,
                env={"MAX_OTEL_DB_GAUGES": "1"},
            ) as service,
        ):
            service.drive_traffic(rounds=1)
            with service.client() as client:

                def requests_counted() -> list[dict[str, Any]]:
                    # Keep traffic flowing until two scrapes have seen the counter increase.
                    client.get("/conversations/00000000-0000-0000-0000-000000000000")  # 404
                    return prometheus.query(
                        'job:http_server_requests:rate5m{job=~".*core-api"} > 0'
                    )

                wait_for(requests_counted, 90, "core-api's HTTP server metrics in Prometheus")
            yield prometheus, service
    finally:
        pipeline.stop()


@pytest.mark.e2e
def test_sample_service_http_metrics_feed_the_error_rate_and_latency_panels(
    sample_service_scraped: tuple[PrometheusServer, Any],
) -> None:
    """The names the FastAPI instrumentation really produces, through the real pipeline, are
    the ones the recording rules (and so HighErrorRate and the HTTP panels) read."""
    prometheus, _ = sample_service_scraped
    api = '{job=~".*core-api"}'
    error_ratio = (
        f"(job:http_server_errors:rate5m{api} or job:http_server_requests:rate5m{api} * 0)"
        f" / job:http_server_requests:rate5m{api}"
    )
    assert prometheus.query(f"job:http_server_requests:rate5m{api} > 0")
    assert prometheus.query(error_ratio)
    assert wait_for(
        lambda: prometheus.query(f"job:http_server_request_duration_seconds:p95{api}"),
        30,
        "the latency p95 recording rule for core-api",
    )


@pytest.mark.e2e
@pytest.mark.parametrize("expr", SPEC_QUERIES)
def test_sample_service_answers_the_spec_promql_examples(
    sample_service_scraped: tuple[PrometheusServer, Any], expr: str
) -> None:
    """The sample service wires the catalogue and the health router as docs/metrics.md says
    ("Wiring a service"), with MAX_OTEL_DB_GAUGES=1: the spec's queries have data."""
    prometheus, service = sample_service_scraped
    with service.client() as client:
        ready = client.get("/health/ready")
    assert ready.status_code == 200, f"GET /health/ready: {ready.status_code} {ready.text}"
    assert wait_for(lambda: prometheus.query(expr), 60, f"data for {expr}")
