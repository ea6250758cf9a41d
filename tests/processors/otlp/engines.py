"""The engines the walker and service tests use, and the walk each is run with.

``real`` is the redaction engine with the packaged rules and a fixed test key, walked by the
compiled walk (``max_otel_native``, which the set-up builds); ``real-python-walk`` the same
engine walked by the pure-Python fast path; ``double`` and ``double-batch-scan`` small engine
doubles (they give no pre-filter patterns, so the pure-Python fast path walks them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from max_otel.processors.otlp import RedactionEngine, native
from tests.processors.otlp.engine_double import BatchScanEngineDouble, EngineDouble

TEST_PSEUDONYM_KEY = "test-pseudonym-key-not-secret-0123456789"
ENGINE_NAMES = ("double", "double-batch-scan", "real", "real-python-walk")

_REAL: list[RedactionEngine] = []


def real_engine() -> RedactionEngine:
    """A ``Redactor`` with the packaged rules and a fixed test key (built once)."""
    from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

    if not _REAL:
        _REAL.append(Redactor(load_rules(None), PseudonymKey(TEST_PSEUDONYM_KEY.encode(), "k1")))
    return _REAL[0]


@contextmanager
def engine_named(name: str) -> Iterator[RedactionEngine]:
    """The engine called ``name`` (see the module docstring), its walk chosen while inside."""
    if name == "double":
        yield EngineDouble()
        return
    if name == "double-batch-scan":
        yield BatchScanEngineDouble()
        return
    native.use_native(name != "real-python-walk")
    try:
        yield real_engine()
    finally:
        native.use_native(True)
