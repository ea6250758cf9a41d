"""The max_otel distro: ``opentelemetry-instrument`` with Max's defaults and instrumentations.

Installed as the ``opentelemetry_distro`` entry point ``max_otel``::

    OTEL_SERVICE_NAME=core-api opentelemetry-instrument uvicorn max_service.app:app
    OTEL_SERVICE_NAME=core-worker opentelemetry-instrument celery -A max_service.worker worker

``_configure`` only sets defaults (``os.environ.setdefault``; see ``OTEL_DEFAULTS``): OTLP/gRPC
export of traces, metrics and logs to ``http://localhost:4317``, ``tracecontext,baggage``
propagation, and the ``max_otel`` configurator. Instrumentations are those installed
(FastAPI, Celery, SQLAlchemy, Redis, logging, httpx, requests), with three adjustments:

- FastAPI: the ASGI ``http receive``/``http send`` spans are not recorded
  (``MAX_OTEL_ASGI_EXCLUDE_SPANS``), the server span gets its request attributes once
  instead of twice (``asgi_tracing``), a ``conversation_id`` path parameter is bound once
  routing found it (``routing``), and the span names of static routes are remembered instead
  of matching every route on each request (``route_details``);
- Celery: pool processes flush their telemetry before exiting, and JSON logging survives the
  worker's logging set-up (``celery_signals``);
- logging: the OTLP log handler ignores OpenTelemetry's own records (no feedback loop).

Another distro installed beside this one (``opentelemetry-distro``) can be picked instead:
``opentelemetry-instrument`` takes the first one found unless ``OTEL_PYTHON_DISTRO`` names
one. This distro warns when it sees another one and ``OTEL_PYTHON_DISTRO`` is unset, and
``warn_if_not_selected`` (an ``opentelemetry_pre_instrument`` hook) warns when another distro
won. Set ``OTEL_PYTHON_DISTRO=max_otel`` to make the choice explicit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.util._importlib_metadata import EntryPoint, entry_points

from max_otel.instrumentation.asgi_tracing import asgi_tracer_provider
from max_otel.instrumentation.environment_variables import (
    _DEFAULT_ASGI_EXCLUDE_SPANS,
    MAX_OTEL_ASGI_EXCLUDE_SPANS,
    OTEL_DEFAULTS,
)

logger = logging.getLogger(__name__)

DISTRO_NAME = "max_otel"
OTEL_PYTHON_DISTRO = "OTEL_PYTHON_DISTRO"


def other_distros() -> list[str]:
    """Names of the other ``opentelemetry_distro`` entry points installed."""
    return sorted(
        {ep.name for ep in entry_points(group="opentelemetry_distro") if ep.name != DISTRO_NAME}
    )


def asgi_excluded_spans(env: dict[str, str] | os._Environ[str] | None = None) -> list[str]:
    """The ASGI spans not to record, from ``MAX_OTEL_ASGI_EXCLUDE_SPANS``."""
    source = os.environ if env is None else env
    raw = source.get(MAX_OTEL_ASGI_EXCLUDE_SPANS)
    if raw is None:
        return list(_DEFAULT_ASGI_EXCLUDE_SPANS)
    return [span for span in (s.strip() for s in raw.split(",")) if span in ("receive", "send")]


def _after_fastapi() -> None:
    from max_otel.instrumentation.route_details import cache_static_route_details
    from max_otel.instrumentation.routing import instrument_path_parameters

    instrument_path_parameters()
    cache_static_route_details()


def _after_celery() -> None:
    from max_otel.instrumentation.celery_signals import connect_celery_signals
    from max_otel.instrumentation.configurator import json_logs_enabled

    connect_celery_signals(json_logs=json_logs_enabled(os.environ))


def _after_logging() -> None:
    from opentelemetry.instrumentation.logging import LoggingInstrumentor

    from max_otel.instrumentation.log_setup import keep_internals_out_of

    handler = LoggingInstrumentor._logging_handler
    if handler is not None:
        keep_internals_out_of(handler)


_AFTER_INSTRUMENT = {"fastapi": _after_fastapi, "celery": _after_celery, "logging": _after_logging}


class MaxOtelDistro(BaseDistro):
    """Sets Max's defaults and loads the instrumentations with Max's options."""

    def _configure(self, **kwargs: Any) -> None:
        for name, value in OTEL_DEFAULTS.items():
            os.environ.setdefault(name, value)
        if OTEL_PYTHON_DISTRO not in os.environ:
            others = other_distros()
            if others:
                logger.warning(
                    "max_otel: other OpenTelemetry distros are installed (%s); "
                    "opentelemetry-instrument uses the first one it finds. Fix: set %s=%s",
                    ", ".join(others),
                    OTEL_PYTHON_DISTRO,
                    DISTRO_NAME,
                )

    def load_instrumentor(self, entry_point: EntryPoint, **kwargs: Any) -> None:
        if entry_point.name == "fastapi":
            kwargs.setdefault("exclude_spans", asgi_excluded_spans())
            provider = asgi_tracer_provider(trace.get_tracer_provider())
            if provider is not None:
                kwargs.setdefault("tracer_provider", provider)
        super().load_instrumentor(entry_point, **kwargs)
        after = _AFTER_INSTRUMENT.get(entry_point.name)
        if after is not None:
            try:
                after()
            except Exception:
                logger.exception(
                    "max_otel: set-up after the %s instrumentation failed", entry_point.name
                )


def warn_if_not_selected() -> None:
    """``opentelemetry_pre_instrument`` hook: warn when another distro was loaded instead.

    ``BaseDistro`` is a per-class singleton, so ``MaxOtelDistro._instance`` is set exactly
    when ``opentelemetry-instrument`` chose this distro.
    """
    if MaxOtelDistro._instance is None:
        logger.warning(
            "max_otel: another OpenTelemetry distro was loaded instead of max_otel, so Max's "
            "defaults, conversation_id propagation and PII redaction are off. Fix: set %s=%s "
            "and OTEL_PYTHON_CONFIGURATOR=%s",
            OTEL_PYTHON_DISTRO,
            DISTRO_NAME,
            DISTRO_NAME,
        )
