"""The engine's common text case in compiled code, when ``max_otel_native`` is installed.

``compiled_plain_scrubber(scanner, detectors)`` gives ``PlainScrubber.scrub`` (see
``processors/native/src/plain.rs``): for free text in which only value detectors fire
(beside protected spans: ids, timestamps, pseudonyms) and their findings do not overlap,
the scan, the detectors' searches and the replacement run in one call, with the
detectors' own validators (the phone validators in compiled copies) and replacements; for
any other text it answers None and the engine's general path runs. Its result is the
pure-Python engine's, to the byte and the hit (a differential property test holds it to
that). None when the
module is not installed or a scan pattern has no faithful translation
(``native_syntax``); a detector whose pattern has none is left to the general path.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from max_otel.processors.redaction import _validators as check
from max_otel.processors.redaction._detectors import RegexDetector
from max_otel.processors.redaction._scanner import PiiScanner
from max_otel.processors.redaction._text import PROTECTED_PATTERN
from max_otel.processors.redaction.native_syntax import regex_crate_pattern, regex_crate_patterns

logger = logging.getLogger(__name__)

_COMPILED_VALIDATORS = {
    check.international_phone: "international_phone",
    check.national_phone: "national_phone",
}
"""Validators the compiled module has its own copy of (``validators.rs``), by name."""

PlainScrub = Callable[[str, Counter[str]], "str | None"]
"""``scrub(text, hits)``: the scrubbed text, ``text`` itself, or None (not its case)."""


def compiled_plain_scrubber(scanner: PiiScanner, detectors: Sequence[RegexDetector]) -> Any:
    """The compiled ``PlainScrubber`` for this scanner and these detectors (its ``scrub``
    is a ``PlainScrub``), or None."""
    try:
        from max_otel_native import PlainScrubber
    except ImportError:
        return None
    if scanner.always_protected:
        return None  # without the hint every text may hold a protected span
    full = regex_crate_patterns(scanner.set_patterns)
    values = regex_crate_patterns(scanner.value_set_patterns)
    if full is None or values is None:
        return None
    protected = regex_crate_pattern(PROTECTED_PATTERN)
    if protected is None:
        return None
    parts = []
    for detector in detectors:
        name, pattern, group, validate, replace = detector.parts()
        translated = regex_crate_pattern(pattern)
        parts.append(
            None
            if translated is None
            else (
                name,
                translated,
                group,
                validate,
                replace,
                detector.protect,
                _COMPILED_VALIDATORS.get(validate, ""),  # type: ignore[arg-type]
            )
        )
    try:
        compiled = PlainScrubber(
            full, list(scanner.set_kinds), values, list(scanner.value_set_kinds), parts, protected
        )
    except ValueError:
        logger.warning("compiled text scrubbing unavailable; using RE2 only", exc_info=True)
        return None
    return compiled
