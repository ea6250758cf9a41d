"""The distro only sets defaults, tunes instrumentations, and warns about rival distros."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

from max_otel.instrumentation import distro as distro_module
from max_otel.instrumentation.asgi_tracing import AttributesSetAfterStartSampler
from max_otel.instrumentation.distro import MaxOtelDistro, asgi_excluded_spans
from tests.instrumentation._tracing import in_memory_provider

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    """``configure`` writes defaults into ``os.environ``; put it back as it was."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_configure_sets_defaults_without_overriding_the_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in distro_module.OTEL_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("OTEL_PYTHON_DISTRO", "max_otel")
    MaxOtelDistro().configure()
    assert os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4317"
    assert os.environ["OTEL_TRACES_EXPORTER"] == "otlp"
    assert os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert os.environ["OTEL_PROPAGATORS"] == "tracecontext,baggage"
    assert os.environ["OTEL_PYTHON_CONFIGURATOR"] == "max_otel"
    assert os.environ["OTEL_METRICS_EXEMPLAR_FILTER"] == "always_off"


def test_metrics_recorded_inside_a_span_carry_no_exemplar_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    monkeypatch.delenv("OTEL_METRICS_EXEMPLAR_FILTER", raising=False)
    monkeypatch.setenv("OTEL_PYTHON_DISTRO", "max_otel")
    MaxOtelDistro().configure()
    reader = InMemoryMetricReader()
    histogram = MeterProvider(metric_readers=[reader]).get_meter("t").create_histogram("d")
    with TracerProvider().get_tracer("t").start_as_current_span("request"):
        histogram.record(3)
    data = reader.get_metrics_data()
    assert data is not None
    (point,) = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert point.count == 1
    assert list(point.exemplars) == []


def test_a_users_exemplar_filter_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "trace_based")
    monkeypatch.setenv("OTEL_PYTHON_DISTRO", "max_otel")
    MaxOtelDistro().configure()
    assert os.environ["OTEL_METRICS_EXEMPLAR_FILTER"] == "trace_based"


def test_another_installed_distro_is_reported_when_none_is_chosen(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("OTEL_PYTHON_DISTRO", raising=False)
    monkeypatch.setattr(distro_module, "other_distros", lambda: ["distro"])
    MaxOtelDistro().configure()
    assert (
        "max_otel: other OpenTelemetry distros are installed (distro); opentelemetry-instrument "
        "uses the first one it finds. Fix: set OTEL_PYTHON_DISTRO=max_otel" in caplog.text
    )
    caplog.clear()
    monkeypatch.setenv("OTEL_PYTHON_DISTRO", "max_otel")
    MaxOtelDistro().configure()
    assert "other OpenTelemetry distros" not in caplog.text


def test_opentelemetry_distro_is_seen_as_another_distro() -> None:
    assert "distro" in distro_module.other_distros()


def _fastapi_instrument_kwargs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the distro passes to the FastAPI instrumentor's ``instrument``."""
    calls: list[dict[str, Any]] = []

    class Instrumentor:
        def instrument(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    class EntryPoint:
        name = "fastapi"

        def load(self) -> type[Instrumentor]:
            return Instrumentor

    monkeypatch.setattr(distro_module, "_AFTER_INSTRUMENT", {})
    MaxOtelDistro().load_instrumentor(EntryPoint(), skip_dep_check=True)  # type: ignore[arg-type]
    (kwargs,) = calls
    return kwargs


def test_fastapi_is_instrumented_without_receive_and_send_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", trace.NoOpTracerProvider)
    kwargs = _fastapi_instrument_kwargs(monkeypatch)
    assert kwargs == {"exclude_spans": ["receive", "send"], "skip_dep_check": True}


def test_fastapi_gets_a_provider_sharing_the_global_ones_processors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider, exporter = in_memory_provider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    asgi_provider = _fastapi_instrument_kwargs(monkeypatch)["tracer_provider"]
    assert isinstance(asgi_provider.sampler, AttributesSetAfterStartSampler)
    with asgi_provider.get_tracer("t").start_as_current_span("GET /ping"):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["GET /ping"]


def test_asgi_spans_setting() -> None:
    assert asgi_excluded_spans({}) == ["receive", "send"]
    assert asgi_excluded_spans({"MAX_OTEL_ASGI_EXCLUDE_SPANS": ""}) == []
    assert asgi_excluded_spans({"MAX_OTEL_ASGI_EXCLUDE_SPANS": "send"}) == ["send"]


def test_rival_distro_winning_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(MaxOtelDistro, "_instance", None)
    distro_module.warn_if_not_selected()
    assert "another OpenTelemetry distro was loaded instead of max_otel" in caplog.text
    caplog.clear()
    MaxOtelDistro()
    distro_module.warn_if_not_selected()
    assert not caplog.text
