"""The PII redaction engine of max-otel: key rules, value detectors, keyed pseudonyms.

    >>> from max_otel.processors.redaction import PseudonymKey, RedactionHits, Redactor, load_rules
    >>> redactor = Redactor(load_rules(), PseudonymKey.generate_throwaway())
    >>> hits = RedactionHits()
    >>> redactor.redact_text("call +14155550123 or mail ana@example.com", hits)  # doctest: +SKIP
    'call phone:dev:4c1f... or mail email:dev:09ab...'

``docs/redaction-rules.md`` documents the default rules, every action and detector, and the
rules file format.
"""

from max_otel.processors.redaction._detectors import BUILTIN_NAMES as BUILTIN_DETECTOR_NAMES
from max_otel.processors.redaction._errors import ConfigurationError
from max_otel.processors.redaction._loading import load_rules, rules_from_mapping
from max_otel.processors.redaction._pseudonym import PSEUDONYM_PATTERN, PseudonymKey
from max_otel.processors.redaction._redactor import RedactionHits, Redactor
from max_otel.processors.redaction._rules import (
    CustomDetector,
    KeyRule,
    RedactionRules,
    normalise_key,
)
from max_otel.processors.redaction._values import DROP

__all__ = [
    "BUILTIN_DETECTOR_NAMES",
    "DROP",
    "PSEUDONYM_PATTERN",
    "ConfigurationError",
    "CustomDetector",
    "KeyRule",
    "PseudonymKey",
    "RedactionHits",
    "RedactionRules",
    "Redactor",
    "load_rules",
    "normalise_key",
    "rules_from_mapping",
]
