"""Resource defaults: environment, version, and a loud missing service name."""

from __future__ import annotations

import pytest

from max_otel.instrumentation.resource_defaults import resource_defaults

pytestmark = pytest.mark.unit


def test_defaults_fill_what_the_user_did_not_set(caplog: pytest.LogCaptureFixture) -> None:
    env = {"OTEL_SERVICE_NAME": "core-api", "MAX_OTEL_SERVICE_VERSION": "1.4.2"}
    assert resource_defaults(env, ["/venv/bin/uvicorn"]) == {
        "deployment.environment.name": "development",
        "service.version": "1.4.2",
    }
    assert not caplog.records


def test_otel_resource_attributes_win() -> None:
    env = {
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=core-api,deployment.environment.name=prod",
        "MAX_OTEL_ENVIRONMENT": "staging",
    }
    assert resource_defaults(env, ["celery"]) == {"service.version": "unknown"}


def test_missing_service_name_warns_and_names_the_program(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attributes = resource_defaults({}, ["/venv/bin/celery", "-A", "app", "worker"])
    assert attributes["service.name"] == "unknown_service:celery"
    (record,) = caplog.records
    assert record.getMessage() == (
        "max_otel: no service name: this process reports as 'unknown_service:celery'. "
        "Fix: set OTEL_SERVICE_NAME (e.g. OTEL_SERVICE_NAME=core-api)"
    )
