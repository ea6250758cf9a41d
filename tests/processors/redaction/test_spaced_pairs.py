"""Key/value pairs in free text with blanks around the ``=`` / ``:`` separator.

``first_name = Ana`` is as much a pair as ``first_name=Ana``: the pair detector redacts the
value and the pre-filter, whose key patterns run over text normalised like keys (spaces
become ``_``), must flag it.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from max_otel.processors.redaction import PSEUDONYM_PATTERN, PseudonymKey, Redactor, load_rules

pytestmark = pytest.mark.unit

SPACED_PAIRS = [
    # text, the value that must disappear, the rule that redacts it
    ("first_name = Ana", "Ana", "person_name"),
    ("username : ana", "ana", "enduser_id"),
    ("wa_id = 14155550123", "14155550123", "phone"),
    ("pass = hunter2", "hunter2", "password"),
    ("password : hunter2", "hunter2", "password"),
    ('"token" : "s3cr3t-t0k3n-xyz"', "s3cr3t-t0k3n-xyz", "token"),
    ("login failed: username :ana", "ana", "enduser_id"),
    ("pass\t=\thunter2", "hunter2", "password"),
    ("pass \t = hunter2", "hunter2", "password"),
    ("{'username' : 'ana', 'n': 1}", "ana", "enduser_id"),
    ("user.first-name   =   Ana", "Ana", "person_name"),
]


@pytest.mark.parametrize(("text", "value", "rule"), SPACED_PAIRS)
def test_value_of_spaced_sensitive_pair_is_redacted(
    redactor: Redactor, text: str, value: str, rule: str
) -> None:
    hits: Counter[str] = Counter()
    redacted = redactor.redact_text(text, hits)
    assert value not in redacted
    assert hits[rule] == 1


@pytest.mark.parametrize(("text", "value", "rule"), SPACED_PAIRS)
def test_prefilter_flags_spaced_sensitive_pair(
    redactor: Redactor, text: str, value: str, rule: str
) -> None:
    assert redactor.might_contain_pii(text) is True
    assert redactor.might_contain_pii(text.encode()) is True
    assert redactor.might_contain_pii_many([b"clean", text.encode(), b"ok"]) == [1]


def test_key_and_separator_are_kept_around_the_redacted_value(redactor: Redactor) -> None:
    assert redactor.redact_text("pass = hunter2", Counter()) == "pass = ***"
    assert redactor.redact_text('"token" : "abc12345"', Counter()) == '"token" : "***"'


@pytest.mark.parametrize(
    "text",
    [
        "first name is unknown",
        "the username field was empty",
        "pass the message on",
        "password reset requested",
    ],
)
def test_sensitive_word_in_prose_without_separator_is_left_alone(
    redactor: Redactor, text: str
) -> None:
    assert redactor.redact_text(text, Counter()) == text


@pytest.mark.parametrize(
    "text",
    ["send_message = ok", "first_name_count = 3", "bypass = yes", "message_id : m-1"],
)
def test_spaced_pair_with_a_non_sensitive_key_is_left_alone(redactor: Redactor, text: str) -> None:
    assert redactor.redact_text(text, Counter()) == text


# Keys matched only through a "$"-anchored rule: the ones the bug let through.
ANCHORED_KEYS = ["first_name", "last_name", "username", "user_name", "wa_id", "pass", "login"]
OTHER_KEYS = ["password", "api_key", "token", "secret", "phone", "email", "session"]


def _spelling(key: str) -> st.SearchStrategy[str]:
    return st.sampled_from([key, key.upper(), key.title(), f'"{key}"', f"'{key}'"])


BLANKS = st.text(alphabet=" \t", max_size=4)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(ANCHORED_KEYS + OTHER_KEYS).flatmap(_spelling),
    before=BLANKS,
    separator=st.sampled_from("=:"),
    after=BLANKS,
    value=st.from_regex(r"[A-Za-z0-9]{3,20}", fullmatch=True),
    prefix=st.sampled_from(["", "login failed ", "[parameters: {", "x;"]),
)
def test_value_after_sensitive_key_and_any_blanks_never_survives(
    redactor: Redactor,
    key: str,
    before: str,
    separator: str,
    after: str,
    value: str,
    prefix: str,
) -> None:
    head = f"{prefix}{key}{before}{separator}{after}"
    text = f"{head}{value} end"
    assert redactor.might_contain_pii(text)
    redacted = redactor.redact_text(text, Counter())
    assert redacted.startswith(head) and redacted.endswith(" end")
    replacement = redacted[len(head) : -len(" end")]
    assert replacement == "***" or re.fullmatch(PSEUDONYM_PATTERN, replacement), redacted


@pytest.mark.parametrize(
    "text",
    [
        "token=abcdef0123456789",
        '"token": "abcdef0123456789"',
        "session = 3f2a1b4c-1111-4222-8333-123456789abc",
    ],
)
def test_a_sensitive_keys_value_is_redacted_even_when_it_looks_like_an_id(text: str) -> None:
    """Trace-id and UUID protection keeps detectors off ids; it must not shield secrets."""
    redactor = Redactor(load_rules(None), PseudonymKey(b"k" * 40, "k1"))
    redacted = redactor.redact_text(text, Counter())
    assert "abcdef0123456789" not in redacted
    assert "3f2a1b4c-1111" not in redacted
    assert redactor.redact_text(redacted, Counter()) == redacted
