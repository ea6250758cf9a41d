"""The sample API under gunicorn with uvicorn workers, started as users start it::

    opentelemetry-instrument gunicorn max_service.app:app -k uvicorn_worker.UvicornWorker \\
        -w 2 --bind 127.0.0.1:PORT [--preload]

with the max_otel distro, exporting OTLP/gRPC to a test receiver. The SDK and its exporters
are set up in the master (``opentelemetry-instrument``) and inherited by the forked workers;
``--preload`` also imports the application there before forking, the case known to break
OTLP/gRPC export in the workers.

What a user checks: each worker process exports its own spans (its own
``service.instance.id``), ``conversation_id`` is on the server spans, and
when the master is stopped with SIGTERM the workers' last spans (held by a long batch delay)
still arrive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from max_service_launch.local_servers import RedisServer
from max_service_launch.sample_service import Process, SampleService

from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.e2e

WORKER_CLASS = "uvicorn_worker.UvicornWorker"
SLOW_BATCHES = {
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
}


class GunicornService(SampleService):
    """The sample API (no Celery worker) served by gunicorn with two uvicorn workers.

    The master leads its own process group (the harness starts it with a new session), so
    stopping it kills whatever is left of its workers too.
    """

    def __init__(self, workdir: Path, *, gunicorn_args: Sequence[str] = (), **kwargs: object):
        super().__init__(workdir, worker=False, **kwargs)  # type: ignore[arg-type]
        self._gunicorn_args = list(gunicorn_args)

    def command(self, process: Process) -> list[str]:
        """``opentelemetry-instrument gunicorn ...`` for the API."""
        argv = ["gunicorn", "max_service.app:app", "-k", WORKER_CLASS, "-w", "2"]
        argv += ["--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "10"]
        return ["opentelemetry-instrument", *argv, *self._gunicorn_args]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


preload_modes = pytest.mark.parametrize(
    "gunicorn_args", [pytest.param([], id="plain"), pytest.param(["--preload"], id="preload")]
)


def instances(spans: list[ReceivedSpan]) -> set[str]:
    """The ``service.instance.id`` of the processes the spans came from."""
    return {str(s.resource["service.instance.id"]) for s in spans}


def of_service(receiver: OtlpReceiver, service_name: str) -> list[ReceivedSpan]:
    return [s for s in receiver.spans() if s.service_name == service_name]


def ping_until_both_workers_exported(
    service: SampleService, receiver: OtlpReceiver, service_name: str
) -> set[str]:
    """Send ``GET /ping`` on fresh connections (20 at least, 300 at most) until pings from two
    worker processes arrived; return their instance ids."""

    def pinged_instances() -> set[str]:
        return instances([s for s in of_service(receiver, service_name) if s.name == "GET /ping"])

    for sent in range(1, 301):
        with service.client() as client:
            assert client.get("/ping").status_code == 200
        if sent >= 20 and sent % 10 == 0 and len(pinged_instances()) >= 2:
            break
    return receiver.wait_for(lambda: found if len(found := pinged_instances()) >= 2 else set())


def unexpected_stderr(service: SampleService) -> list[str]:
    """stderr lines other than gunicorn's/uvicorn's INFO lines and the instrument notice."""
    return [
        line
        for line in service.service_stderr_lines("api")
        if "[INFO]" not in line and not line.startswith("Configuration of configurator not loaded")
    ]


@preload_modes
def test_each_gunicorn_worker_exports_its_own_spans_with_the_conversation_id(
    tmp_path: Path, redis_server: RedisServer, receiver: OtlpReceiver, gunicorn_args: list[str]
) -> None:
    name = f"gunicorn-api-{'-'.join(a.strip('-') for a in gunicorn_args) or 'plain'}"
    conversation_ids = [str(uuid.uuid4()) for _ in range(3)]
    with GunicornService(
        tmp_path,
        gunicorn_args=gunicorn_args,
        redis_url=redis_server.url,
        otlp_endpoint=receiver.endpoint,
        api_service_name=name,
    ) as service:
        workers = ping_until_both_workers_exported(service, receiver, name)
        for conversation_id in conversation_ids:
            with service.client() as client:
                response = client.get(
                    f"/conversations/{conversation_id}",
                    headers={"X-Conversation-ID": conversation_id},
                )
            assert response.status_code == 404

        def conversation_servers() -> list[ReceivedSpan]:
            found = [
                s
                for s in of_service(receiver, name)
                if s.name == "GET /conversations/{conversation_id}" and s.kind == "SERVER"
            ]
            return found if len(found) == len(conversation_ids) else []

        servers = receiver.wait_for(conversation_servers, timeout=15)
    assert len(workers) == 2
    assert sorted(str(s.attributes.get("conversation_id")) for s in servers) == sorted(
        conversation_ids
    )
    assert unexpected_stderr(service) == []  # no gRPC fork warnings, no tracebacks


@preload_modes
def test_stopping_the_gunicorn_master_delivers_the_workers_last_spans(
    tmp_path: Path, redis_server: RedisServer, receiver: OtlpReceiver, gunicorn_args: list[str]
) -> None:
    """With batches held for a minute, only the workers' exit flush delivers their spans."""
    name = f"gunicorn-exit-{'-'.join(a.strip('-') for a in gunicorn_args) or 'plain'}"
    last_id = str(uuid.uuid4())
    with GunicornService(
        tmp_path,
        gunicorn_args=gunicorn_args,
        redis_url=redis_server.url,
        otlp_endpoint=receiver.endpoint,
        api_service_name=name,
        env=SLOW_BATCHES,
    ) as service:
        for _ in range(20):
            with service.client() as client:
                try:
                    assert client.get("/ping").status_code == 200
                except httpx.ConnectError as error:
                    stderr = "\n".join(service.service_stderr_lines("api")[-40:])
                    raise AssertionError(f"gunicorn stopped serving: {stderr}") from error
        with httpx.Client(base_url=service.base_url, timeout=10) as client:
            response = client.get(
                f"/conversations/{last_id}", headers={"X-Conversation-ID": last_id}
            )
        assert response.status_code == 404
        held = of_service(receiver, name)
    assert held == []  # nothing left a worker before it stopped
    assert service.returncodes["api"] == 0
    spans = receiver.wait_for(lambda: of_service(receiver, name), timeout=10)
    pings = [s for s in spans if s.name == "GET /ping"]
    [last] = [s for s in spans if s.name == "GET /conversations/{conversation_id}"]
    assert last.attributes.get("conversation_id") == last_id
    assert len(pings) >= 21  # with the harness's readiness ping
    assert len(instances(pings)) == 2
