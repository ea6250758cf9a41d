"""URL scrubbing: credentials, sensitive query values and PII in path segments.

- userinfo becomes ``REDACTED:REDACTED@`` (``REDACTED@`` without a password), as the
  OpenTelemetry semantic conventions ask for ``url.full``; hit ``url_credentials``;
- the value of a query parameter named in ``url_sensitive_query_params`` (``sig``,
  ``X-Goog-Signature``, ``AWSAccessKeyId``...) becomes ``REDACTED``, keeping the key; hit
  ``url_query_param``; a parameter whose name matches a ``sensitive_keys`` rule gets that
  rule (pseudonymise: the pseudonym; mask, length, drop: ``REDACTED``);
- every other path segment, query value and the fragment are percent-decoded and scrubbed
  by the text detectors (``/customers/+14155550123/messages`` ->
  ``/customers/phone:k1:.../messages``); only changed parts are re-encoded. The path's
  segments are scanned together first (``PiiScanner.locate_texts``): only the segments
  in which the scan finds something go to the detectors one by one.

A URL that does not change comes back as the very same string. Accepts full URLs,
``http.target``-style paths with a query, and bare query strings (``url.query``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

import re2

from max_otel.processors.redaction._detectors import Finding
from max_otel.processors.redaction._keys import KeyClassifier
from max_otel.processors.redaction._rules import KeyRule, normalise_key

URL_CREDENTIALS = "url_credentials"
URL_QUERY_PARAM = "url_query_param"
_SAFE = "!$&'()*+,;=:@~"


class UrlScrubber:
    """``scrubber(url, hits) -> url``; never changes a URL that holds nothing sensitive."""

    def __init__(
        self,
        classify: KeyClassifier,
        sensitive_params: frozenset[str],
        redacted_text: str,
        scrub_text: Callable[[str, Counter[str]], str],
        rule_text: Callable[[KeyRule, str], str],
        already_redacted: Callable[[str], bool],
        locate: Callable[[Sequence[str]], list[int]],
    ) -> None:
        self._classify = classify
        self._locate = locate
        self._sensitive = sensitive_params
        self._redacted = redacted_text
        self._scrub_text = scrub_text
        self._rule_text = rule_text
        self._already_redacted = already_redacted

    def __call__(self, url: str, hits: Counter[str]) -> str:
        if "=" in url and "/" not in url and "?" not in url:
            return self.scrub_query(url, hits)
        try:
            parts = urlsplit(url)
        except ValueError:
            return self._scrub_text(url, hits)
        netloc = self._scrub_netloc(parts.netloc, hits)
        path = self._scrub_path(parts.path, hits)
        query = self.scrub_query(parts.query, hits)
        fragment = self._scrub_fragment(parts.fragment, hits)
        if (netloc, path, query, fragment) == (
            parts.netloc,
            parts.path,
            parts.query,
            parts.fragment,
        ):
            return url
        return urlunsplit((parts.scheme, netloc, path, query, fragment))

    def _scrub_netloc(self, netloc: str, hits: Counter[str]) -> str:
        if "@" not in netloc:
            return netloc
        userinfo, _, host = netloc.rpartition("@")
        redacted = f"{self._redacted}:{self._redacted}" if ":" in userinfo else self._redacted
        if userinfo == redacted:
            return netloc
        hits[URL_CREDENTIALS] = hits.get(URL_CREDENTIALS, 0) + 1
        return f"{redacted}@{host}"

    def _scrub_path(self, path: str, hits: Counter[str]) -> str:
        if not path:
            return path
        segments = path.split("/")
        changed = False
        # A segment the scan passes over is one the detectors would leave alone, and
        # without a %XX escape (the scan sees those) it is its own percent-decoding.
        for index in self._locate(segments):
            segment = segments[index]
            if segment:
                scrubbed = self._scrub_part(segment, hits)
                if scrubbed is not segment:
                    segments[index] = scrubbed
                    changed = True
        return "/".join(segments) if changed else path

    def _scrub_part(self, raw: str, hits: Counter[str]) -> str:
        """``raw`` percent-decoded and scrubbed, re-encoded only if it changed."""
        decoded = unquote(raw) if "%" in raw else raw
        scrubbed = self._scrub_text(decoded, hits)
        if scrubbed == decoded:
            return raw
        return quote(scrubbed, safe=_SAFE, errors="surrogatepass")  # as text is read

    def scrub_query(self, query: str, hits: Counter[str]) -> str:
        """``a=1&token=x`` -> ``a=1&token=REDACTED``; same string when nothing changed."""
        if not query:
            return query
        pairs = query.split("&")
        changed = False
        for index, pair in enumerate(pairs):
            name, separator, value = pair.partition("=")
            if not separator:
                scrubbed = self._scrub_part(pair, hits)
            else:
                scrubbed = name + "=" + self._scrub_param(name, value, hits)
            if scrubbed != pair:
                pairs[index] = scrubbed
                changed = True
        return "&".join(pairs) if changed else query

    def _scrub_param(self, raw_name: str, raw_value: str, hits: Counter[str]) -> str:
        if not raw_value:
            return raw_value
        name = unquote_plus(raw_name)
        value = unquote(raw_value)
        if self._already_redacted(value):
            return raw_value
        if normalise_key(name) in self._sensitive:
            hits[URL_QUERY_PARAM] = hits.get(URL_QUERY_PARAM, 0) + 1
            return self._redacted
        decision = self._classify(name)
        rule = decision.rule
        if rule is not None:
            hits[rule.name] = hits.get(rule.name, 0) + 1
            if rule.action == "pseudonymise":
                return quote(self._rule_text(rule, value), safe=_SAFE)
            return self._redacted
        if decision.route == "keep":
            return raw_value
        return self._scrub_part(raw_value, hits)

    def _scrub_fragment(self, fragment: str, hits: Counter[str]) -> str:
        if not fragment:
            return fragment
        if "=" in fragment:
            return self.scrub_query(fragment, hits)
        return self._scrub_part(fragment, hits)


URL_IN_TEXT = r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s\"'<>]+"
"""RE2 pattern of a URL inside free text (scheme required)."""


class UrlTextDetector:
    """Detector wrapping ``UrlScrubber`` for URLs inside free text. A URL always claims its
    span (even unchanged), so ``REDACTED@host`` is not taken for an email afterwards."""

    name = "url"
    pattern = URL_IN_TEXT
    protect = False

    def __init__(self, scrubber: UrlScrubber) -> None:
        self._scrubber = scrubber
        self._regexp = re2.compile(URL_IN_TEXT)

    def find(self, data: bytes) -> Iterator[Finding]:
        for match in self._regexp.finditer(data):
            url = match.group().decode("utf-8", "surrogatepass")
            counts: Counter[str] = Counter()
            scrubbed = self._scrubber(url, counts)
            replacement = scrubbed.encode("utf-8", "surrogatepass")
            yield Finding(match.start(), match.end(), "", replacement, tuple(counts.items()))
