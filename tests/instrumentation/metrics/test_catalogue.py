"""The catalogue holds the spec's metrics, named so Prometheus shows the same names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import max_otel.instrumentation.health as health
import max_otel.instrumentation.metrics as metrics
from max_otel.instrumentation.metrics import CATALOGUE, MetricKind, Source, definition

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"

# Prometheus unit words the exporter would append for the units the catalogue uses.
_UNIT_WORDS = {"s": "seconds", "By": "bytes", "1": "ratio"}


def test_spec_metrics_have_the_spec_names_labels_and_buckets() -> None:
    expected = {
        "conversations_total": (MetricKind.COUNTER, ("channel", "team")),
        "conversations_active": (MetricKind.OBSERVABLE_GAUGE, ("team", "status")),
        "first_response_time_seconds": (MetricKind.HISTOGRAM, ("team",)),
        "messages_total": (MetricKind.COUNTER, ("direction", "channel", "status")),
        "integration_requests_total": (MetricKind.COUNTER, ("adapter", "operation", "status")),
        "integration_latency_seconds": (MetricKind.HISTOGRAM, ("adapter", "operation")),
        "agent_active_conversations": (MetricKind.OBSERVABLE_GAUGE, ("agent_id",)),
    }
    for name, (kind, labels) in expected.items():
        metric = definition(name)
        assert (metric.kind, metric.labels) == (kind, labels), name
    assert definition("first_response_time_seconds").buckets == (
        30,
        60,
        120,
        300,
        600,
        1800,
        3600,
    )


def test_database_gauges_are_marked_as_read_from_the_source_of_truth() -> None:
    from_database = {m.name for m in CATALOGUE if m.source is Source.SOURCE_OF_TRUTH}
    assert from_database == {
        "conversations_active",
        "agent_active_conversations",
        "agent_utilization_ratio",
        "celery_queue_length",
    }


@pytest.mark.parametrize("metric", CATALOGUE, ids=lambda m: m.name)
def test_name_is_unchanged_by_the_exporter_with_or_without_suffixes(metric) -> None:
    """The rule of docs/metrics.md: the exporter (with suffixes on) appends ``_total`` to
    monotonic counters, the unit's word to units outside braces, ``_ratio`` to unit-1 gauges,
    each only when the name does not already carry it; the catalogue's names already do."""
    assert re.fullmatch(r"[a-z][a-z0-9_]*", metric.name)
    tokens = metric.name.split("_")
    unit = metric.unit
    if unit and not unit.startswith("{"):
        assert _UNIT_WORDS[unit] in tokens, f"{metric.name} lacks its unit word"
    monotonic = metric.kind in (MetricKind.COUNTER, MetricKind.OBSERVABLE_COUNTER)
    assert metric.name.endswith("_total") == monotonic
    if metric.kind is MetricKind.HISTOGRAM:
        assert metric.buckets is not None
        assert list(metric.buckets) == sorted(set(metric.buckets))


def test_every_metric_and_public_name_is_documented() -> None:
    docs = DOCS.read_text()
    undocumented = [m.name for m in CATALOGUE if f"`{m.name}" not in docs]
    undocumented += [n for n in metrics.__all__ + health.__all__ if f"`{n}" not in docs]
    assert undocumented == []


def _isort_order(name: str) -> tuple[int, str]:
    """CONSTANTS, then Classes, then functions, each alphabetical (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_public_api_lists_are_sorted() -> None:
    assert metrics.__all__ == sorted(metrics.__all__, key=_isort_order)
    assert health.__all__ == sorted(health.__all__, key=_isort_order)
