"""The service's own metrics, served in Prometheus text format, never sent through OTLP.

The processor sits inside the telemetry pipeline; exporting its own telemetry through the
collector would feed it back to itself. Instead each worker serves its metrics over HTTP with
the OpenTelemetry SDK's Prometheus reader: worker ``i`` on ``metrics_listen`` port ``+ i``
(scrape them all, or sum over the ``instance`` label)::

    metrics = ProcessorMetrics.start("127.0.0.1:9464", worker=0)
    metrics.record_batch("traces", result, seconds=0.004, outcome="ok")

Series (Prometheus names): ``max_otel_processor_items_total{signal}``,
``max_otel_processor_redactions_total{signal,rule}``,
``max_otel_processor_batch_duration_seconds{signal,outcome}`` (histogram; outcome is ok,
invalid, forward_error or internal_error),
``max_otel_processor_forward_errors_total{signal,code}`` and ``max_otel_processor_workers``
(1 per endpoint); ``target_info`` carries the worker index (``max_otel_processor_worker``).

Contract: recording never raises into the request path, and a metrics port that cannot be
bound is logged and skipped (the service runs without metrics).

Items and redactions are counted in plain dicts on the request path and reported by the
counters' callbacks at each scrape: an SDK ``Counter.add`` per rule and batch cost more
than a tenth of a millisecond per batch in the service, a dict update a microsecond.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import REGISTRY, start_http_server

from max_otel.processors.otlp import RedactionResult

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ProcessorMetrics:
    """The four instruments of one worker."""

    def __init__(self, provider: MeterProvider) -> None:
        self._provider = provider
        # Running totals, read by the scrape's callbacks (a dict copy is atomic under the GIL).
        self._items: dict[str, int] = {}
        self._redactions: dict[tuple[str, str], int] = {}
        meter = provider.get_meter("max_otel.processors.service")
        meter.create_observable_counter(
            "max_otel.processor.items",
            [self._observe_items],
            "{item}",
            "Spans, log records and metrics processed.",
        )
        meter.create_observable_counter(
            "max_otel.processor.redactions",
            [self._observe_redactions],
            "{redaction}",
            "Redactions made, by rule.",
        )
        self._latency = meter.create_histogram(
            "max_otel.processor.batch.duration",
            "s",
            "Time to redact and forward one export request.",
            explicit_bucket_boundaries_advisory=_LATENCY_BUCKETS,
        )
        self._forward_errors = meter.create_counter(
            "max_otel.processor.forward.errors",
            "{error}",
            "Batches the next hop did not accept, by the next hop's status code.",
        )
        # 1 on each worker's endpoint: summed over the endpoints, the number of live workers.
        meter.create_up_down_counter(
            "max_otel.processor.workers", "{worker}", "Worker processes serving."
        ).add(1)

    @classmethod
    def start(cls, listen: str, worker: int) -> ProcessorMetrics:
        """Create the instruments and serve them on ``listen`` port ``+ worker`` ("" = don't)."""
        reader = PrometheusMetricReader()
        provider = MeterProvider(
            metric_readers=[reader],
            resource=Resource.create(
                {"service.name": "max-otel-processor", "max_otel.processor.worker": worker}
            ),
        )
        if listen:
            host, _, port = listen.rpartition(":")
            address = f"{host}:{int(port) + worker}"
            try:
                start_http_server(int(port) + worker, addr=host.strip("[]"), registry=REGISTRY)
            except OSError as error:
                logger.warning("metrics endpoint %s not served: %s", address, error)
            else:
                logger.info("metrics served at http://%s/metrics", address)
        return cls(provider)

    def record_batch(
        self, signal: str, result: RedactionResult | None, seconds: float, outcome: str
    ) -> None:
        """Record one export request; never raises."""
        try:
            if result is not None:
                items = self._items
                items[signal] = items.get(signal, 0) + result.items
                redactions = self._redactions
                for rule, count in result.hits.items():
                    series = (signal, rule)
                    redactions[series] = redactions.get(series, 0) + count
            self._latency.record(seconds, {"signal": signal, "outcome": outcome})
        except Exception:  # metrics must never fail a request
            logger.exception("recording processor metrics failed")

    def _observe_items(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(total, {"signal": signal}) for signal, total in self._items.copy().items()
        ]

    def _observe_redactions(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(total, {"signal": signal, "rule": rule})
            for (signal, rule), total in self._redactions.copy().items()
        ]

    def record_forward_error(self, signal: str, code: str) -> None:
        """Count a batch the next hop refused or did not answer; never raises."""
        try:
            self._forward_errors.add(1, {"signal": signal, "code": code})
        except Exception:
            logger.exception("recording processor metrics failed")

    def shutdown(self) -> None:
        self._provider.shutdown()
