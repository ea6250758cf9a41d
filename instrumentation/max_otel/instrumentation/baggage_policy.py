"""Which baggage entries become telemetry attributes, and which values are acceptable.

Baggage arrives from outside the process (W3C ``baggage`` header, Celery task headers), so it
is untrusted: only an allowlist of keys is ever recorded on spans and log records, and each
value must pass its key's format check, else it is dropped (with a debug log, never an error
for the request). ``conversation_id`` must be a UUID (normalised to lower case); ``team_id``
and ``agent_id`` are identifiers of at most 128 characters; ``channel`` is a short lower-case
name; any other allowlisted key takes printable ASCII without spaces, at most 128 characters::

    policy = BaggagePolicy.from_environment()          # MAX_OTEL_BAGGAGE_KEYS
    policy.normalise("conversation_id", "6F1C...")      # "6f1c..." or None when invalid
    policy.promoted(context)                            # {"conversation_id": "...", ...}
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from opentelemetry import baggage
from opentelemetry.context import Context

from max_otel.instrumentation.environment_variables import (
    _DEFAULT_BAGGAGE_KEYS,
    MAX_OTEL_BAGGAGE_KEYS,
)

logger = logging.getLogger(__name__)

CONVERSATION_ID = "conversation_id"
TEAM_ID = "team_id"
AGENT_ID = "agent_id"
CHANNEL = "channel"

MAX_VALUE_LENGTH = 128
"""Longest value (characters) accepted for any promoted key."""

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,128}")
_KEY = re.compile(r"[a-z][a-z0-9_.]{0,63}")

Normaliser = Callable[[str], "str | None"]


def _uuid(value: str) -> str | None:
    return value.lower() if _UUID.fullmatch(value) else None


def _matching(pattern: re.Pattern[str]) -> Normaliser:
    def normalise(value: str) -> str | None:
        return value if pattern.fullmatch(value) else None

    return normalise


NORMALISERS: dict[str, Normaliser] = {
    CONVERSATION_ID: _uuid,
    TEAM_ID: _matching(_IDENTIFIER),
    AGENT_ID: _matching(_IDENTIFIER),
    CHANNEL: _matching(_CHANNEL),
}
"""Format check per known key; a key not listed here gets printable ASCII, <= 128 chars."""

_generic = _matching(_PRINTABLE)


def normalise_value(key: str, value: object) -> str | None:
    """``value`` in canonical form if acceptable for ``key``, else None. Never raises."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        return None
    return NORMALISERS.get(key, _generic)(text)


@dataclass(frozen=True)
class BaggagePolicy:
    """The allowlist of baggage keys promoted to attributes (immutable, cheap to share)."""

    keys: tuple[str, ...] = _DEFAULT_BAGGAGE_KEYS

    def validate(self) -> None:
        """Raise ``ValueError`` naming ``MAX_OTEL_BAGGAGE_KEYS`` if a key is malformed."""
        for key in self.keys:
            if not _KEY.fullmatch(key):
                raise ValueError(
                    f"{MAX_OTEL_BAGGAGE_KEYS} keys must be lower-case letters, digits, '_' "
                    f"or '.', starting with a letter; got {key!r}"
                )

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> BaggagePolicy:
        """The policy from ``MAX_OTEL_BAGGAGE_KEYS`` (default keys when unset or empty)."""
        source = os.environ if env is None else env
        raw = source.get(MAX_OTEL_BAGGAGE_KEYS, "")
        keys = tuple(dict.fromkeys(key.strip() for key in raw.split(",") if key.strip()))
        policy = cls(keys) if keys else cls()
        policy.validate()
        return policy

    def allows(self, key: str) -> bool:
        """Whether ``key`` is promoted to attributes."""
        return key in self.keys

    def normalise(self, key: str, value: object) -> str | None:
        """Canonical ``value`` if ``key`` is allowlisted and the value acceptable, else None."""
        if key not in self.keys:
            return None
        return normalise_value(key, value)

    def promoted(self, context: Context | None = None) -> dict[str, str]:
        """Allowlisted, valid baggage entries of ``context`` (current context when None).

        Invalid values are left out with a debug log. Never raises.
        """
        entries = baggage.get_all(context)
        if not entries:
            return {}
        promoted: dict[str, str] = {}
        for key in self.keys:
            value = entries.get(key)
            if value is None:
                continue
            normalised = normalise_value(key, value)
            if normalised is None:
                logger.debug("baggage entry %r has an invalid value; not recorded", key)
                continue
            promoted[key] = normalised
        return promoted
