"""Environment variables read by the max_otel distro and configurator.

Mirrors ``opentelemetry.environment_variables``: one constant per variable, its docstring
giving the meaning and the default. Standard ``OTEL_*`` variables keep their OpenTelemetry
meaning; the distro only sets defaults for some of them (see ``OTEL_DEFAULTS``), so a value
the user sets always wins. Precedence everywhere: explicit argument, then environment
variable, then the ``_DEFAULT_*`` constant beside it.

The pseudonym key variables (``MAX_OTEL_PSEUDONYM_KEY``, ``MAX_OTEL_PSEUDONYM_KEY_FILE``,
``MAX_OTEL_PSEUDONYM_KEY_ID``) belong to the redaction engine and are documented in
``max_otel.processors.redaction``; they are repeated here so this module lists every variable
a Max service reads. Their names are taken from the modules that read them, never retyped.
"""

from __future__ import annotations

from max_otel.processors.redaction import _environment as _redaction_environment

MAX_OTEL_ENVIRONMENT = "MAX_OTEL_ENVIRONMENT"
"""Deployment environment, written to the resource attribute ``deployment.environment.name``
(``production``, ``staging``...). ``OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=...``
wins over it. Default: ``development``."""

MAX_OTEL_SERVICE_VERSION = "MAX_OTEL_SERVICE_VERSION"
"""Version of the service, written to the resource attribute ``service.version`` (a release
tag or a commit). ``OTEL_RESOURCE_ATTRIBUTES=service.version=...`` wins over it.
Default: ``unknown``."""

MAX_OTEL_BAGGAGE_KEYS = "MAX_OTEL_BAGGAGE_KEYS"
"""Comma-separated baggage keys copied onto every span and log record as attributes (other
baggage keys still travel between processes but are never recorded). Keys are lower case
letters, digits, ``_`` and ``.``. Default: ``conversation_id,team_id,agent_id,channel``."""

MAX_OTEL_REDACT_SPANS = "MAX_OTEL_REDACT_SPANS"
"""``true`` (default) redacts every span (name, attributes, events, links, status, resource)
in the export path, before the OTLP exporter sees it. ``false`` leaves spans to the redaction
processor in the collector pipeline; log records are always redacted in the process."""

MAX_OTEL_REDACTION_RULES = "MAX_OTEL_REDACTION_RULES"
"""Path of a redaction rules YAML file (see ``max_otel.processors.redaction``) used for logs
and spans. Default: the packaged rules."""

MAX_OTEL_LOG_STDOUT = "MAX_OTEL_LOG_STDOUT"
"""``json`` (default) prints every log record on stdout as one JSON object per line
(``timestamp``, ``level``, ``service``, ``event``, fields, ``conversation_id``, ``trace_id``,
``span_id``), PII redacted; under Celery it replaces Celery's own log handler. ``off`` leaves
stdout and the logging configuration to the application."""

MAX_OTEL_LOG_LEVEL = "MAX_OTEL_LOG_LEVEL"
"""Level of the root logger set by the configurator (``DEBUG``, ``INFO``, ``WARNING``...).
Under Celery, when unset, the worker's ``--loglevel`` is used. Default: ``INFO``."""

MAX_OTEL_ASGI_EXCLUDE_SPANS = "MAX_OTEL_ASGI_EXCLUDE_SPANS"
"""Comma-separated ASGI internal spans not to record: ``receive``, ``send``, both (default:
``receive,send``, which halves the spans of a simple request) or empty to record both."""

MAX_OTEL_DROP_PARENTLESS_SPANS = "MAX_OTEL_DROP_PARENTLESS_SPANS"
"""Comma-separated instrumentations (``redis``, ``sqlalchemy``) whose spans are not exported
when they have no parent span: the commands an idle Celery worker sends its Redis broker (a
heartbeat every 2 seconds) would otherwise each be a one-span trace. Calls made inside a
request or a task are always kept. Empty keeps every span. Default: ``redis``."""

MAX_OTEL_SLOW_QUERY_LOGGING = "MAX_OTEL_SLOW_QUERY_LOGGING"
"""``true`` (default) logs every SQL statement slower than ``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS``
(default 1000) as a ``db.slow_query`` event, on every SQLAlchemy engine of the process
(``max_otel.instrumentation.slow_queries``). ``false`` installs nothing."""

MAX_OTEL_SLOW_QUERY_THRESHOLD_MS = "MAX_OTEL_SLOW_QUERY_THRESHOLD_MS"
"""Statements taking at least this many milliseconds are logged as ``db.slow_query``; read by
``max_otel.instrumentation.slow_queries``, which takes the name from here.
Default: 1000."""

MAX_OTEL_PSEUDONYM_KEY = _redaction_environment.PSEUDONYM_KEY
"""Secret (at least 32 characters) used to pseudonymise phone numbers and other identifiers,
the same in every service. When missing, the process still runs: such values are masked
(``***``) instead of pseudonymised and one warning says how to set the key."""

MAX_OTEL_PSEUDONYM_KEY_FILE = _redaction_environment.PSEUDONYM_KEY_FILE
"""Path of a file holding the pseudonym secret, instead of ``MAX_OTEL_PSEUDONYM_KEY``."""

MAX_OTEL_PSEUDONYM_KEY_ID = _redaction_environment.PSEUDONYM_KEY_ID
"""Short name of the pseudonym secret written into each pseudonym. Default: ``k1``."""

_DEFAULT_ENVIRONMENT = "development"
_DEFAULT_SERVICE_VERSION = "unknown"
_DEFAULT_BAGGAGE_KEYS = ("conversation_id", "team_id", "agent_id", "channel")
_DEFAULT_DROP_PARENTLESS_SPANS = "redis"
_DEFAULT_REDACT_SPANS = True
_DEFAULT_LOG_STDOUT = "json"
_DEFAULT_LOG_LEVEL = "INFO"
_DEFAULT_ASGI_EXCLUDE_SPANS = ("receive", "send")
_DEFAULT_SLOW_QUERY_LOGGING = True

OTEL_DEFAULTS: dict[str, str] = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317",
    "OTEL_PROPAGATORS": "tracecontext,baggage",
    # No metric exemplars: nothing reads them (the collector's Prometheus exporter serves
    # them only in OpenMetrics format, which is off, and no dashboard queries them), and the
    # SDK's default (trace_based) offers every measurement taken inside a sampled span to an
    # exemplar reservoir: 4 offers per HTTP request. OTEL_METRICS_EXEMPLAR_FILTER=trace_based
    # brings them back.
    "OTEL_METRICS_EXEMPLAR_FILTER": "always_off",
    # With opentelemetry-distro installed too, the first configurator found would win.
    "OTEL_PYTHON_CONFIGURATOR": "max_otel",
}
"""The ``OTEL_*`` defaults the distro sets with ``os.environ.setdefault`` (user values win)."""

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off"})
