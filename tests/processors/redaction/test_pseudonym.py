"""Pseudonym keys: format, stability, canonicalisation, and reading them from the
environment with errors that say how to fix the setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from max_otel.processors.redaction import PSEUDONYM_PATTERN, ConfigurationError, PseudonymKey
from tests.processors.redaction.conftest import SECRET

pytestmark = pytest.mark.unit

GOOD = "x" * 32
HOW_TO = (
    "set MAX_OTEL_PSEUDONYM_KEY (or MAX_OTEL_PSEUDONYM_KEY_FILE) to a secret of at least 32 "
    "characters shared by all services, e.g. export MAX_OTEL_PSEUDONYM_KEY=$(python -c "
    "'import secrets; print(secrets.token_urlsafe(32))')"
)


def test_pseudonym_has_kind_key_id_and_16_hex(key: PseudonymKey) -> None:
    pseudonym = key.pseudonymise("phone", "+14155550123")
    kind, key_id, digest = pseudonym.split(":")
    assert (kind, key_id, len(digest)) == ("phone", "k1", 16)
    assert int(digest, 16) >= 0
    import re

    assert re.fullmatch(PSEUDONYM_PATTERN, pseudonym)


def test_pseudonym_is_a_fixed_function_of_secret_kind_and_value() -> None:
    """The value below was computed once: a change here breaks every stored pseudonym."""
    key = PseudonymKey(b"0123456789abcdef0123456789abcdef", "k1")
    assert key.pseudonymise("phone", "+14155550123") == "phone:k1:dad6dc9823f49672"


def test_pseudonym_is_the_same_in_another_process(key: PseudonymKey) -> None:
    code = (
        "from max_otel.processors.redaction import PseudonymKey;"
        f"print(PseudonymKey({SECRET!r}, 'k1').pseudonymise('email', 'Ana@Example.com'))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert other == key.pseudonymise("email", "Ana@Example.com")


def test_phone_formats_of_one_number_share_a_pseudonym(key: PseudonymKey) -> None:
    forms = ["+14155550123", "+1 (415) 555-0123", "+1-415-555-0123", "14155550123"]
    assert len({key.pseudonymise("phone", form) for form in forms}) == 1


def test_email_case_does_not_split_a_customer(key: PseudonymKey) -> None:
    assert key.pseudonymise("email", "Ana@Example.COM") == key.pseudonymise(
        "email", " ana@example.com"
    )


def test_different_keys_and_kinds_give_different_pseudonyms(key: PseudonymKey) -> None:
    other = PseudonymKey(b"another-secret-0123456789abcdefghij", "k2")
    assert key.pseudonymise("phone", "+14155550123") != other.pseudonymise("phone", "+14155550123")
    assert other.pseudonymise("phone", "+14155550123").startswith("phone:k2:")
    assert key.pseudonymise("user", "ana") != key.pseudonymise("name", "ana")


def test_secret_is_not_shown_in_repr() -> None:
    assert "x" * 32 not in repr(PseudonymKey(GOOD.encode(), "k1"))


def test_key_from_environment_variable() -> None:
    key = PseudonymKey.from_environment({"MAX_OTEL_PSEUDONYM_KEY": GOOD})
    assert key == PseudonymKey(GOOD.encode(), "k1")


def test_key_id_from_environment_variable() -> None:
    env = {"MAX_OTEL_PSEUDONYM_KEY": GOOD, "MAX_OTEL_PSEUDONYM_KEY_ID": "2026-05"}
    assert PseudonymKey.from_environment(env).key_id == "2026-05"


def test_key_from_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(GOOD + "\n", encoding="utf-8")
    key = PseudonymKey.from_environment({"MAX_OTEL_PSEUDONYM_KEY_FILE": str(path)})
    assert key.secret == GOOD.encode()


def test_missing_key_says_how_to_set_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        PseudonymKey.from_environment({})
    assert str(raised.value) == f"pseudonym key must be set; got nothing: {HOW_TO}"


def test_short_key_is_rejected() -> None:
    with pytest.raises(ConfigurationError) as raised:
        PseudonymKey.from_environment({"MAX_OTEL_PSEUDONYM_KEY": "short"})
    assert str(raised.value) == f"pseudonym key must be at least 32 characters; got 5: {HOW_TO}"


def test_key_and_key_file_together_are_rejected(tmp_path: Path) -> None:
    env = {"MAX_OTEL_PSEUDONYM_KEY": GOOD, "MAX_OTEL_PSEUDONYM_KEY_FILE": str(tmp_path)}
    with pytest.raises(ConfigurationError) as raised:
        PseudonymKey.from_environment(env)
    assert str(raised.value) == (
        "MAX_OTEL_PSEUDONYM_KEY and MAX_OTEL_PSEUDONYM_KEY_FILE must not both be set; "
        "got both: unset one of them"
    )


def test_unreadable_key_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(ConfigurationError) as raised:
        PseudonymKey.from_environment({"MAX_OTEL_PSEUDONYM_KEY_FILE": str(missing)})
    assert str(raised.value).startswith(
        f"MAX_OTEL_PSEUDONYM_KEY_FILE must name a readable UTF-8 file; got '{missing}' ("
    )


def test_invalid_key_id_is_rejected() -> None:
    env = {"MAX_OTEL_PSEUDONYM_KEY": GOOD, "MAX_OTEL_PSEUDONYM_KEY_ID": "k 1"}
    with pytest.raises(ConfigurationError) as raised:
        PseudonymKey.from_environment(env)
    assert str(raised.value) == (
        "MAX_OTEL_PSEUDONYM_KEY_ID must be 1-16 letters, digits, '_' or '-'; got 'k 1'"
    )


def test_throwaway_keys_differ_and_are_marked_dev() -> None:
    first, second = PseudonymKey.generate_throwaway(), PseudonymKey.generate_throwaway()
    assert first.key_id == "dev"
    assert first.pseudonymise("phone", "+14155550123") != second.pseudonymise(
        "phone", "+14155550123"
    )
