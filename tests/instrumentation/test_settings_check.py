"""Bad OTEL_* / MAX_OTEL_* values: one line naming the variable and the fix; defaults used."""

from __future__ import annotations

import pytest

from max_otel.instrumentation.settings_check import (
    InstalledComponents,
    check_environment,
    installed_components,
)

pytestmark = pytest.mark.unit

INSTALLED = InstalledComponents(
    {
        "opentelemetry_traces_exporter": frozenset({"console", "otlp_proto_grpc"}),
        "opentelemetry_metrics_exporter": frozenset({"console", "otlp_proto_grpc"}),
        "opentelemetry_logs_exporter": frozenset({"console", "otlp_proto_grpc"}),
        "opentelemetry_traces_sampler": frozenset({"always_on", "traceidratio"}),
    }
)


def test_good_values_pass_untouched() -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4317",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2.5",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "MAX_OTEL_LOG_LEVEL": "debug",
        "MAX_OTEL_REDACT_SPANS": "false",
        "MAX_OTEL_DROP_PARENTLESS_SPANS": "redis, sqlalchemy",
    }
    before = dict(env)
    assert check_environment(env, INSTALLED) == []
    assert env == before


def test_unknown_exporter_is_named_and_replaced_by_otlp() -> None:
    env = {"OTEL_TRACES_EXPORTER": "bogus"}
    assert check_environment(env, INSTALLED) == [
        "max_otel: OTEL_TRACES_EXPORTER must name installed traces exporters "
        "(console, none, otlp, otlp_proto_grpc); got 'bogus'. "
        "Telemetry continues using 'otlp'; fix or unset OTEL_TRACES_EXPORTER"
    ]
    assert env == {"OTEL_TRACES_EXPORTER": "otlp"}


def test_non_integer_queue_size_is_named_and_removed() -> None:
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "abc"}
    assert check_environment(env, INSTALLED) == [
        "max_otel: OTEL_BSP_MAX_QUEUE_SIZE must be a positive integer; got 'abc'. "
        "Telemetry continues using the default; fix or unset OTEL_BSP_MAX_QUEUE_SIZE"
    ]
    assert env == {}


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", "must be a number of seconds"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http//nowhere", "must be a URL such as"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "must be one of grpc"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zip", "must be one of gzip, deflate, none"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1", "must be an integer >= 0"),
        ("OTEL_TRACES_SAMPLER", "sometimes", "must name installed samplers"),
        ("MAX_OTEL_LOG_STDOUT", "yaml", "must be one of json, off"),
        ("MAX_OTEL_LOG_LEVEL", "LOUD", "must be a logging level"),
        ("MAX_OTEL_REDACT_SPANS", "maybe", "must be true or false"),
        ("MAX_OTEL_BAGGAGE_KEYS", "Conversation", "must be comma-separated lower-case keys"),
        ("MAX_OTEL_ASGI_EXCLUDE_SPANS", "all", "must list receive, send, both or none"),
        ("MAX_OTEL_DROP_PARENTLESS_SPANS", "redis,httpx", "must list redis, sqlalchemy or be"),
        ("OTEL_METRICS_EXEMPLAR_FILTER", "Trace_Based", "must be one of always_off, always_on"),
    ],
)
def test_each_bad_value_gives_one_line_naming_it(name: str, value: str, problem: str) -> None:
    env = {name: value}
    (line,) = check_environment(env, INSTALLED)
    assert line.startswith(f"max_otel: {name} {problem}")
    assert f"got {value!r}" in line
    assert line.endswith(f"fix or unset {name}")
    assert "\n" not in line


def test_bad_endpoint_falls_back_to_the_distro_default() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "not a url"}
    check_environment(env, INSTALLED)
    assert env == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317"}


def test_bad_exemplar_filter_falls_back_to_the_distro_default() -> None:
    env = {"OTEL_METRICS_EXEMPLAR_FILTER": "sometimes"}
    check_environment(env, INSTALLED)
    assert env == {"OTEL_METRICS_EXEMPLAR_FILTER": "always_off"}
    chosen = {"OTEL_METRICS_EXEMPLAR_FILTER": "trace_based"}
    assert check_environment(chosen, INSTALLED) == []


def test_sampler_ratio_is_checked_for_ratio_samplers_only() -> None:
    env = {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}
    (line,) = check_environment(env, INSTALLED)
    assert "OTEL_TRACES_SAMPLER_ARG must be a sampling ratio from 0 to 1" in line
    assert check_environment({"OTEL_TRACES_SAMPLER_ARG": "2"}, INSTALLED) == []


def test_batch_larger_than_queue_is_reported() -> None:
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512"}
    (line,) = check_environment(env, INSTALLED)
    assert "OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE (100)" in line
    assert env == {"OTEL_BSP_MAX_QUEUE_SIZE": "100"}


def test_empty_values_mean_unset_except_where_empty_means_something() -> None:
    env = {
        "OTEL_BSP_SCHEDULE_DELAY": " ",
        "OTEL_LOGS_EXPORTER": "",
        "MAX_OTEL_ASGI_EXCLUDE_SPANS": "",
        "MAX_OTEL_DROP_PARENTLESS_SPANS": "",
    }
    assert check_environment(env, INSTALLED) == []
    assert env == {
        "OTEL_LOGS_EXPORTER": "",
        "MAX_OTEL_ASGI_EXCLUDE_SPANS": "",
        "MAX_OTEL_DROP_PARENTLESS_SPANS": "",
    }


def test_installed_components_lists_this_environments_entry_points() -> None:
    installed = installed_components()
    assert "otlp_proto_grpc" in installed.of("opentelemetry_traces_exporter")
    assert "parentbased_always_on" in installed.of("opentelemetry_traces_sampler")
