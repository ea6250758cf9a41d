"""``max-otel redact`` and ``max-otel rules check``, as an engineer runs them."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from max_otel.processors.redaction import PSEUDONYM_PATTERN, PseudonymKey
from max_otel.processors.redaction.cli import redact_main, rules_main
from tests.processors.redaction.conftest import SECRET, section

pytestmark = pytest.mark.unit

_MAX_OTEL = str(Path(sys.executable).parent / "max-otel")


@pytest.fixture
def service_key(monkeypatch: pytest.MonkeyPatch) -> PseudonymKey:
    """The services' key, set as they read it."""
    for name in ("MAX_OTEL_PSEUDONYM_KEY_FILE", "MAX_OTEL_PSEUDONYM_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAX_OTEL_PSEUDONYM_KEY", SECRET.decode())
    return PseudonymKey(SECRET, "k1")


def redact(*argv: str, stdin: str = "") -> tuple[int, list[str]]:
    out = io.StringIO()
    status = redact_main(list(argv), stdin=io.StringIO(stdin), stdout=out)
    return status, out.getvalue().splitlines()


def test_console_script_prints_the_pseudonym_the_pipeline_writes_for_a_phone(
    service_key: PseudonymKey,
) -> None:
    """One customer, written three ways, is one pseudonym: the one stored in traces and logs."""
    result = subprocess.run(
        [_MAX_OTEL, "redact", "+55 11 98765-4321", "5511987654321@s.whatsapp.net"],
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    expected = service_key.pseudonymise("phone", "+5511987654321")
    assert re.fullmatch(PSEUDONYM_PATTERN, expected)
    assert result.stdout.splitlines() == [expected, expected]


def test_values_are_read_from_standard_input_one_per_line(service_key: PseudonymKey) -> None:
    status, lines = redact(stdin="Ana.Souza@Example.com\nnothing personal here\n")
    assert status == 0
    assert lines == [
        service_key.pseudonymise("email", "ana.souza@example.com"),
        "nothing personal here",
    ]


def test_explain_lists_each_finding_and_the_redactions_by_rule(service_key: PseudonymKey) -> None:
    status, lines = redact("--explain", "call +1 415 555 0123, card 4111 1111 1111 1111")
    assert status == 0
    assert lines[0] == f"call {service_key.pseudonymise('phone', '+14155550123')}, card ***"
    assert lines[1:] == [
        "  found phone_international: '+1 415 555 0123'",
        "  found payment_card: '4111 1111 1111 1111'",
        "  redactions: payment_card x1, phone_international x1",
    ]


@pytest.mark.parametrize(
    ("attribute", "value", "shown"),
    [
        ("http.request.header.authorization", "Bearer abc.def.ghi", "***"),
        ("message.body", "hello, I need help", "<18 chars>"),
        ("conversation_id", "6f1c2a9e-2b7d-4c1e-9a53-0d2f4b8e7c11", None),
    ],
)
def test_attribute_applies_that_keys_rules(
    service_key: PseudonymKey, attribute: str, value: str, shown: str | None
) -> None:
    status, lines = redact("--attribute", attribute, value)
    assert status == 0
    assert lines == [shown or value]


def test_a_dropped_attribute_says_so(service_key: PseudonymKey, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(section("rules.yaml", "extended")), encoding="utf-8")
    status, lines = redact("--rules", str(rules), "--attribute", "pin_code", "1234")
    assert (status, lines) == (0, ["(dropped)"])


def test_without_a_key_it_says_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MAX_OTEL_PSEUDONYM_KEY", "MAX_OTEL_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    status, lines = redact("+14155550123")
    assert (status, lines) == (2, [])
    assert "set MAX_OTEL_PSEUDONYM_KEY" in capsys.readouterr().err
    status, lines = redact("--dev", "+14155550123")
    assert status == 0
    assert lines[0].startswith("phone:dev:")
    assert "throwaway pseudonym key" in capsys.readouterr().err


def test_rules_check_names_each_file_and_what_is_wrong(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(section("rules.yaml", "extended")), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(section("rules.yaml", "invalid_regex")), encoding="utf-8")
    out = io.StringIO()
    assert rules_main(["check", str(good), str(bad)], stdout=out) == 1
    good_line, bad_line = out.getvalue().splitlines()
    assert good_line.startswith(f"{good}: valid: ")
    assert "2 custom detectors" in good_line and "mask '[redacted]'" in good_line
    assert "payment_card" not in good_line  # disabled in that file
    assert bad_line.startswith(f"{bad}: sensitive_keys[0].pattern of rule 'broken' must be ")
    assert rules_main(["check", str(good)], stdout=io.StringIO()) == 0


def test_max_otel_help_lists_both_commands() -> None:
    result = subprocess.run(
        [_MAX_OTEL, "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0
    assert "redact " in result.stdout and "rules " in result.stdout
