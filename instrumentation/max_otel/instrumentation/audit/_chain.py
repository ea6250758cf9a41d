"""The hash chain of the audit trail: how a row's ``row_hash`` is computed.

Every row of ``conversation_events`` belongs to the chain of its month (UTC) and stores
``prev_hash`` (the ``row_hash`` of the previous row of that month, or :data:`GENESIS_HASH` for
the first) and::

    row_hash = hex(sha256(prev_hash || canonical_row))

``canonical_row`` is a JSON array with no spaces, written by the database trigger
(``conversation_events_chain`` in ``schema.sql``) and recomputed here by ``audit verify``::

    [id, "created_at as YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC)", event_type, actor_type, actor_id,
     conversation_id, old_value, new_value]

``old_value`` and ``new_value`` are the text PostgreSQL gives for the stored ``jsonb`` values
(``old_value::text``, which is the same for equal values), as JSON strings; a NULL field is
``null``. Strings are escaped the way both PostgreSQL's ``to_json(text)`` and Python's
``json.dumps(..., ensure_ascii=False)`` escape them (``\\"``, ``\\\\``, ``\\n``..., other control
characters as ``\\u00xx``), so both sides produce the same bytes::

    >>> row_hash(GENESIS_HASH, canonical_row(1, datetime(2026, 1, 5, tzinfo=UTC),
    ...          "auth.login", "user", "u-1", None, None, '{"method": "password"}'))[:12]
    'cb4cf17b1de2'
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first row of each month's chain."""


def format_created_at(created_at: datetime) -> str:
    """``created_at`` in UTC with microseconds, as the trigger's ``to_char`` writes it."""
    if created_at.tzinfo is None:
        raise ValueError(f"created_at must be timezone-aware; got {created_at!r}")
    return created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_row(
    row_id: int,
    created_at: datetime,
    event_type: str,
    actor_type: str,
    actor_id: str | None,
    conversation_id: str | None,
    old_value_text: str | None,
    new_value_text: str | None,
) -> str:
    """The canonical JSON text of one audit row (see the module docstring)."""
    fields: list[object] = [
        row_id,
        format_created_at(created_at),
        event_type,
        actor_type,
        actor_id,
        conversation_id,
        old_value_text,
        new_value_text,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def row_hash(prev_hash: str, canonical: str) -> str:
    """``hex(sha256(prev_hash || canonical))``, as the trigger computes it."""
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()
