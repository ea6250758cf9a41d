"""The sample-service harness: the environment and commands it uses, start-up errors, stop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from max_service_launch.sample_service import SampleService, ServiceStartError


def _pids_in_group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
    return pids


@pytest.mark.unit
@pytest.mark.parametrize(
    ("distro", "expected"),
    [("max_otel", ("max_otel", "max_otel")), ("plain", ("distro", "configurator"))],
)
def test_both_distro_variables_are_always_set(tmp_path, monkeypatch, distro, expected):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("MAX_WEBHOOK_SECRET", "from-the-caller")
    service = SampleService(
        tmp_path,
        redis_url="redis://127.0.0.1:1/0",
        otlp_endpoint="http://127.0.0.1:4317",
        distro=distro,
        env={"OTEL_METRICS_EXPORTER": "none", "OTEL_BSP_SCHEDULE_DELAY": None},
    )
    env = service.environment("worker")
    assert (env["OTEL_PYTHON_DISTRO"], env["OTEL_PYTHON_CONFIGURATOR"]) == expected
    assert env["OTEL_SERVICE_NAME"] == "core-worker"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4317"
    assert env["OTEL_METRICS_EXPORTER"] == "none"
    assert "OTEL_TRACES_EXPORTER" not in env  # the caller's OTEL_* never leak in
    assert "OTEL_BSP_SCHEDULE_DELAY" not in env  # None removes a variable
    assert env["MAX_WEBHOOK_SECRET"] == service.webhook_secret != "from-the-caller"
    assert env["PYTHONPATH"].endswith("examples")
    assert service.command("worker")[:4] == [
        "opentelemetry-instrument",
        "celery",
        "-A",
        "max_service.worker",
    ]


@pytest.mark.unit
def test_uninstrumented_service_runs_without_the_wrapper_or_otel_variables(tmp_path):
    service = SampleService(tmp_path, redis_url="redis://127.0.0.1:1/0", instrumented=False)
    assert service.command("api")[:2] == ["uvicorn", "max_service.app:app"]
    assert not any(key.startswith("OTEL_") for key in service.environment("api"))


@pytest.mark.integration
def test_start_up_failure_raises_with_the_services_own_error(tmp_path):
    service = SampleService(tmp_path, redis_url="localhost:6379", instrumented=False, worker=False)
    with pytest.raises(ServiceStartError, match="MAX_REDIS_URL must be a redis:// URL"):
        service.start()
    assert service.returncodes["api"] != 0


@pytest.mark.integration
def test_stop_ends_the_api_the_worker_and_its_forked_children(tmp_path, redis_server):
    with SampleService(tmp_path, redis_url=redis_server.url, instrumented=False) as service:
        groups = list(service.pids.values())
        assert len(_pids_in_group(service.pids["worker"])) == 3  # main process + 2 children
    assert all(_pids_in_group(pgid) == [] for pgid in groups)
    assert service.returncodes["worker"] == 0
    # uvicorn re-raises the SIGTERM it handled, after its graceful shutdown.
    assert service.returncodes["api"] == -15
    assert any(
        "Application shutdown complete" in line for line in service.service_stderr_lines("api")
    )
