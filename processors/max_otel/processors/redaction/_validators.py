"""Checks run on a detector's candidate match: checksums, digit counts and boundaries.

A validator gets the whole text (UTF-8 bytes) and the candidate span, and returns the span
to redact (possibly shorter: a card followed by more digit groups is trimmed to the group
that passes Luhn) or None to reject the candidate. They keep false positives down: UUIDs,
trace ids, ISO dates, epoch timestamps, versions, IPv4 addresses and order numbers never
pass the phone and card validators.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

Validator = Callable[[bytes, int, int], "tuple[int, int] | None"]

_DIGITS = frozenset(b"0123456789")
_WORD = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_SEPARATORS = frozenset(b" .-")
_TOKEN_PUNCTUATION = frozenset(b"-._~+/=")
_OPEN, _CLOSE, _COLON = ord("("), ord(")"), ord(":")
"""Bytes as ints for ``in``: ``b"(" in data`` costs an exception inside (CPython 3.11)."""


def _word_before(data: bytes, start: int) -> bool:
    return start > 0 and data[start - 1] in _WORD


def _word_after(data: bytes, end: int) -> bool:
    return end < len(data) and data[end] in _WORD


def _continues_number(data: bytes, start: int, end: int) -> bool:
    """True when the span is glued to more digits (``1.2``-style) on either side."""
    before = start >= 2 and data[start - 1] in _SEPARATORS and data[start - 2] in _DIGITS
    after = end + 1 < len(data) and data[end] in _SEPARATORS and data[end + 1] in _DIGITS
    return before or after


_NOT_DIGITS = bytes(byte for byte in range(256) if byte not in _DIGITS)
_LUHN_DOUBLE = bytes.maketrans(b"0123456789", b"0246813579")
_DIGIT_FLAGS = bytes(byte in _DIGITS for byte in range(256))  # 1 for a digit, else 0


def _digits(chunk: bytes) -> bytes:
    return chunk.translate(None, _NOT_DIGITS)


def _digit_count(chunk: bytes) -> int:
    return chunk.translate(_DIGIT_FLAGS).count(1)


def standalone(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Accept only a span with no letter, digit or ``_`` glued to either side."""
    if _word_before(data, start) or _word_after(data, end):
        return None
    return start, end


def standalone_start(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Accept a span not glued to a word on its left (tokens run to their natural end)."""
    return None if _word_before(data, start) else (start, end)


def luhn_valid(digits: bytes) -> bool:
    """The Luhn checksum of payment card numbers (ASCII digits)."""
    kept = digits[-1::-2]
    doubled = digits[-2::-2].translate(_LUHN_DOUBLE)
    return (sum(kept) + sum(doubled) - 48 * len(digits)) % 10 == 0


def payment_card(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """13-19 digits, issuer prefix 2-6 (Visa, Mastercard, Amex, Discover, JCB, UnionPay...),
    Luhn-valid, standing alone. Epoch milliseconds (start with 1) and 12-digit ids fail."""
    if _word_before(data, start) or _word_after(data, end):
        return None
    digits = _digits(data[start:end])
    if not 13 <= len(digits) <= 19 or digits[0] not in b"23456" or not luhn_valid(digits):
        return None
    return start, end


def international_phone(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """``+`` and 8-15 digits (E.164), not glued to letters or digits; a closing
    parenthesis that belongs to the surrounding text is left out."""
    if start > 0 and data[start - 1] in _WORD:
        return None
    chunk = data[start:end]
    if (end < len(data) and data[end] in _GLUE) or _OPEN in chunk or _CLOSE in chunk:
        free_end = _free_end(data, start, end)  # (the common case needs no cutting back)
        if free_end is None:
            return None
        chunk = data[start:free_end]
    else:
        free_end = end
    return (start, free_end) if 8 <= _digit_count(chunk) <= 15 else None


_GLUE = _DIGITS | frozenset(b"_@%+")
_GROUP_SEPARATORS = frozenset(b" .-()")


def _free_end(data: bytes, start: int, end: int) -> int | None:
    """The end of the longest prefix of the span ending at a digit group boundary, with
    balanced parentheses and no digit, ``_``, ``@``, ``%`` or ``+`` glued after it
    (``+1 415 555 0123 0@x.io`` gives back ``+1 415 555 0123``); None if there is none."""
    if (
        end > start
        and (end >= len(data) or data[end] not in _GLUE)
        and data.find(b"(", start, end) < 0
        and data.find(b")", start, end) < 0
    ):
        return end  # the common case: no parenthesis, nothing glued after
    while end > start:
        balanced = _balance(data, start, end)
        if balanced is not None and (balanced >= len(data) or data[balanced] not in _GLUE):
            return balanced
        cut = end - 1
        while cut > start and data[cut] not in _GROUP_SEPARATORS:
            cut -= 1
        while cut > start and data[cut - 1] in _GROUP_SEPARATORS:
            cut -= 1
        end = cut
    return None


def _balance(data: bytes, start: int, end: int) -> int | None:
    """``end`` moved before unmatched trailing ``)``; None if still unbalanced."""
    opened = data.count(b"(", start, end)
    while end > start and data[end - 1] == 0x29 and data.count(b")", start, end) > opened:
        end -= 1
    return end if data.count(b")", start, end) == opened else None


def national_phone(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """9-12 digits in a national layout, standing alone and not part of a dotted number
    (IPv4 addresses, versions)."""
    if start > 0 and data[start - 1] in _WORD:
        return None
    free_end = _free_end(data, start, end)
    if free_end is None:
        return None
    if _continues_number(data, start, free_end) and not _follows_international(data, start):
        return None
    return (start, free_end) if 9 <= _digit_count(data[start:free_end]) <= 12 else None


_PHONE_BYTES = _DIGITS | frozenset(b" .-()")


def _follows_international(data: bytes, start: int) -> bool:
    """True when a space and a ``+`` number (at most 24 bytes back) come right before
    ``start``: ``+1 415 555 0123 415-555-0123`` is two phones, and the second one must not
    be taken for the tail of the first (the first is cut back before it)."""
    if start < 2 or data[start - 1] != 0x20:
        return False
    index = start - 1
    floor = max(0, start - 25)
    while index > floor and data[index - 1] in _PHONE_BYTES:
        index -= 1
    return index > 0 and data[index - 1] == 0x2B  # "+"


def bearer_token(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """A credential after ``Bearer``: at least 8 characters with a digit or token
    punctuation, or at least 24 characters (so "bearer of bad news" is left alone)."""
    token = data[start:end]
    if len(token) < 8:
        return None
    if len(token) >= 24 or any(b in _DIGITS or b in _TOKEN_PUNCTUATION for b in token):
        return start, end
    return None


def basic_credential(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Base64 of ``user:password`` after ``Basic`` (so "basic information" is left alone)."""
    token = data[start:end]
    if len(token) % 4:
        return None
    try:
        decoded = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    return (start, end) if _COLON in decoded else None


def ipv4_address(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Four octets 0-255, standing alone (not the head of a longer dotted version)."""
    if _word_before(data, start) or _word_after(data, end):
        return None
    if _continues_number(data, start, end):
        return None
    octets = data[start:end].split(b".")
    if len(octets) != 4 or any(int(octet) > 255 for octet in octets):
        return None
    return start, end
