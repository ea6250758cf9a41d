"""Readiness checks: named blocking probes, run concurrently, each with its own timeout.

A probe is a blocking callable that raises (or returns ``False``) when its dependency is not
usable. :class:`Readiness` runs every probe in a worker thread of its own small pool, so the
event loop never blocks, and waits for each at most its ``timeout_seconds``::

    readiness = Readiness([
        HealthCheck("database", database_probe(engine), timeout_seconds=2),
        HealthCheck("redis", redis_probe(redis_client), timeout_seconds=1),
        HealthCheck("celery", celery_broker_probe(celery_app), timeout_seconds=2),
    ])
    report = await readiness.check()     # ReadinessReport(checks={"database": True, ...})
    report.as_json()                      # {"status": "ready", "checks": {...: "healthy"}}

Concurrent callers share a probe that is still running (a load balancer probing every second
never piles up threads): a probe that hangs past its timeout is reported unhealthy, and no
second copy of it starts until it returns. The probe itself should also bound its own waits
(a connect timeout), since a thread cannot be stopped from outside.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry.instrumentation.utils import suppress_instrumentation

logger = logging.getLogger(__name__)

_DEFAULT_TIMEOUT_SECONDS = 2.0
_DEFAULT_METRICS_MAX_AGE_SECONDS = 30.0

Probe = Callable[[], object]
"""Blocking; raises or returns ``False`` when the dependency is not usable."""


@dataclass(frozen=True)
class HealthCheck:
    """One dependency to check: its name in the JSON, its probe, its own timeout."""

    name: str
    probe: Probe
    timeout_seconds: float = _DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name must be a non-empty string; got ''")
        if not self.timeout_seconds > 0:
            raise ValueError(
                f"timeout_seconds of check {self.name!r} must be positive; "
                f"got {self.timeout_seconds}"
            )


@dataclass(frozen=True)
class ReadinessReport:
    """The outcome of one readiness run: each check's name and whether it passed."""

    checks: Mapping[str, bool]
    checked_at: float = field(default_factory=time.monotonic)

    @property
    def ready(self) -> bool:
        """True when every check passed (also when there is no check at all)."""
        return all(self.checks.values())

    def as_json(self) -> dict[str, object]:
        """The spec's body: ``{"status": "ready"|"not_ready", "checks": {name: ...}}``."""
        return {
            "status": "ready" if self.ready else "not_ready",
            "checks": {name: "healthy" if ok else "unhealthy" for name, ok in self.checks.items()},
        }


def _passes(probe: Probe) -> bool:
    # Probes run every few seconds in a background thread: tracing them would add a stand-alone
    # trace (PING, SELECT 1, connect...) per probe to every backend.
    with suppress_instrumentation():
        return probe() is not False


class Readiness:
    """Runs a fixed set of :class:`HealthCheck` s; thread-safe; never raises from a check."""

    def __init__(self, checks: Sequence[HealthCheck]) -> None:
        names = [check.name for check in checks]
        if len(set(names)) != len(names):
            raise ValueError(f"check names must be unique; got {names}")
        self.checks = tuple(checks)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, len(self.checks)), thread_name_prefix="max-otel-health"
        )
        self._lock = threading.Lock()
        self._running: dict[str, concurrent.futures.Future[bool]] = {}
        self._last: ReadinessReport | None = None
        self._last_state: dict[str, bool] = {}

    def _start(self, check: HealthCheck) -> concurrent.futures.Future[bool]:
        """The running probe of ``check``, started now unless one is still in flight."""
        with self._lock:
            future = self._running.get(check.name)
            if future is None or future.done():
                future = self._pool.submit(_passes, check.probe)
                self._running[check.name] = future
            return future

    def _outcome(self, check: HealthCheck, future: concurrent.futures.Future[bool]) -> bool:
        if not future.done():
            ok, reason = False, f"no answer within {check.timeout_seconds}s"
        elif future.cancelled():
            ok, reason = False, "cancelled"
        elif future.exception() is not None:
            error = future.exception()
            ok, reason = False, f"{type(error).__name__}: {error}"
        else:
            ok, reason = future.result(), "probe returned False"
        previous = self._last_state.get(check.name)
        if ok != previous:
            if ok:
                logger.info("max-otel: readiness check %s passes", check.name)
            else:
                logger.warning("max-otel: readiness check %s fails (%s)", check.name, reason)
        self._last_state[check.name] = ok
        return ok

    def _report(self, outcomes: dict[str, bool]) -> ReadinessReport:
        report = ReadinessReport(checks=outcomes)
        self._last = report
        return report

    async def check(self) -> ReadinessReport:
        """Run every check concurrently without blocking the event loop."""
        futures = [(check, self._start(check)) for check in self.checks]
        waits = [
            asyncio.wait({asyncio.wrap_future(future)}, timeout=check.timeout_seconds)
            for check, future in futures
        ]
        await asyncio.gather(*waits)
        return self._report({check.name: self._outcome(check, f) for check, f in futures})

    def check_blocking(self) -> ReadinessReport:
        """Run every check concurrently, blocking the calling thread (not for event loops)."""
        futures = [(check, self._start(check)) for check in self.checks]
        started = time.monotonic()
        for check, future in futures:
            remaining = check.timeout_seconds - (time.monotonic() - started)
            concurrent.futures.wait([future], timeout=max(0.0, remaining))
        return self._report({check.name: self._outcome(check, f) for check, f in futures})

    def results_for_metrics(
        self, max_age_seconds: float = _DEFAULT_METRICS_MAX_AGE_SECONDS
    ) -> dict[str, bool]:
        """The last results if younger than ``max_age_seconds``, else a fresh blocking run.

        Meant as the source of ``dependency_up`` (``observe_dependencies``): the gauge stays
        current even when nothing probes ``/health/ready``. A fresh run blocks the calling
        thread (the metric reader's) for at most the longest check timeout.
        """
        last = self._last
        if last is None or time.monotonic() - last.checked_at > max_age_seconds:
            try:
                last = self.check_blocking()
            except RuntimeError:  # the pool is shut down: at exit, the final collection
                return dict(self._last_state)
        return dict(last.checks)

    def close(self) -> None:
        """Stop the worker threads once running probes return."""
        self._pool.shutdown(wait=False, cancel_futures=True)
