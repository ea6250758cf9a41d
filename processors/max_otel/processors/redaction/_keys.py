"""Key decisions: what to do with the value under a given attribute key, cached per key.

``KeyClassifier(rules)(key)`` returns one ``KeyDecision``; the first that applies wins:
``keep`` (keep_keys), ``url`` / ``sql`` / ``text`` (structured keys), ``rule`` (a
sensitive_keys rule, in order), ``keep`` (keep_key_patterns), else ``scan`` (value
detectors). Decisions are cached in a dict (cleared when it holds ``cache_size`` keys, so
hostile key cardinality costs time, never memory). The hot loops read that dict
(``KeyClassifier.cache``) directly and compare decisions by identity: every ``keep``,
``url``, ``sql``, ``text`` and ``scan`` decision is the module's one instance (``KEEP``,
``URL``, ``SQL``, ``TEXT``, ``SCAN``), and each rule has one decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import re2

from max_otel.processors.redaction._rules import KeyRule, RedactionRules, normalise_key


@dataclass(frozen=True, slots=True)
class KeyDecision:
    """``route`` is one of keep, url, sql, text, rule, scan; ``rule`` is set for ``rule``."""

    route: str
    rule: KeyRule | None = None


KEEP = KeyDecision("keep")
URL = KeyDecision("url")
SQL = KeyDecision("sql")
TEXT = KeyDecision("text")
SCAN = KeyDecision("scan")


def key_options() -> re2.Options:
    """RE2 options for key patterns: case-insensitive."""
    options = re2.Options()
    options.case_sensitive = False
    return options


class KeyClassifier:
    """Maps an attribute key to its ``KeyDecision``; never raises for str keys."""

    def __init__(self, rules: RedactionRules, cache_size: int = 4096) -> None:
        self._keep = frozenset(rules.keep_keys)
        self._routes = {key: URL for key in rules.url_keys}
        self._routes.update({key: SQL for key in rules.sql_keys})
        self._routes.update({key: TEXT for key in rules.text_keys})
        self._rules = rules.sensitive_keys
        self._rule_decisions = tuple(KeyDecision("rule", rule) for rule in self._rules)
        self._rule_set = _compile_set([rule.pattern for rule in self._rules])
        self._keep_set = _compile_set(list(rules.keep_key_patterns))
        self.cache: dict[str, KeyDecision] = {}
        """Key -> decision, for lookups without a call; filled by calling the classifier."""
        self._cache_size = cache_size

    def __call__(self, key: str) -> KeyDecision:
        decision = self.cache.get(key)
        if decision is None:
            decision = self._decide(normalise_key(key))
            if len(self.cache) >= self._cache_size:
                self.cache.clear()
            self.cache[key] = decision
        return decision

    def _decide(self, normalised: str) -> KeyDecision:
        if normalised in self._keep:
            return KEEP
        route = self._routes.get(normalised)
        if route is not None:
            return route
        if self._rule_set is not None:
            matched = self._rule_set.Match(normalised)
            if matched:
                return self._rule_decisions[min(matched)]
        if self._keep_set is not None and self._keep_set.Match(normalised):
            return KEEP
        return SCAN


def _compile_set(patterns: list[str]) -> re2.Set | None:
    if not patterns:
        return None
    pattern_set = re2.Set.SearchSet(key_options())
    for pattern in patterns:
        pattern_set.Add(pattern)
    pattern_set.Compile()
    return pattern_set
