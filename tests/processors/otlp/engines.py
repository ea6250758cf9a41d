"""The real redaction engine as the walker and service tests use it."""

from __future__ import annotations

from max_otel.processors.otlp import RedactionEngine

TEST_PSEUDONYM_KEY = "test-pseudonym-key-not-secret-0123456789"


def real_engine() -> RedactionEngine:
    """A ``Redactor`` with the packaged rules and a fixed test key."""
    from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

    engine: RedactionEngine = Redactor(
        load_rules(None), PseudonymKey(TEST_PSEUDONYM_KEY.encode(), "k1")
    )
    return engine
