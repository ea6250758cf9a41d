"""A real SDK MeterProvider with an in-memory reader, and a way to read points by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


class Collected:
    """Collects the provider's metrics and answers questions about them."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self.reader = reader

    def points(self) -> dict[str, list[Any]]:
        """Metric name -> its data points, from one collection."""
        found: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return found
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def values(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """Sorted attribute items -> value (or the point itself for histograms)."""
        result = {}
        for point in self.points().get(name, []):
            key = tuple(sorted((point.attributes or {}).items()))
            result[key] = getattr(point, "value", point)
        return result


@pytest.fixture
def provider() -> Iterator[tuple[MeterProvider, Collected]]:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield meter_provider, Collected(reader)
    meter_provider.shutdown()
