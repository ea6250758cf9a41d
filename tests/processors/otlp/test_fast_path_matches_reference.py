"""Differential property tests: the fast path returns what the decode-everything walker returns.

Run against the real redaction engine (packaged rules), walked by the compiled walk and by
the pure-Python fast path, and against a small engine double (with and without the optional
one-call pre-filter ``might_contain_pii_many``), on generated trace, log and metric requests
with PII seeded in random places.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from max_otel.processors.otlp import (
    RedactionEngine,
    RedactionResult,
    redact_logs,
    redact_metrics,
    redact_traces,
    reference_redact_logs,
    reference_redact_metrics,
    reference_redact_traces,
)
from tests.processors.otlp.engine_double import EngineDouble
from tests.processors.otlp.engines import ENGINE_NAMES, engine_named
from tests.processors.otlp.strategies import log_requests, metric_requests, trace_requests

pytestmark = pytest.mark.unit

Walker = Callable[[RedactionEngine, bytes], RedactionResult]

_SIGNALS: dict[str, tuple[st.SearchStrategy[bytes], Walker, Walker]] = {
    "traces": (trace_requests(), redact_traces, reference_redact_traces),
    "logs": (log_requests(), redact_logs, reference_redact_logs),
    "metrics": (metric_requests(), redact_metrics, reference_redact_metrics),
}


def _assert_same(engine: RedactionEngine, request: bytes, fast: Walker, reference: Walker) -> None:
    expected = reference(engine, request)
    actual = fast(engine, request)
    assert actual.data == expected.data
    assert actual.items == expected.items
    assert actual.changed_items == expected.changed_items
    assert actual.hits == expected.hits


@pytest.mark.parametrize("engine_name", ENGINE_NAMES)
@pytest.mark.parametrize("signal", sorted(_SIGNALS))
def test_fast_path_gives_the_reference_result_byte_for_byte(signal: str, engine_name: str) -> None:
    strategy, fast, reference = _SIGNALS[signal]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(request: bytes) -> None:
        with engine_named(engine_name) as engine:
            _assert_same(engine, request, fast, reference)

    check()


def test_walking_twice_changes_nothing_more() -> None:
    """With an idempotent engine the walk is idempotent: no second ``redaction.count``.

    Checked with the engine double: the engine's own idempotence is the engine's tests' job.
    """
    engine = EngineDouble()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(trace_requests())
    def check(request: bytes) -> None:
        once = redact_traces(engine, request).data
        twice = redact_traces(engine, once)
        assert twice.data == once
        assert twice.changed_items == 0

    check()
