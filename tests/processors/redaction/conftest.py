"""Fixtures of the redaction engine tests: the default rules and a fixed pseudonym key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from max_otel.processors.redaction import PseudonymKey, RedactionRules, Redactor, load_rules

TESTDATA = Path(__file__).parent / "testdata"
SECRET = b"test-secret-for-pseudonyms-0123456789"


@pytest.fixture(scope="session")
def key() -> PseudonymKey:
    return PseudonymKey(SECRET, "k1")


@pytest.fixture(scope="session")
def rules() -> RedactionRules:
    return load_rules()


@pytest.fixture(scope="session")
def redactor(rules: RedactionRules, key: PseudonymKey) -> Redactor:
    return Redactor(rules, key)


def section(file_name: str, name: str) -> Any:
    """One named top-level section of ``testdata/<file_name>``."""
    data = yaml.safe_load((TESTDATA / file_name).read_text(encoding="utf-8"))
    return data[name]
