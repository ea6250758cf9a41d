"""Build the one ``Redactor`` a process uses for its logs (stdout and OTLP) and its spans.

::

    redactor = build_redactor()   # MAX_OTEL_REDACTION_RULES, MAX_OTEL_PSEUDONYM_KEY[_FILE]

Telemetry must not break the application, so a bad setting never raises here:

- a missing or invalid pseudonym key (``MAX_OTEL_PSEUDONYM_KEY``) makes every value that
  would be pseudonymised *masked* instead (``***``): nothing leaks, but pseudonyms cannot
  be joined across services until the key is set. One warning, naming the variable and the
  fix, is logged;
- an invalid rules file (``MAX_OTEL_REDACTION_RULES``) is replaced by the packaged rules,
  with one warning quoting the engine's error.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from max_otel.instrumentation.environment_variables import MAX_OTEL_REDACTION_RULES
from max_otel.instrumentation.fork_gated_redactor import ForkGatedRedactor
from max_otel.processors.redaction import (
    ConfigurationError,
    PseudonymKey,
    RedactionRules,
    Redactor,
    load_rules,
)

logger = logging.getLogger(__name__)

MASKED_KEY_ID = "masked"
"""Key id of the stand-in key used when no pseudonym key is configured."""


@dataclass(frozen=True)
class MaskingPseudonymKey(PseudonymKey):
    """Stands in for a missing pseudonym key: every pseudonym is the mask text instead."""

    mask_text: str = "***"

    @classmethod
    def for_rules(cls, rules: RedactionRules) -> MaskingPseudonymKey:
        """A masking key with the mask text of ``rules`` (its random secret is never used)."""
        return cls(secrets.token_bytes(32), MASKED_KEY_ID, mask_text=rules.mask_text)

    def pseudonymise(self, kind: str, value: str) -> str:
        return self.mask_text


def load_configured_rules(env: Mapping[str, str]) -> RedactionRules:
    """The rules named by ``MAX_OTEL_REDACTION_RULES``, else (or when invalid) the packaged
    ones."""
    path = env.get(MAX_OTEL_REDACTION_RULES) or None
    if path is None:
        return load_rules(None)
    try:
        return load_rules(path)
    except (ConfigurationError, OSError) as error:
        logger.warning(
            "max_otel: %s=%s is not usable (%s); using the packaged redaction rules. "
            "Fix the file or unset %s",
            MAX_OTEL_REDACTION_RULES,
            path,
            error,
            MAX_OTEL_REDACTION_RULES,
        )
        return load_rules(None)


def configured_key(env: Mapping[str, str], rules: RedactionRules) -> PseudonymKey:
    """The pseudonym key from the environment, or a ``MaskingPseudonymKey`` (one warning)."""
    try:
        return PseudonymKey.from_environment(env)
    except ConfigurationError as error:
        logger.warning(
            "max_otel: no usable pseudonym key (%s). Phone numbers and other identifiers are "
            "masked instead of pseudonymised until MAX_OTEL_PSEUDONYM_KEY is set",
            error,
        )
        return MaskingPseudonymKey.for_rules(rules)


def build_redactor(env: Mapping[str, str] | None = None) -> Redactor:
    """The process's redactor from the environment (``os.environ`` when None); safe to use
    across ``fork()`` (a ``ForkGatedRedactor``)."""
    source = os.environ if env is None else env
    rules = load_configured_rules(source)
    return ForkGatedRedactor(rules, configured_key(source, rules))
