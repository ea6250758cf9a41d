"""The process's redactor: a missing key masks, a bad rules file falls back; never raises."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from max_otel.instrumentation.redaction_setup import build_redactor

pytestmark = pytest.mark.unit

PHONE = "+5511987654321"


def test_missing_key_masks_phones_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    redactor = build_redactor({})
    hits: Counter[str] = Counter()
    assert redactor.redact_attributes({"phone": PHONE}, hits) == {"phone": "***"}
    assert PHONE not in redactor.redact_text(f"call {PHONE}", hits)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "masked instead of pseudonymised until MAX_OTEL_PSEUDONYM_KEY is set" in warnings[0]


def test_short_key_is_reported_and_masks(caplog: pytest.LogCaptureFixture) -> None:
    redactor = build_redactor({"MAX_OTEL_PSEUDONYM_KEY": "short"})
    assert redactor.redact_attributes({"phone": PHONE}, Counter()) == {"phone": "***"}
    assert "at least 32 characters" in caplog.text


def test_same_key_gives_the_same_pseudonym_in_every_process() -> None:
    env = {"MAX_OTEL_PSEUDONYM_KEY": "k" * 40}
    first = build_redactor(env).redact_attributes({"phone": PHONE}, Counter())
    second = build_redactor(env).redact_attributes({"phone": "+55 11 98765-4321"}, Counter())
    assert first == second
    assert str(first["phone"]).startswith("phone:k1:")


def test_invalid_rules_file_falls_back_to_packaged_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("max_depth: -1\n")
    redactor = build_redactor(
        {"MAX_OTEL_PSEUDONYM_KEY": "k" * 40, "MAX_OTEL_REDACTION_RULES": str(rules)}
    )
    assert redactor.redact_attributes({"password": "x"}, Counter()) == {"password": "***"}
    assert f"MAX_OTEL_REDACTION_RULES={rules} is not usable" in caplog.text
    assert "max_depth must be" in caplog.text
