"""A small typed API for services to record the catalogue's per-process metrics.

Each method records one domain event; label values are typed (``Literal``) where the spec
fixes them, so a typo is a type error rather than a new time series. Methods never raise: a
failure is logged once and the call returns (telemetry never breaks a request)::

    from max_otel.instrumentation.metrics import MaxMetrics

    metrics = MaxMetrics()                                  # global MeterProvider
    metrics.conversation_created(channel="whatsapp", team="sales")
    metrics.first_response(team="sales", seconds=120.5, agent_id="a-17")
    metrics.message(direction="outbound", channel="whatsapp", status="sent")
    metrics.integration_request(adapter="hubspot", operation="create_contact",
                                succeeded=False, seconds=2.0)   # status="failed"

Gauges read from the database (active conversations, queue backlog, agent load) are not
recorded here: see :class:`DatabaseGaugeCollector`.
"""

from __future__ import annotations

from typing import Literal, cast

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import Counter, Histogram, Meter, UpDownCounter

from max_otel.instrumentation.metrics._catalogue import CATALOGUE, MetricKind
from max_otel.instrumentation.metrics._instruments import (
    Gauge,
    SyncInstrument,
    create_instrument,
    never_raises,
)
from max_otel.instrumentation.slow_queries.threshold import slow_query_threshold_seconds

METER_NAME = "max_otel.metrics"
"""Instrumentation scope of every catalogue metric."""

_DEFAULT_SLOW_QUERY_SECONDS = 1.0

Direction = Literal["inbound", "outbound"]
MessageStatus = Literal["received", "sent", "delivered", "failed"]
CircuitState = Literal["closed", "half_open", "open"]
TaskStatus = Literal["succeeded", "failed", "retried"]

CIRCUIT_STATE_VALUES: dict[CircuitState, int] = {"closed": 0, "half_open": 1, "open": 2}
"""The value ``integration_circuit_breaker_state`` takes for each breaker state."""


def _logged_slow_query_seconds() -> float:
    """The slow-query log threshold; the spec's 1 s when the setting is unusable (the distro
    reports a bad ``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS`` at start-up, never a request)."""
    try:
        return slow_query_threshold_seconds()
    except ValueError:
        return _DEFAULT_SLOW_QUERY_SECONDS


class MaxMetrics:
    """Records the catalogue's per-process metrics on one ``Meter``.

    ``meter`` defaults to the global MeterProvider's meter ``max_otel.metrics`` (set up by the
    distro; before that, the API's proxy forwards to it once set). ``slow_query_seconds`` is
    the threshold of ``db_slow_queries_total``; by default the one the ``db.slow_query`` log
    events use (``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS``, else the spec's 1 s), so the counter and
    the log lines count the same statements.
    """

    def __init__(
        self, meter: Meter | None = None, *, slow_query_seconds: float | None = None
    ) -> None:
        self._meter = meter or otel_metrics.get_meter(METER_NAME)
        self.slow_query_seconds = (
            _logged_slow_query_seconds() if slow_query_seconds is None else slow_query_seconds
        )
        self._instruments: dict[str, SyncInstrument] = {
            metric.name: create_instrument(self._meter, metric)
            for metric in CATALOGUE
            if metric.kind
            in (
                MetricKind.COUNTER,
                MetricKind.UP_DOWN_COUNTER,
                MetricKind.HISTOGRAM,
                MetricKind.GAUGE,
            )
        }

    def _counter(self, name: str) -> Counter:
        return cast(Counter, self._instruments[name])

    def _up_down(self, name: str) -> UpDownCounter:
        return cast(UpDownCounter, self._instruments[name])

    def _histogram(self, name: str) -> Histogram:
        return cast(Histogram, self._instruments[name])

    def _gauge(self, name: str) -> Gauge:
        return cast(Gauge, self._instruments[name])

    # --- Conversations ------------------------------------------------------------------------

    @never_raises
    def conversation_created(self, *, channel: str, team: str) -> None:
        """A new conversation: ``conversations_total{channel,team}`` + 1."""
        self._counter("conversations_total").add(1, {"channel": channel, "team": team})

    @never_raises
    def conversation_assigned(self, *, team: str, queue_seconds: float) -> None:
        """A queued conversation was assigned after ``queue_seconds``: time in queue."""
        self._histogram("queue_time_seconds").record(queue_seconds, {"team": team})

    @never_raises
    def first_response(self, *, team: str, seconds: float, agent_id: str | None = None) -> None:
        """The first agent reply, ``seconds`` after the conversation started (FRT)."""
        self._histogram("first_response_time_seconds").record(seconds, {"team": team})
        if agent_id is not None:
            self._histogram("agent_first_response_time_seconds").record(
                seconds, {"agent_id": agent_id}
            )

    @never_raises
    def conversation_closed(
        self, *, channel: str, team: str, resolution_seconds: float | None = None
    ) -> None:
        """A conversation closed; with ``resolution_seconds``, its resolution time too."""
        self._counter("conversations_closed_total").add(1, {"channel": channel, "team": team})
        if resolution_seconds is not None:
            self._histogram("resolution_time_seconds").record(resolution_seconds, {"team": team})

    # --- Messages -----------------------------------------------------------------------------

    @never_raises
    def message(
        self,
        *,
        direction: Direction,
        channel: str,
        status: MessageStatus,
        agent_id: str | None = None,
    ) -> None:
        """One message; an outbound ``sent`` message with ``agent_id`` counts for the agent."""
        self._counter("messages_total").add(
            1, {"direction": direction, "channel": channel, "status": status}
        )
        if agent_id is not None and direction == "outbound" and status == "sent":
            self._counter("agent_messages_sent_total").add(1, {"agent_id": agent_id})

    # --- Integrations -------------------------------------------------------------------------

    @never_raises
    def integration_request(
        self, *, adapter: str, operation: str, succeeded: bool, seconds: float
    ) -> None:
        """One call to an integration; a timeout or an error is ``succeeded=False``.

        Records ``integration_requests_total{adapter,operation,status}`` with status
        ``success`` or ``failed`` and ``integration_latency_seconds{adapter,operation}``.
        """
        status = "success" if succeeded else "failed"
        self._counter("integration_requests_total").add(
            1, {"adapter": adapter, "operation": operation, "status": status}
        )
        self._histogram("integration_latency_seconds").record(
            seconds, {"adapter": adapter, "operation": operation}
        )

    @never_raises
    def circuit_breaker_state(self, *, adapter: str, state: CircuitState) -> None:
        """The adapter's circuit breaker changed state in this process (0/1/2, see above)."""
        self._gauge("integration_circuit_breaker_state").set(
            CIRCUIT_STATE_VALUES[state], {"adapter": adapter}
        )

    @never_raises
    def integration_cache(self, *, adapter: str, hit: bool) -> None:
        """One cache look-up in front of an adapter (hit rate = hit / all)."""
        self._counter("integration_cache_requests_total").add(
            1, {"adapter": adapter, "result": "hit" if hit else "miss"}
        )

    # --- Database and workers -----------------------------------------------------------------

    @never_raises
    def db_query(self, *, operation: str, seconds: float) -> None:
        """One SQL statement; at or above ``slow_query_seconds`` it also counts as slow."""
        attributes = {"operation": operation}
        self._histogram("db_query_duration_seconds").record(seconds, attributes)
        if seconds >= self.slow_query_seconds:
            self._counter("db_slow_queries_total").add(1, attributes)

    @never_raises
    def task_started(self) -> None:
        """A Celery task started in this worker process (``celery_workers_busy`` + 1)."""
        self._up_down("celery_workers_busy").add(1)

    @never_raises
    def task_finished(self, *, task: str, status: TaskStatus, seconds: float | None) -> None:
        """A Celery task ended with ``status`` after ``seconds`` (None when unknown)."""
        attributes = {"task": task, "status": status}
        self._counter("celery_tasks_total").add(1, attributes)
        if seconds is not None:
            self._histogram("celery_task_duration_seconds").record(seconds, attributes)

    @never_raises
    def task_released(self) -> None:
        """The task that :meth:`task_started` counted is no longer running."""
        self._up_down("celery_workers_busy").add(-1)

    # --- WebSockets ---------------------------------------------------------------------------

    @never_raises
    def websocket_connected(self, *, resumed: bool = False) -> None:
        """A WebSocket opened; ``resumed`` when the client reconnected to its session."""
        self._up_down("websocket_connections_active").add(1)
        if resumed:
            self._counter("websocket_reconnections_total").add(1)

    @never_raises
    def websocket_disconnected(self) -> None:
        """A WebSocket closed, for any reason."""
        self._up_down("websocket_connections_active").add(-1)

    @never_raises
    def websocket_message(self, *, direction: Direction) -> None:
        """One WebSocket message in or out."""
        self._counter("websocket_messages_total").add(1, {"direction": direction})

    @never_raises
    def websocket_error(self, *, reason: str) -> None:
        """A WebSocket connection error (handshake refused, protocol error, send failed...)."""
        self._counter("websocket_errors_total").add(1, {"reason": reason})
