"""RE2 patterns rewritten for the compiled module's regex crate, to match the same bytes.

Both engines share most of their syntax and, on valid UTF-8 with Unicode on, their meaning;
they differ in the Perl classes and word boundaries, which RE2 keeps to ASCII:
``\\s`` is ``[\\t\\n\\f\\r ]`` in RE2 (no ``\\v``), ``\\d`` ``[0-9]``, ``\\w``
``[0-9A-Za-z_]``, ``\\b`` an ASCII word boundary. ``regex_crate_pattern`` spells those out,
and escapes inside a class what the regex crate would read as a nested class, a range or a
set operation, spells out ``\\Q...\\E`` literals, and writes escaped punctuation as the
literal RE2 reads (the crate reads ``\\<`` as a word boundary). A pattern it cannot vouch
for (``\\C``, ``\\p`` Unicode classes, octal escapes, back references, class set operators,
unknown letter escapes) gives None: the caller keeps RE2 for it::

    regex_crate_pattern(r"\\bkey\\s*=")   # '(?-u:\\b)key[\\t\\n\\f\\r ]*='
"""

from __future__ import annotations

from collections.abc import Iterable

_PERL_CLASSES = {  # classes, nested in brackets: under (?i) the crate folds, then negates
    "s": r"[\t\n\f\r ]",
    "S": r"[^\t\n\f\r ]",
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[0-9A-Za-z_]",
    "W": "[^0-9A-Za-z_]",
}
_BOUNDARIES = {"b": r"(?-u:\b)", "B": r"(?-u:\B)"}
_REFUSED_ESCAPES = frozenset("CEpP0123456789")
"""Any byte (``\\C``), back references and octal, and Unicode classes (``\\p``: the two
libraries ship different Unicode versions, and the crate's ``\\pC`` holds unassigned code
points)."""
_LETTER_ESCAPES = frozenset("aftnrvxAz")
"""Letter escapes both read alike (``\\x`` followed by its digits as they are)."""
_META = frozenset("\\.+*?()|[]{}^$#&-~ \t\n\r\x0b\x0c")
"""Characters escaped when a ``\\Q...\\E`` literal is spelled out (the regex crate
accepts an escape before any ASCII punctuation and needs one before these)."""
_SET_OPERATORS = ("&&", "--", "~~")


def regex_crate_patterns(patterns: Iterable[str]) -> list[str] | None:
    """``regex_crate_pattern`` of each of ``patterns``; None if one has no translation."""
    translated = []
    for pattern in patterns:
        one = regex_crate_pattern(pattern)
        if one is None:
            return None
        translated.append(one)
    return translated


def regex_crate_pattern(pattern: str) -> str | None:
    """``pattern`` (RE2 syntax) as the regex crate (Unicode on, over bytes) must read it
    to match exactly what RE2 matches in UTF-8 text; None if that is not certain."""
    out: list[str] = []
    index, size = 0, len(pattern)
    in_class = False
    class_start = -1  # index in ``pattern`` of the current class's first member
    while index < size:
        char = pattern[index]
        if char == "\\":
            if index + 1 >= size:
                return None
            following = pattern[index + 1]
            if following == "Q" and not in_class:
                close = pattern.find("\\E", index + 2)
                close = size if close < 0 else close
                out.extend(_literal(char) for char in pattern[index + 2 : close])
                index = close + 2
                continue
            if following in _REFUSED_ESCAPES or following == "Q":
                return None
            if following in _BOUNDARIES and not in_class:
                out.append(_BOUNDARIES[following])
                index += 2
                continue
            if following in _PERL_CLASSES:
                out.append(_PERL_CLASSES[following])
                index += 2
                if in_class and pattern.startswith("-", index):
                    out.append(r"\-")  # after a class, "-" is a member, not a range
                    index += 1
                continue
            if following.isalnum() and following not in _LETTER_ESCAPES:
                return None  # an escape RE2 and the crate may read differently
            # Punctuation is literal in RE2; the crate gives some escapes a meaning of
            # their own (``\\<`` and ``\\>`` are word boundaries there).
            keep = following in _META or following in _LETTER_ESCAPES
            out.append(pattern[index : index + 2] if keep else following)
            index += 2
            continue
        if in_class:
            if char == "[" and pattern.startswith("[:", index):
                close = pattern.find(":]", index + 2)
                if close < 0:
                    return None
                out.append(pattern[index : close + 2])
                index = close + 2
                continue
            if pattern.startswith(_SET_OPERATORS, index):
                return None
            if char == "]" and index > class_start:
                in_class = False
            elif char in "[&~":
                out.append("\\")
            out.append(char)
            index += 1
            continue
        out.append(char)
        index += 1
        if char == "[":
            in_class = True
            if pattern.startswith("^", index):
                out.append("^")
                index += 1
            class_start = index
            if pattern.startswith("]", index):  # a leading "]" is a member
                out.append(r"\]")
                index += 1
    return None if in_class else "".join(out)


def _literal(char: str) -> str:
    if char in _META:
        return "\\" + char if char.isprintable() and char != " " else f"\\x{{{ord(char):X}}}"
    return char
