"""Check the ``OTEL_*`` and ``MAX_OTEL_*`` values the distro reads, before the SDK reads them.

A bad value must not cost the service its telemetry or print a traceback: the SDK raises on
``OTEL_TRACES_EXPORTER=bogus`` (no telemetry at all), logs a traceback for
``OTEL_BSP_MAX_QUEUE_SIZE=abc``, and its OTLP exporter raises on
``OTEL_EXPORTER_OTLP_TIMEOUT=soon``. ``check_environment`` finds each bad value, replaces it
by the default (removes it, or sets the distro's default) and returns one line per problem,
naming the variable, the value and the fix; the configurator logs each line once::

    for problem in check_environment(os.environ, installed_components()):
        logger.warning(problem)
    # max_otel: OTEL_BSP_MAX_QUEUE_SIZE must be a positive integer; got 'abc'.
    #   Using the default; fix or unset OTEL_BSP_MAX_QUEUE_SIZE

``OTEL_PROPAGATORS`` cannot be checked here: ``opentelemetry-instrument`` reads it before any
distro runs (a bad value there disables auto-instrumentation, with Python's "Error in
sitecustomize" message).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from urllib.parse import urlparse

from max_otel.instrumentation.environment_variables import (
    FALSE_VALUES,
    MAX_OTEL_ASGI_EXCLUDE_SPANS,
    MAX_OTEL_BAGGAGE_KEYS,
    MAX_OTEL_DROP_PARENTLESS_SPANS,
    MAX_OTEL_LOG_LEVEL,
    MAX_OTEL_LOG_STDOUT,
    MAX_OTEL_REDACT_SPANS,
    MAX_OTEL_SLOW_QUERY_LOGGING,
    OTEL_DEFAULTS,
    TRUE_VALUES,
)
from max_otel.instrumentation.parentless_spans import (
    DROPPABLE_INSTRUMENTATIONS,
    parse_instrumentation_names,
)

SIGNALS = ("TRACES", "METRICS", "LOGS")
EXPORTER_GROUPS = {
    "TRACES": "opentelemetry_traces_exporter",
    "METRICS": "opentelemetry_metrics_exporter",
    "LOGS": "opentelemetry_logs_exporter",
}
SAMPLER_GROUP = "opentelemetry_traces_sampler"
_HTTP_EXPORTER = "otlp_proto_http"

_POSITIVE_INTEGERS = (
    *(f"OTEL_{p}_{n}" for p in ("BSP", "BLRP") for n in ("SCHEDULE_DELAY", "EXPORT_TIMEOUT")),
    *(
        f"OTEL_{p}_{n}"
        for p in ("BSP", "BLRP")
        for n in ("MAX_QUEUE_SIZE", "MAX_EXPORT_BATCH_SIZE")
    ),
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
)
_LIMITS = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
)
_TIMEOUTS = ("OTEL_EXPORTER_OTLP_TIMEOUT", *(f"OTEL_EXPORTER_OTLP_{s}_TIMEOUT" for s in SIGNALS))
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", *(f"OTEL_EXPORTER_OTLP_{s}_ENDPOINT" for s in SIGNALS))
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_PROTOCOL", *(f"OTEL_EXPORTER_OTLP_{s}_PROTOCOL" for s in SIGNALS))
_COMPRESSIONS = (
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    *(f"OTEL_EXPORTER_OTLP_{s}_COMPRESSION" for s in SIGNALS),
)
_INSECURE = ("OTEL_EXPORTER_OTLP_INSECURE", *(f"OTEL_EXPORTER_OTLP_{s}_INSECURE" for s in SIGNALS))
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
_EXEMPLAR_FILTERS = ("always_off", "always_on", "trace_based")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL")
_BAGGAGE_KEY = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}")

_EMPTY_IS_A_VALUE = frozenset(
    {
        *(f"OTEL_{signal}_EXPORTER" for signal in SIGNALS),
        MAX_OTEL_ASGI_EXCLUDE_SPANS,
        MAX_OTEL_DROP_PARENTLESS_SPANS,
    }
)
"""Variables whose empty value means something (no exporters; record both ASGI spans; keep
every parentless span)."""

Check = Callable[[str], "str | None"]


@dataclass(frozen=True)
class InstalledComponents:
    """Entry point names the environment can choose from (per group)."""

    names: Mapping[str, frozenset[str]]

    def of(self, group: str) -> frozenset[str]:
        return self.names.get(group, frozenset())


def installed_components() -> InstalledComponents:
    """The exporter and sampler entry points installed in this environment."""
    from opentelemetry.util._importlib_metadata import entry_points

    groups = (*EXPORTER_GROUPS.values(), SAMPLER_GROUP)
    return InstalledComponents(
        {group: frozenset(ep.name for ep in entry_points(group=group)) for group in groups}
    )


def _integer(minimum: int) -> Check:
    def check(value: str) -> str | None:
        try:
            number = int(value.strip())
        except ValueError:
            number = minimum - 1
        if number < minimum:
            return "must be a positive integer" if minimum > 0 else "must be an integer >= 0"
        return None

    return check


def _seconds(value: str) -> str | None:
    try:
        number = float(value.strip())
    except ValueError:
        return "must be a number of seconds"
    return None if number > 0 and math.isfinite(number) else "must be a number of seconds > 0"


def _endpoint(value: str) -> str | None:
    text = value.strip()
    parsed = urlparse(text)
    if parsed.scheme in ("http", "https") and parsed.hostname and " " not in text:
        try:
            parsed.port  # noqa: B018  (raises ValueError for a port out of range)
        except ValueError:
            return "must be a URL such as http://localhost:4317"
        return None
    if _HOST_PORT.fullmatch(text):
        return None
    return "must be a URL such as http://localhost:4317"


def _one_of(choices: tuple[str, ...], lower: bool = True) -> Check:
    def check(value: str) -> str | None:
        text = value.strip().lower() if lower else value.strip()
        return None if text in choices else f"must be one of {', '.join(choices)}"

    return check


def _boolean(value: str) -> str | None:
    return None if value.strip().lower() in TRUE_VALUES | FALSE_VALUES else "must be true or false"


def _names(known: frozenset[str], what: str) -> Check:
    def check(value: str) -> str | None:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if names and not unknown:
            return None
        return f"must name installed {what} ({', '.join(sorted(known))})"

    return check


def _log_level(value: str) -> str | None:
    return None if value.strip().upper() in _LOG_LEVELS else "must be a logging level such as INFO"


def _baggage_keys(value: str) -> str | None:
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if all(_BAGGAGE_KEY.fullmatch(key) for key in keys):
        return None
    return "must be comma-separated lower-case keys such as conversation_id,team_id"


def _asgi_spans(value: str) -> str | None:
    spans = [span.strip() for span in value.split(",") if span.strip()]
    return None if set(spans) <= {"receive", "send"} else "must list receive, send, both or none"


def _droppable(value: str) -> str | None:
    if parse_instrumentation_names(value) <= DROPPABLE_INSTRUMENTATIONS:
        return None
    return f"must list {', '.join(sorted(DROPPABLE_INSTRUMENTATIONS))} or be empty"


def _checks(env: Mapping[str, str], installed: InstalledComponents) -> list[tuple[str, Check]]:
    protocols: tuple[str, ...] = ("grpc",)
    if _HTTP_EXPORTER in installed.of(EXPORTER_GROUPS["TRACES"]):
        protocols = ("grpc", "http/protobuf")
    checks: list[tuple[str, Check]] = [(name, _integer(1)) for name in _POSITIVE_INTEGERS]
    checks += [(name, _integer(0)) for name in _LIMITS]
    checks += [(name, _seconds) for name in _TIMEOUTS]
    checks += [(name, _endpoint) for name in _ENDPOINTS]
    checks += [(name, _one_of(protocols)) for name in _PROTOCOLS]
    checks += [(name, _one_of(("gzip", "deflate", "none"))) for name in _COMPRESSIONS]
    checks += [(name, _boolean) for name in _INSECURE]
    for signal, group in EXPORTER_GROUPS.items():
        known = installed.of(group) | {"otlp", "none"}
        checks.append((f"OTEL_{signal}_EXPORTER", _names(known, f"{signal.lower()} exporters")))
    checks.append(("OTEL_TRACES_SAMPLER", _names(installed.of(SAMPLER_GROUP), "samplers")))
    if env.get("OTEL_TRACES_SAMPLER", "").strip() in _RATIO_SAMPLERS:
        checks.append(("OTEL_TRACES_SAMPLER_ARG", _ratio))
    checks += [
        # The SDK compares the name exactly and raises on anything else (no metrics at all).
        ("OTEL_METRICS_EXEMPLAR_FILTER", _one_of(_EXEMPLAR_FILTERS, lower=False)),
        (MAX_OTEL_REDACT_SPANS, _boolean),
        (MAX_OTEL_LOG_STDOUT, _one_of(("json", "off"))),
        (MAX_OTEL_LOG_LEVEL, _log_level),
        (MAX_OTEL_BAGGAGE_KEYS, _baggage_keys),
        (MAX_OTEL_ASGI_EXCLUDE_SPANS, _asgi_spans),
        (MAX_OTEL_DROP_PARENTLESS_SPANS, _droppable),
        (MAX_OTEL_SLOW_QUERY_LOGGING, _boolean),
    ]
    return checks


def _ratio(value: str) -> str | None:
    try:
        ratio = float(value.strip())
    except ValueError:
        return "must be a sampling ratio from 0 to 1"
    return None if 0.0 <= ratio <= 1.0 else "must be a sampling ratio from 0 to 1"


def _fix(env: MutableMapping[str, str], name: str) -> str:
    """Replace the bad value of ``name`` by the distro's default (or remove it)."""
    default = OTEL_DEFAULTS.get(name)
    if default is None:
        env.pop(name, None)
        return "using the default"
    env[name] = default
    return f"using {default!r}"


def check_environment(env: MutableMapping[str, str], installed: InstalledComponents) -> list[str]:
    """Replace each bad value in ``env`` by its default; return one message per problem."""
    problems: list[str] = []
    for name, check in _checks(env, installed):
        value = env.get(name)
        if value is None:
            continue
        if not value.strip():
            if name not in _EMPTY_IS_A_VALUE:
                env.pop(name)  # empty means unset; the SDK would choke on it
            continue
        problem = check(value)
        if problem is None:
            continue
        fallback = _fix(env, name)
        problems.append(
            f"max_otel: {name} {problem}; got {value[:80]!r}. "
            f"Telemetry continues {fallback}; fix or unset {name}"
        )
    for prefix in ("BSP", "BLRP"):
        queue = env.get(f"OTEL_{prefix}_MAX_QUEUE_SIZE", "2048")
        batch_name = f"OTEL_{prefix}_MAX_EXPORT_BATCH_SIZE"
        batch = env.get(batch_name)
        if batch is not None and int(batch) > int(queue):
            env.pop(batch_name)
            problems.append(
                f"max_otel: {batch_name} must not exceed OTEL_{prefix}_MAX_QUEUE_SIZE ({queue}); "
                f"got {batch!r}. Telemetry continues using the default; fix or unset {batch_name}"
            )
    return problems
