"""The rule set as dataclasses: what to keep, what keys are sensitive, which detectors run.

A ``RedactionRules`` is plain data; ``validate()`` checks it and compiles nothing it keeps
(the ``Redactor`` compiles every pattern once, at construction). Patterns use RE2 syntax
(no look-around, no back-references) and key patterns are searched, case-insensitively, in
the *normalised* key: ASCII lower case with ``-``, ``.`` and spaces turned into ``_``
(``http.request.header.X-Api-Key`` -> ``http_request_header_x_api_key``).

Actions:

- ``mask``: the value becomes the mask text (default ``***``).
- ``pseudonymise``: the value becomes ``<kind>:<key id>:<16 hex>`` (see ``PseudonymKey``).
- ``length``: text becomes ``<N chars>`` (message bodies: the length is all we keep).
- ``drop``: the attribute is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import re2

from max_otel.processors.redaction._errors import ConfigurationError

KEY_ACTIONS = ("drop", "length", "mask", "pseudonymise")
"""Actions a key rule may take."""

DETECTOR_ACTIONS = ("disabled", "mask", "pseudonymise")
"""Actions a value detector may take (``disabled`` turns a built-in detector off)."""

_NAME = re2.compile(r"[a-z][a-z0-9_]{0,63}")
_KIND = re2.compile(r"[a-z][a-z0-9_]{0,31}")
RESERVED_RULE_NAMES = frozenset(
    {"depth_cap", "fail_closed", "overlap", "sql_literal", "url_credentials", "url_query_param"}
)
"""Hit names the engine itself uses; rules cannot take them."""


def normalise_key(key: str) -> str:
    """ASCII lower case, with ``-``, ``.`` and space turned into ``_``.

    Only ASCII letters are lowered, so ``might_contain_pii`` on raw bytes sees exactly the
    keys the redactor sees (``str.lower`` would turn the Kelvin sign into ``k``).
    """
    return key.translate(_KEY_TABLE)


_KEY_TABLE = {ord(c): ord(c) + 32 for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"} | {
    ord("-"): "_",
    ord("."): "_",
    ord(" "): "_",
}


def check_pattern(field_path: str, name: str, pattern: object) -> None:
    """Raise ``ConfigurationError`` unless ``pattern`` is a valid, non-empty RE2 regex."""
    if not isinstance(pattern, str) or not pattern:
        raise ConfigurationError(
            f"{field_path} of rule {name!r} must be a non-empty RE2 regular expression; "
            f"got {pattern!r}"
        )
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ConfigurationError(
            f"{field_path} of rule {name!r} must be a valid RE2 regular expression "
            f"(no look-around or back-references); got {pattern!r}: {reason}"
        ) from None


def _check_name(field_path: str, name: object) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{field_path} must be a snake_case name ([a-z][a-z0-9_]*, at most 64); got {name!r}"
        )
    if name in RESERVED_RULE_NAMES:
        raise ConfigurationError(
            f"{field_path} must not be one of the engine's own names "
            f"{', '.join(sorted(RESERVED_RULE_NAMES))}; got {name!r}"
        )


def _check_choice(
    field_path: str, value: object, choices: tuple[str, ...], name: str | None = None
) -> None:
    if value not in choices:
        hint = " (write 'disabled': YAML reads off and no as false)" if value is False else ""
        of_rule = f" of rule {name!r}" if name else ""
        raise ConfigurationError(
            f"{field_path}{of_rule} must be one of {', '.join(choices)}; got {value!r}{hint}"
        )


def _check_kind(field_path: str, name: str, kind: object) -> None:
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ConfigurationError(
            f"{field_path} of rule {name!r} must be a pseudonym kind "
            f"([a-z][a-z0-9_]*, at most 32); got {kind!r}"
        )


@dataclass(frozen=True)
class KeyRule:
    """Values under keys matching ``pattern`` get ``action``, whatever they contain."""

    name: str  # counted under this name in RedactionHits
    pattern: str  # RE2, searched in the normalised key
    action: str  # one of KEY_ACTIONS
    kind: str = ""  # pseudonym kind for ``pseudonymise``; defaults to ``name``

    @property
    def pseudonym_kind(self) -> str:
        return self.kind or self.name

    def validate(self, field_path: str) -> None:
        _check_name(f"{field_path}.name", self.name)
        check_pattern(f"{field_path}.pattern", self.name, self.pattern)
        _check_choice(f"{field_path}.action", self.action, KEY_ACTIONS, self.name)
        _check_kind(f"{field_path}.kind", self.name, self.pseudonym_kind)


@dataclass(frozen=True)
class CustomDetector:
    """A value detector of the user's: every match of ``pattern`` in text gets ``action``."""

    name: str
    pattern: str  # RE2, searched in every string value
    action: str  # mask or pseudonymise
    kind: str = ""  # pseudonym kind; defaults to ``name``

    @property
    def pseudonym_kind(self) -> str:
        return self.kind or self.name

    def validate(self, field_path: str) -> None:
        _check_name(f"{field_path}.name", self.name)
        check_pattern(f"{field_path}.pattern", self.name, self.pattern)
        _check_choice(f"{field_path}.action", self.action, DETECTOR_ACTIONS[1:], self.name)
        _check_kind(f"{field_path}.kind", self.name, self.pseudonym_kind)
        if re2.compile(self.pattern).search("") is not None:
            raise ConfigurationError(
                f"{field_path}.pattern of rule {self.name!r} must not match the empty "
                f"string; got {self.pattern!r}"
            )


@dataclass(frozen=True)
class RedactionRules:
    """The whole rule set. Order of decisions for one attribute (first hit wins):

    1. the normalised key is in ``keep_keys``: value kept as is;
    2. the key is in ``url_keys`` / ``sql_keys`` / ``text_keys``: URL, SQL or text scrubber;
    3. the key matches a ``sensitive_keys`` rule: that rule's action;
    4. the key matches a ``keep_key_patterns`` pattern: value kept as is;
    5. otherwise the value is scrubbed by the value detectors (structure-aware).
    """

    mask_text: str = "***"
    max_depth: int = 16  # nesting deeper than this is masked (hit "depth_cap")
    keep_keys: tuple[str, ...] = ()  # normalised keys never touched
    keep_key_patterns: tuple[str, ...] = ()  # RE2 on the normalised key, after sensitive_keys
    sensitive_keys: tuple[KeyRule, ...] = ()  # first matching rule wins
    detectors: dict[str, str] = field(default_factory=dict)  # built-in name -> action
    custom_detectors: tuple[CustomDetector, ...] = ()
    url_keys: tuple[str, ...] = ()  # normalised keys holding a URL or URL path/query
    sql_keys: tuple[str, ...] = ()  # normalised keys holding SQL text
    text_keys: tuple[str, ...] = ()  # normalised keys always scanned as free text
    url_sensitive_query_params: tuple[str, ...] = ()  # normalised query keys -> REDACTED
    url_redacted_text: str = "REDACTED"  # replaces URL credentials and sensitive params

    def validate(self, builtin_detectors: frozenset[str] = frozenset()) -> None:
        """Raise ``ConfigurationError`` naming the first invalid field.

        ``builtin_detectors`` are the names ``detectors`` may mention; empty skips that
        check.
        """
        if not isinstance(self.mask_text, str) or not self.mask_text:
            raise ConfigurationError(
                f"mask_text must be a non-empty string; got {self.mask_text!r}"
            )
        if not isinstance(self.url_redacted_text, str) or not self.url_redacted_text:
            raise ConfigurationError(
                f"url_redacted_text must be a non-empty string; got {self.url_redacted_text!r}"
            )
        depth = self.max_depth
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 100:
            raise ConfigurationError(f"max_depth must be an integer from 1 to 100; got {depth!r}")
        for field_name in ("keep_keys", "url_keys", "sql_keys", "text_keys"):
            for index, key in enumerate(getattr(self, field_name)):
                if not isinstance(key, str) or not key:
                    raise ConfigurationError(
                        f"{field_name}[{index}] must be a non-empty string; got {key!r}"
                    )
        for index, param in enumerate(self.url_sensitive_query_params):
            if not isinstance(param, str) or not param:
                raise ConfigurationError(
                    f"url_sensitive_query_params[{index}] must be a non-empty string; got {param!r}"
                )
        for index, pattern in enumerate(self.keep_key_patterns):
            check_pattern(f"keep_key_patterns[{index}]", "keep_key_patterns", pattern)
        names: set[str] = set(builtin_detectors)
        for index, rule in enumerate(self.sensitive_keys):
            rule.validate(f"sensitive_keys[{index}]")
            _check_unique(f"sensitive_keys[{index}].name", rule.name, names)
        for name, action in self.detectors.items():
            if builtin_detectors and name not in builtin_detectors:
                raise ConfigurationError(
                    f"detectors.{name} must name a built-in detector "
                    f"({', '.join(sorted(builtin_detectors))}); got {name!r}"
                )
            _check_choice(f"detectors.{name}", action, DETECTOR_ACTIONS)
        for index, detector in enumerate(self.custom_detectors):
            detector.validate(f"custom_detectors[{index}]")
            _check_unique(f"custom_detectors[{index}].name", detector.name, names)


def _check_unique(field_path: str, name: str, seen: set[str]) -> None:
    if name in seen:
        raise ConfigurationError(
            f"{field_path} must differ from every other rule and detector name; "
            f"got {name!r}, already in use"
        )
    seen.add(name)
