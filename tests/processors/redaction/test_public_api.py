"""The package's public names are exactly the documented ones, and the interface other
packages code against behaves as documented."""

from __future__ import annotations

from collections import Counter

import pytest

import max_otel.processors.redaction as redaction
from max_otel.processors.redaction import (
    DROP,
    ConfigurationError,
    PseudonymKey,
    RedactionHits,
    Redactor,
    load_rules,
)

pytestmark = pytest.mark.unit

DOCUMENTED = [
    "BUILTIN_DETECTOR_NAMES",
    "DROP",
    "PSEUDONYM_PATTERN",
    "ConfigurationError",
    "CustomDetector",
    "KeyRule",
    "PseudonymKey",
    "RedactionHits",
    "RedactionRules",
    "Redactor",
    "load_rules",
    "normalise_key",
    "rules_from_mapping",
]


def isort_order(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetical (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_documented() -> None:
    assert redaction.__all__ == sorted(redaction.__all__, key=isort_order) == DOCUMENTED
    for name in DOCUMENTED:
        assert hasattr(redaction, name)


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)


def test_hits_is_a_counter_the_caller_owns(redactor: Redactor) -> None:
    hits = RedactionHits()
    assert isinstance(hits, Counter)
    before = sum(hits.values())
    redactor.redact_attributes({"password": "x", "team_id": 1}, hits)
    assert sum(hits.values()) == before + 1


def test_drop_sentinel_is_shared() -> None:
    assert Redactor.DROP is DROP
    assert repr(DROP) == "DROP"


def test_redactor_from_the_environment_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_OTEL_PSEUDONYM_KEY", "k" * 40)
    monkeypatch.delenv("MAX_OTEL_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.delenv("MAX_OTEL_PSEUDONYM_KEY_ID", raising=False)
    redactor = Redactor(load_rules(None), PseudonymKey.from_environment())
    assert redactor.redact_value("phone", "+14155550123", Counter()) == (
        PseudonymKey(b"k" * 40, "k1").pseudonymise("phone", "+14155550123")
    )


def test_find_pii_lists_what_would_be_replaced(redactor: Redactor) -> None:
    assert redactor.find_pii("mail ana@example.com, card 4111111111111111, id 42") == [
        ("email_address", "ana@example.com"),
        ("payment_card", "4111111111111111"),
    ]
