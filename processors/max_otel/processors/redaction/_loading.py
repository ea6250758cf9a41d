"""Loading rules from YAML: the packaged defaults, optionally extended by a user's file.

A user's file is layered on the packaged ``default_rules.yaml`` unless it says
``inherit_defaults: false``. Layering: ``mask_text``, ``max_depth`` and
``url_redacted_text`` replace the default; ``sensitive_keys`` and ``custom_detectors`` are
put *before* the defaults (so a user's rule wins over a default one for the same key) and
replace a default rule of the same name; the key lists are added to; ``detectors``
entries replace the default action of the named built-in detector (``disabled`` turns it
off).

    >>> rules = load_rules(None)          # the packaged defaults
    >>> rules.mask_text
    '***'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from max_otel.processors.redaction._detectors import BUILTIN_NAMES
from max_otel.processors.redaction._errors import ConfigurationError
from max_otel.processors.redaction._rules import (
    CustomDetector,
    KeyRule,
    RedactionRules,
    normalise_key,
)

_LIST_FIELDS = (
    "keep_keys",
    "keep_key_patterns",
    "url_keys",
    "sql_keys",
    "text_keys",
    "url_sensitive_query_params",
)
_NORMALISED_FIELDS = frozenset(
    {"keep_keys", "url_keys", "sql_keys", "text_keys", "url_sensitive_query_params"}
)
_SCALAR_FIELDS = ("mask_text", "max_depth", "url_redacted_text")
_TOP_LEVEL_FIELDS = frozenset(
    {"inherit_defaults", "sensitive_keys", "custom_detectors", "detectors"}
    | set(_LIST_FIELDS)
    | set(_SCALAR_FIELDS)
)
_RULE_FIELDS = frozenset({"name", "pattern", "action", "kind"})


def load_rules(path: str | Path | None = None) -> RedactionRules:
    """The packaged defaults (``path`` None) or the defaults extended by the YAML at ``path``.

    Raises ``ConfigurationError`` naming the file and the invalid field.
    """
    defaults = _default_rules()
    if path is None:
        return defaults
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"rules file must be a readable UTF-8 file; got {str(path)!r} ({error})"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(
            f"rules file must be valid YAML; got {str(path)!r} ({error})"
        ) from None
    try:
        return rules_from_mapping(data, base=defaults)
    except ConfigurationError as error:
        raise ConfigurationError(f"{path}: {error}") from None


def rules_from_mapping(
    data: Mapping[str, Any] | None, base: RedactionRules | None = None
) -> RedactionRules:
    """Rules from a parsed YAML document layered on ``base`` (the packaged defaults when
    None, unless the document says ``inherit_defaults: false``). Validated."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"rules must be a mapping of settings; got {type(data).__name__}")
    unknown = sorted(str(name) for name in data if name not in _TOP_LEVEL_FIELDS)
    if unknown:
        raise ConfigurationError(
            f"rules must only use the settings {', '.join(sorted(_TOP_LEVEL_FIELDS))}; "
            f"got {', '.join(unknown)}"
        )
    inherit = data.get("inherit_defaults", True)
    if not isinstance(inherit, bool):
        raise ConfigurationError(f"inherit_defaults must be true or false; got {inherit!r}")
    if not inherit:
        start = RedactionRules()
    elif base is None:
        start = _default_rules()
    else:
        start = base
    rules = _layer(start, data)
    rules.validate(BUILTIN_NAMES)
    return rules


def _layer(start: RedactionRules, data: Mapping[str, Any]) -> RedactionRules:
    changes: dict[str, Any] = {}
    for name in _SCALAR_FIELDS:
        if name in data:
            changes[name] = data[name]
    for name in _LIST_FIELDS:
        if name in data:
            items = _string_list(name, data[name])
            if name in _NORMALISED_FIELDS:
                items = tuple(normalise_key(item) for item in items)
            changes[name] = tuple(dict.fromkeys(getattr(start, name) + items))
    if "sensitive_keys" in data:
        rules = tuple(
            KeyRule(**_rule_fields("sensitive_keys", index, item))
            for index, item in enumerate(_list("sensitive_keys", data["sensitive_keys"]))
        )
        _check_own_names("sensitive_keys", [rule.name for rule in rules])
        changes["sensitive_keys"] = rules + _without(start.sensitive_keys, rules)
    if "custom_detectors" in data:
        detectors = tuple(
            CustomDetector(**_rule_fields("custom_detectors", index, item))
            for index, item in enumerate(_list("custom_detectors", data["custom_detectors"]))
        )
        _check_own_names("custom_detectors", [detector.name for detector in detectors])
        changes["custom_detectors"] = detectors + _without(start.custom_detectors, detectors)
    if "detectors" in data:
        overrides = data["detectors"] or {}
        if not isinstance(overrides, Mapping):
            raise ConfigurationError(
                f"detectors must be a mapping of detector name to action; "
                f"got {type(overrides).__name__}"
            )
        changes["detectors"] = {**start.detectors, **{str(k): v for k, v in overrides.items()}}
    return dataclasses.replace(start, **changes)


def _check_own_names(field_name: str, names: list[str]) -> None:
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigurationError(
                f"{field_name}[{index}].name must be unique in the file; got {name!r} twice"
            )


def _without(inherited: tuple[Any, ...], replacing: tuple[Any, ...]) -> tuple[Any, ...]:
    """``inherited`` rules minus those a user's rule of the same name replaces."""
    names = {item.name for item in replacing}
    return tuple(item for item in inherited if item.name not in names)


def _list(field_name: str, value: object) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigurationError(f"{field_name} must be a list; got {type(value).__name__}")
    return value


def _string_list(field_name: str, value: object) -> tuple[str, ...]:
    items = _list(field_name, value)
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise ConfigurationError(
                f"{field_name}[{index}] must be a non-empty string; got {item!r}"
            )
    return tuple(items)


def _rule_fields(field_name: str, index: int, item: object) -> dict[str, Any]:
    path = f"{field_name}[{index}]"
    if not isinstance(item, Mapping):
        raise ConfigurationError(
            f"{path} must be a mapping with name, pattern and action; got {item!r}"
        )
    unknown = sorted(str(name) for name in item if name not in _RULE_FIELDS)
    if unknown:
        raise ConfigurationError(
            f"{path} must only use the fields action, kind, name, pattern; got {', '.join(unknown)}"
        )
    missing = [name for name in ("name", "pattern", "action") if name not in item]
    if missing:
        raise ConfigurationError(f"{path} must set {', '.join(missing)}; got {dict(item)!r}")
    return {"kind": "", **item}


_DEFAULTS: list[RedactionRules] = []


def _default_rules() -> RedactionRules:
    """The packaged ``default_rules.yaml``, parsed once per process (each caller gets its
    own ``detectors`` dict, the one mutable field)."""
    if not _DEFAULTS:
        package = resources.files("max_otel.processors.redaction")
        data = yaml.safe_load(package.joinpath("default_rules.yaml").read_text("utf-8"))
        _DEFAULTS.append(rules_from_mapping({**data, "inherit_defaults": False}))
    return dataclasses.replace(_DEFAULTS[0], detectors=dict(_DEFAULTS[0].detectors))
