"""The canonical form and hash of an audit row (the contract the SQL trigger also follows)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from max_otel.instrumentation.audit._chain import (
    GENESIS_HASH,
    canonical_row,
    format_created_at,
    row_hash,
)

pytestmark = pytest.mark.unit


def test_canonical_row_is_compact_json_with_utc_microseconds_and_values_as_text():
    paris = timezone(timedelta(hours=1))
    canonical = canonical_row(
        7,
        datetime(2026, 1, 5, 13, 0, 0, 123, tzinfo=paris),
        "auth.login",
        "user",
        "u-1",
        None,
        None,
        '{"method": "sso"}',
    )
    assert canonical == (
        '[7,"2026-01-05T12:00:00.000123Z","auth.login","user","u-1",null,null,'
        '"{\\"method\\": \\"sso\\"}"]'
    )


def test_row_hash_is_sha256_of_previous_hash_then_canonical_text():
    canonical = canonical_row(
        1, datetime(2026, 1, 5, tzinfo=UTC), "e", "system", None, "c-1", None, None
    )
    assert (
        row_hash(GENESIS_HASH, canonical)
        == hashlib.sha256((GENESIS_HASH + canonical).encode()).hexdigest()
    )


def test_any_field_change_changes_the_hash():
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    base = ["c-1", None, '{"state": "open"}']
    reference = row_hash(GENESIS_HASH, canonical_row(1, moment, "e", "user", "u-1", *base))
    changed = [
        canonical_row(2, moment, "e", "user", "u-1", *base),
        canonical_row(1, moment + timedelta(microseconds=1), "e", "user", "u-1", *base),
        canonical_row(1, moment, "e2", "user", "u-1", *base),
        canonical_row(1, moment, "e", "ai", "u-1", *base),
        canonical_row(1, moment, "e", "user", None, *base),
        canonical_row(1, moment, "e", "user", "u-1", "c-2", None, '{"state": "open"}'),
        canonical_row(1, moment, "e", "user", "u-1", "c-1", "null", '{"state": "open"}'),
        canonical_row(1, moment, "e", "user", "u-1", "c-1", None, '{"state": "closed"}'),
    ]
    assert all(row_hash(GENESIS_HASH, other) != reference for other in changed)
    assert row_hash("1" * 64, canonical_row(1, moment, "e", "user", "u-1", *base)) != reference


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="created_at must be timezone-aware"):
        format_created_at(datetime(2026, 1, 5))
