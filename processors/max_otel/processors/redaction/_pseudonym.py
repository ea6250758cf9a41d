"""Keyed pseudonyms: the same identifier always maps to the same opaque token.

A pseudonym is ``<kind>:<key id>:<16 hex>``, e.g. ``phone:k1:9f2c4e1a0b3d5c7e``: the first
16 hex digits (64 bits) of HMAC-SHA256(secret, ``kind + "\\0" + canonical value``). Because
the secret is shared by every service and survives restarts, engineers can follow one
customer across services without ever seeing the phone number; because it is keyed, the
small space of phone numbers cannot be enumerated without the secret. The key id names the
secret, so pseudonyms made before and after a rotation are told apart.

Values are canonicalised per kind before hashing, so formatting does not split a customer:
``phone`` keeps digits only (``+1 (415) 555-0123``, ``+14155550123`` and the WhatsApp id
``14155550123`` agree), ``email`` is stripped and lower-cased, other kinds are stripped.

    >>> key = PseudonymKey(b"0123456789abcdef0123456789abcdef", "k1")
    >>> key.pseudonymise("phone", "+1 415 555 0123") == key.pseudonymise("phone", "14155550123")
    True

The engine pseudonymises through ``pseudonym_function(key)``: ``Pseudonymiser(key)``, the
same function with the HMAC key schedule done once, unless a subclass of ``PseudonymKey``
overrides ``pseudonymise`` (then that method). Detectors, which find PII in UTF-8 bytes, use
``Pseudonymiser.for_kind(kind)``: the same pseudonyms, from bytes to bytes.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import methodcaller
from pathlib import Path

from max_otel.processors.redaction._environment import (
    _DEFAULT_PSEUDONYM_KEY_ID,
    PSEUDONYM_KEY,
    PSEUDONYM_KEY_FILE,
    PSEUDONYM_KEY_ID,
)
from max_otel.processors.redaction._errors import ConfigurationError

MIN_SECRET_LENGTH = 32
"""Shortest secret accepted, in bytes (characters for the environment variable)."""

PSEUDONYM_PATTERN = r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9_-]{1,16}:[0-9a-f]{16}"
"""RE2/re syntax of a pseudonym, used to recognise values that are already redacted."""

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_NON_DIGITS = re.compile(r"[^0-9]")
_HOW_TO_SET = (
    f"set {PSEUDONYM_KEY} (or {PSEUDONYM_KEY_FILE}) to a secret of at least "
    f"{MIN_SECRET_LENGTH} characters shared by all services, e.g. "
    f"export {PSEUDONYM_KEY}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def canonical_value(kind: str, value: str) -> str:
    """The form of ``value`` that is hashed: digits for phones, lower case for emails."""
    stripped = value.strip()
    if kind == "phone":
        digits = _NON_DIGITS.sub("", stripped)
        return digits or stripped
    if kind == "email":
        return stripped.lower()
    return stripped


@dataclass(frozen=True)
class PseudonymKey:
    """The secret and its id; ``pseudonymise`` is a pure function of (secret, kind, value)."""

    secret: bytes = field(repr=False)
    key_id: str = _DEFAULT_PSEUDONYM_KEY_ID

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes):
            raise ConfigurationError(
                f"pseudonym key secret must be bytes; got {type(self.secret).__name__}"
            )
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"pseudonym key must be at least {MIN_SECRET_LENGTH} characters; "
                f"got {len(self.secret)}: {_HOW_TO_SET}"
            )
        if not _KEY_ID.fullmatch(self.key_id):
            raise ConfigurationError(
                f"{PSEUDONYM_KEY_ID} must be 1-16 letters, digits, '_' or '-'; got {self.key_id!r}"
            )

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> PseudonymKey:
        """Read the key from ``env`` (default ``os.environ``).

        ``MAX_OTEL_PSEUDONYM_KEY`` holds the secret, or ``MAX_OTEL_PSEUDONYM_KEY_FILE`` names
        a file holding it (not both); ``MAX_OTEL_PSEUDONYM_KEY_ID`` names it (default
        ``k1``). Raises ``ConfigurationError`` saying how to set it when missing or short.
        """
        env = os.environ if env is None else env
        value = env.get(PSEUDONYM_KEY, "")
        path = env.get(PSEUDONYM_KEY_FILE, "")
        key_id = env.get(PSEUDONYM_KEY_ID, "") or _DEFAULT_PSEUDONYM_KEY_ID
        if value and path:
            raise ConfigurationError(
                f"{PSEUDONYM_KEY} and {PSEUDONYM_KEY_FILE} must not both be set; "
                f"got both: unset one of them"
            )
        if path:
            try:
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigurationError(
                    f"{PSEUDONYM_KEY_FILE} must name a readable UTF-8 file; got {path!r} ({error})"
                ) from None
        if not value:
            raise ConfigurationError(f"pseudonym key must be set; got nothing: {_HOW_TO_SET}")
        return cls(value.encode("utf-8"), key_id)

    @classmethod
    def generate_throwaway(cls) -> PseudonymKey:
        """A random key with id ``dev``: for tests and local runs only (pseudonyms change
        on every start, so traces of one customer cannot be joined across restarts)."""
        return cls(secrets.token_bytes(MIN_SECRET_LENGTH), "dev")

    def pseudonymise(self, kind: str, value: str) -> str:
        """``<kind>:<key id>:<16 hex>`` for ``value`` canonicalised as ``kind``."""
        if not _KIND.fullmatch(kind):
            raise ValueError(f"pseudonym kind must match [a-z][a-z0-9_]{{0,31}}; got {kind!r}")
        message = f"{kind}\0{canonical_value(kind, value)}".encode("utf-8", "surrogatepass")
        digest = hmac.digest(self.secret, message, "sha256")
        return f"{kind}:{self.key_id}:{digest[:8].hex()}"


_BLOCK = 64  # SHA-256 block size, in bytes
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


class Pseudonymiser:
    """``pseudonymiser(kind, value)`` == ``key.pseudonymise(kind, value)``, in about half
    the time: the inner and outer SHA-256 states of HMAC (RFC 2104) are computed once, here,
    and copied for each value, as the ``hmac`` module itself does without OpenSSL."""

    def __init__(self, key: PseudonymKey) -> None:
        secret = key.secret
        if len(secret) > _BLOCK:
            secret = hashlib.sha256(secret).digest()
        secret = secret.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(secret.translate(_INNER_PAD))
        self._outer = hashlib.sha256(secret.translate(_OUTER_PAD))
        self._key_id = key.key_id
        self._kinds: set[str] = set()  # kinds already checked

    def __call__(self, kind: str, value: str) -> str:
        if kind not in self._kinds:
            self._check(kind)
        message = f"{kind}\0{canonical_value(kind, value)}".encode("utf-8", "surrogatepass")
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return f"{kind}:{self._key_id}:{outer.digest()[:8].hex()}"

    def for_kind(self, kind: str) -> Callable[[bytes], bytes]:
        """``f(data) == self(kind, data.decode("utf-8", "surrogatepass")).encode()``:
        ASCII ``data`` (every match of the built-in detectors) is canonicalised and hashed
        as bytes, without the round trip through text; anything else takes that round trip.
        Raises ``ValueError`` here, not per call, for a kind the key rejects."""
        self._check(kind)
        inner = self._inner.copy()
        inner.update(f"{kind}\0".encode("ascii"))  # the message's head, hashed once
        prefix = f"{kind}:{self._key_id}:".encode("ascii")
        canonical = _BYTES_CANONICAL.get(kind, _STRIPPED)
        outer, slow, hexlify = self._outer, self, binascii.hexlify

        def pseudonymise(data: bytes) -> bytes:
            if data.isascii():
                value = canonical(data)
                if value:  # else (no digit in a phone, only blanks) the text way: the same
                    hashed = inner.copy()
                    hashed.update(value)
                    mac = outer.copy()
                    mac.update(hashed.digest())
                    return prefix + hexlify(mac.digest()[:8])
            return slow(kind, data.decode("utf-8", "surrogatepass")).encode("ascii")

        return pseudonymise

    def _check(self, kind: str) -> None:
        if not _KIND.fullmatch(kind):
            raise ValueError(f"pseudonym kind must match [a-z][a-z0-9_]{{0,31}}; got {kind!r}")
        if len(self._kinds) < 64:
            self._kinds.add(kind)


_ASCII_SPACE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
"""The ASCII characters ``str.strip()`` removes (``str.isspace``), for ``bytes.strip``."""
_NOT_DIGIT_BYTES = bytes(byte for byte in range(256) if not 0x30 <= byte <= 0x39)
_STRIPPED = methodcaller("strip", _ASCII_SPACE)


def _phone_digits(data: bytes) -> bytes:
    """The digits of ``data`` (deleting a phone's few separators first is quicker than
    deleting every other byte)."""
    digits = data.translate(None, b" +-.()")
    return digits if digits.isdigit() else data.translate(None, _NOT_DIGIT_BYTES)


def _lower_stripped(data: bytes) -> bytes:
    return data.strip(_ASCII_SPACE).lower()


_BYTES_CANONICAL: dict[str, Callable[[bytes], bytes]] = {
    "phone": _phone_digits,
    "email": _lower_stripped,
}
"""``canonical_value`` on ASCII bytes, by kind (other kinds: ``_STRIPPED``); the empty
result of a phone without digits is not its canonical value (that is the stripped text)."""


def pseudonym_function(key: PseudonymKey) -> Callable[[str, str], str]:
    """``key.pseudonymise``, as ``Pseudonymiser(key)`` when the key's class does not
    override the method (a subclass may, e.g. to mask while no key is configured)."""
    if type(key).pseudonymise is PseudonymKey.pseudonymise:
        return Pseudonymiser(key)
    return key.pseudonymise
