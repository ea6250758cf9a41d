"""Patterns relaxed for the engine's one-pass scan: they match wherever the strict ones do.

``relax(pattern)`` removes anchors and word boundaries (``^``, ``$``, ``\\A``, ``\\z``,
``\\b``, ``\\B``); for key patterns (``key=True``) ``$`` becomes "end of text, a byte that
cannot continue a key, or blanks then ``:`` / ``=``" (``first_name = Ana``), because in a
larger text a key is not at the start or end. Removing an assertion only lets a pattern match
more, so a scan with relaxed patterns never misses what the strict patterns would find.

    >>> relax(r"\\bphone$")
    'phone'
"""

from __future__ import annotations

_KEY_END = r"(?:$|[^a-z0-9_.\- ]|_[_\t]*[:=])"
r"""What may follow a key in the normalised half (where "-", "." and space became "_"):
the end, a byte that cannot continue a key, or blanks before a ``:`` / ``=`` separator
(``first_name = Ana`` reads ``first_name_=_ana``; a tab is already a non-key byte). The
blank run is unbounded like the pair detector's ``[ \t]*``: RE2 stays linear."""


def relax(pattern: str, *, key: bool = False) -> str:
    """``pattern`` without ``^``, ``\\A``, ``\\b``, ``\\B``; ``$`` and ``\\z`` removed, or
    for key patterns turned into ``_KEY_END``: the end, a byte that cannot continue a
    normalised key, or blanks (normalised ``_``, tabs) then ``:`` / ``=``."""
    end = _KEY_END if key else ""
    out: list[str] = []
    index, size, in_class = 0, len(pattern), False
    while index < size:
        char = pattern[index]
        if char == "\\" and index + 1 < size:
            following = pattern[index + 1]
            if following == "Q":
                close = pattern.find("\\E", index + 2)
                close = size if close < 0 else close + 2
                out.append(pattern[index:close])
                index = close
                continue
            if not in_class and following in "bBA":
                index += 2
                continue
            if not in_class and following == "z":
                out.append(end)
                index += 2
                continue
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            if char == "[" and pattern.startswith("[:", index):
                close = pattern.find(":]", index + 2)
                close = size if close < 0 else close + 2
                out.append(pattern[index:close])
                index = close
                continue
            if char == "]":
                in_class = False
            out.append(char)
            index += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            index += 1
            if pattern.startswith("^", index):
                out.append("^")
                index += 1
            if pattern.startswith("]", index):
                out.append("]")
                index += 1
            continue
        if char == "^":
            index += 1
            continue
        if char == "$":
            out.append(end)
            index += 1
            continue
        out.append(char)
        index += 1
    return "".join(out)
