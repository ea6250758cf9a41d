"""The max_otel configurator: the OpenTelemetry SDK set up the way Max services need it.

Loaded by ``opentelemetry-instrument`` through the ``opentelemetry_configurator`` entry point
``max_otel`` (the distro sets ``OTEL_PYTHON_CONFIGURATOR=max_otel`` by default). On top of the
SDK's own configurator (``_OTelSDKConfigurator``, private API: the SDK is pinned exactly) it:

1. checks the ``OTEL_*``/``MAX_OTEL_*`` values it relies on (``settings_check``): one line per
   bad value, naming the variable and the fix, and the default is used instead;
2. builds the resource (``resource_defaults``: environment, version, a clear warning when
   the service has no name);
3. adds ``ConversationBaggageSpanProcessor`` and ``OpenSpans`` to the tracer provider and
   ``ConversationBaggageLogProcessor`` to the logger provider;
4. leaves out the Redis commands that start a trace of their own, such as an idle Celery
   worker's heartbeat (``parentless_spans``, ``MAX_OTEL_DROP_PARENTLESS_SPANS``); holds each
   trace's ended spans until its local root ends, to give them the root's
   ``conversation_id`` (``conversation_backfill``); wraps each exporter: re-created in each
   forked process (``process_local``; spans encoded by ``span_encoding``), and behind a
   ``RedactingSpanExporter``/``RedactingLogRecordExporter`` (spans unless
   ``MAX_OTEL_REDACT_SPANS=false``, remembering values found clean: ``clean_values``), so PII
   never reaches an exporter unredacted;
5. installs the validating baggage propagator (``X-Conversation-ID``, W3C limits);
6. prints JSON logs on stdout (``MAX_OTEL_LOG_STDOUT``), redacted by the same redactor, and
   keeps repeated exporter errors from flooding the output;
7. logs SQL statements slower than ``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS`` as ``db.slow_query``
   events on every SQLAlchemy engine (``slow_query_setup``; ``MAX_OTEL_SLOW_QUERY_LOGGING``).

Usable without ``opentelemetry-instrument`` too::

    MaxOtelConfigurator().configure()
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import get_meter_provider
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from max_otel.instrumentation.baggage_policy import BaggagePolicy
from max_otel.instrumentation.baggage_processors import (
    ConversationBaggageLogProcessor,
    ConversationBaggageSpanProcessor,
)
from max_otel.instrumentation.clean_values import CleanValueMemo
from max_otel.instrumentation.conversation import configure_binding
from max_otel.instrumentation.conversation_backfill import ConversationBackfillSpanProcessor
from max_otel.instrumentation.environment_variables import (
    _DEFAULT_DROP_PARENTLESS_SPANS,
    _DEFAULT_LOG_LEVEL,
    _DEFAULT_LOG_STDOUT,
    FALSE_VALUES,
    MAX_OTEL_DROP_PARENTLESS_SPANS,
    MAX_OTEL_LOG_LEVEL,
    MAX_OTEL_LOG_STDOUT,
    MAX_OTEL_REDACT_SPANS,
)
from max_otel.instrumentation.exit_flush import flush_after_uvicorn_shutdown, flush_on_sigterm
from max_otel.instrumentation.json_logs import JsonLogFormatter
from max_otel.instrumentation.log_setup import (
    install_stdout_handler,
    level_number,
    quiet_repeated_export_errors,
)
from max_otel.instrumentation.open_spans import OpenSpans
from max_otel.instrumentation.parentless_spans import (
    DropParentlessSpans,
    parse_instrumentation_names,
)
from max_otel.instrumentation.process_local import (
    ProcessLocalLogRecordExporter,
    ProcessLocalSpanExporter,
    abort_retries_at_exit,
    make_metric_readers_process_local,
)
from max_otel.instrumentation.propagation import install_conversation_propagator
from max_otel.instrumentation.redaction_setup import build_redactor
from max_otel.instrumentation.resource_defaults import SERVICE_NAME, resource_defaults
from max_otel.instrumentation.settings_check import check_environment, installed_components
from max_otel.instrumentation.slow_query_setup import install_process_slow_query_logging
from max_otel.instrumentation.span_encoding import use_span_request_encoder
from max_otel.processors.in_process import (
    AttributeRedactor,
    RedactingLogRecordExporter,
    RedactingSpanExporter,
)

logger = logging.getLogger(__name__)


def json_logs_enabled(env: Mapping[str, str]) -> bool:
    """Whether ``MAX_OTEL_LOG_STDOUT`` asks for JSON logs on stdout (the default)."""
    return (env.get(MAX_OTEL_LOG_STDOUT, "").strip().lower() or _DEFAULT_LOG_STDOUT) == "json"


def span_redaction_enabled(env: Mapping[str, str]) -> bool:
    """Whether ``MAX_OTEL_REDACT_SPANS`` leaves in-process span redaction on (the default)."""
    return env.get(MAX_OTEL_REDACT_SPANS, "").strip().lower() not in FALSE_VALUES


def parentless_spans_to_drop(env: Mapping[str, str]) -> frozenset[str]:
    """The instrumentations named by ``MAX_OTEL_DROP_PARENTLESS_SPANS`` (default ``redis``;
    the value was checked by ``settings_check``)."""
    raw = env.get(MAX_OTEL_DROP_PARENTLESS_SPANS)
    return parse_instrumentation_names(_DEFAULT_DROP_PARENTLESS_SPANS if raw is None else raw)


def span_export_processor(
    redactor: AttributeRedactor | None,
    exporter_args: Mapping[type, Mapping[str, Any]],
    drop_parentless: frozenset[str] = frozenset(),
) -> Callable[[SpanExporter], SpanProcessor]:
    """What the SDK calls with each configured span exporter: a batch processor over the
    process-local exporter (OTLP/gRPC: encoding with ``SpanRequestEncoder``), behind the
    redactor (None: no redaction), fed through the ``conversation_id`` backfill (spans that
    ended before the id was bound get it), which gets no parentless span of the
    instrumentations in ``drop_parentless``."""

    def build(exporter: SpanExporter) -> SpanProcessor:
        cls = type(exporter)
        wrapped: SpanExporter = ProcessLocalSpanExporter(
            lambda: use_span_request_encoder(cls(**exporter_args.get(cls, {}))),
            use_span_request_encoder(exporter),
        )
        if redactor is not None:
            wrapped = RedactingSpanExporter(wrapped, redactor)
        processor: SpanProcessor = ConversationBackfillSpanProcessor(BatchSpanProcessor(wrapped))
        if drop_parentless:
            processor = DropParentlessSpans(processor, drop_parentless)
        return processor

    return build


def log_export_processor(
    redactor: AttributeRedactor, exporter_args: Mapping[type, Mapping[str, Any]]
) -> Callable[[LogRecordExporter], LogRecordProcessor]:
    """What the SDK calls with each configured log exporter (always redacted)."""

    def build(exporter: LogRecordExporter) -> LogRecordProcessor:
        cls = type(exporter)
        local = ProcessLocalLogRecordExporter(lambda: cls(**exporter_args.get(cls, {})), exporter)
        return BatchLogRecordProcessor(RedactingLogRecordExporter(local, redactor))

    return build


def configure_logging(
    env: Mapping[str, str], redactor: AttributeRedactor, policy: BaggagePolicy
) -> None:
    """Root level, JSON stdout handler and the exporter-error filters."""
    quiet_repeated_export_errors()
    explicit_level = env.get(MAX_OTEL_LOG_LEVEL, "").strip()
    json_logs = json_logs_enabled(env)
    if explicit_level or json_logs:
        level = level_number(explicit_level or _DEFAULT_LOG_LEVEL)
        logging.getLogger().setLevel(level if level is not None else logging.INFO)
    if json_logs:
        resource = getattr(trace.get_tracer_provider(), "resource", None)
        attributes = resource.attributes if resource is not None else {}
        service = str(attributes.get(SERVICE_NAME, "unknown_service"))
        install_stdout_handler(JsonLogFormatter(service, redactor, policy))


class MaxOtelConfigurator(_OTelSDKConfigurator):
    """``_OTelSDKConfigurator`` with Max's processors, exporter wrappers and logging."""

    def _configure(self, **kwargs: Any) -> None:
        env = os.environ
        for problem in check_environment(env, installed_components()):
            logger.warning(problem)
        policy = BaggagePolicy.from_environment(env)
        redactor = build_redactor(env)
        open_spans = OpenSpans()
        exporter_args = kwargs.get("exporter_args_map") or {}
        kwargs.setdefault("resource_attributes", {})
        kwargs["resource_attributes"] = {
            **resource_defaults(env, sys.argv),
            **kwargs["resource_attributes"],
        }
        kwargs["span_processors"] = [
            ConversationBaggageSpanProcessor(policy),
            open_spans,
            *(kwargs.get("span_processors") or []),
        ]
        kwargs["log_record_processors"] = [
            ConversationBaggageLogProcessor(policy),
            *(kwargs.get("log_record_processors") or []),
        ]
        span_redactor = CleanValueMemo(redactor) if span_redaction_enabled(env) else None
        kwargs.setdefault(
            "export_span_processor",
            span_export_processor(span_redactor, exporter_args, parentless_spans_to_drop(env)),
        )
        kwargs.setdefault(
            "export_log_record_processor", log_export_processor(redactor, exporter_args)
        )
        super()._configure(**kwargs)

        # MeterProvider keeps its readers in ``_metric_readers`` (SDK pinned exactly).
        make_metric_readers_process_local(getattr(get_meter_provider(), "_metric_readers", ()))
        abort_retries_at_exit()
        flush_on_sigterm()
        flush_after_uvicorn_shutdown()
        install_conversation_propagator(policy)
        configure_binding(policy, open_spans)
        configure_logging(env, redactor, policy)
        install_process_slow_query_logging(env, redactor)
