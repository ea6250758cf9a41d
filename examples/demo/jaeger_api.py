"""Read traces back from Jaeger's HTTP API, the one its UI uses (``/api/...``).

Spans come back flattened into small frozen dataclasses (service name, parent, timings in
microseconds, tags as Python values); each trace keeps the JSON object Jaeger returned, so a
caller can search everything Jaeger stored, not only the fields parsed here::

    jaeger = JaegerApi("http://127.0.0.1:16686")
    traces = jaeger.find_traces("core-api", tags={"conversation_id": conversation_id})
    for trace in traces:
        print(trace.trace_id, sorted(trace.services), len(trace.spans))
    print(jaeger.ui_link(traces[0].trace_id))   # http://127.0.0.1:16686/trace/<id>

Contract: ``find_traces`` and ``trace`` raise ``JaegerApiError`` when Jaeger cannot be reached
or answers with an error; an unknown trace id is ``None``, not an error. Nothing here writes
to Jaeger.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

_DEFAULT_TIMEOUT = 10.0
_DEFAULT_LIMIT = 100


class JaegerApiError(RuntimeError):
    """Jaeger could not be reached, or answered a query with an error."""


@dataclass(frozen=True)
class JaegerSpan:
    """One stored span: ids (hex), service, name, start and duration in microseconds, tags."""

    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    start_us: int
    duration_us: int
    tags: Mapping[str, object]

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


@dataclass(frozen=True)
class JaegerTrace:
    """One trace as Jaeger stored it; ``raw`` is Jaeger's JSON object for it."""

    trace_id: str
    spans: tuple[JaegerSpan, ...]
    raw: Mapping[str, Any]

    @property
    def services(self) -> frozenset[str]:
        """Names of the services that recorded spans in this trace."""
        return frozenset(span.service for span in self.spans)

    @property
    def duration_us(self) -> int:
        """From the first span's start to the last span's end."""
        return max(s.end_us for s in self.spans) - min(s.start_us for s in self.spans)

    def roots(self) -> list[JaegerSpan]:
        """Spans whose parent is not in this trace, earliest first."""
        ids = {span.span_id for span in self.spans}
        roots = [s for s in self.spans if s.parent_id is None or s.parent_id not in ids]
        return sorted(roots, key=lambda s: s.start_us)

    def children(self, span: JaegerSpan) -> list[JaegerSpan]:
        """Direct children of ``span``, earliest first."""
        found = [s for s in self.spans if s.parent_id == span.span_id]
        return sorted(found, key=lambda s: s.start_us)

    def root(self) -> JaegerSpan:
        """The earliest root span."""
        return self.roots()[0]


def _parent_id(span: Mapping[str, Any]) -> str | None:
    for reference in span.get("references") or ():
        if reference.get("refType") == "CHILD_OF":
            return str(reference["spanID"])
    return None


def parse_trace(raw: Mapping[str, Any]) -> JaegerTrace:
    """Flatten one trace object of Jaeger's ``/api/traces`` answer."""
    processes = {pid: p.get("serviceName", "?") for pid, p in (raw.get("processes") or {}).items()}
    spans = tuple(
        JaegerSpan(
            trace_id=str(span["traceID"]),
            span_id=str(span["spanID"]),
            parent_id=_parent_id(span),
            service=processes.get(span.get("processID", ""), "?"),
            name=str(span.get("operationName", "")),
            start_us=int(span.get("startTime", 0)),
            duration_us=int(span.get("duration", 0)),
            tags={tag["key"]: tag.get("value") for tag in span.get("tags") or ()},
        )
        for span in raw.get("spans") or ()
    )
    return JaegerTrace(trace_id=str(raw["traceID"]), spans=spans, raw=raw)


def stored_text(traces: Iterable[JaegerTrace]) -> str:
    """Everything Jaeger stored for ``traces`` as one string, JSON escapes decoded.

    Jaeger's JSON escapes characters such as ``<`` and ``&`` (``\\u003c``); searching this
    text instead of the raw bytes means an escaped value cannot hide from a search.
    """
    return "\n".join(json.dumps(trace.raw, ensure_ascii=False) for trace in traces)


class JaegerApi:
    """A small client of Jaeger's HTTP query API at ``base_url`` (``http://host:16686``)."""

    def __init__(self, base_url: str, timeout: float = _DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        try:
            response = httpx.get(f"{self.base_url}{path}", params=params, timeout=self._timeout)
        except httpx.HTTPError as error:
            raise JaegerApiError(f"Jaeger at {self.base_url} unreachable: {error}") from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise JaegerApiError(
                f"GET {path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def services(self) -> list[str]:
        """Names of the services Jaeger has traces of."""
        body = self._get("/api/services")
        return sorted(body.get("data") or []) if body else []

    def find_traces(
        self,
        service: str,
        *,
        tags: Mapping[str, str] | None = None,
        operation: str | None = None,
        start_us: int | None = None,
        end_us: int | None = None,
        limit: int = _DEFAULT_LIMIT,
    ) -> list[JaegerTrace]:
        """Traces with a span of ``service`` matching every filter, as the UI's search does.

        ``tags`` must all be on one span; ``start_us``/``end_us`` bound the trace's start
        (microseconds since the epoch). Jaeger returns whole traces, all services included.
        """
        params: dict[str, str | int] = {"service": service, "limit": limit}
        if tags:
            params["tags"] = json.dumps(dict(tags))
        if operation:
            params["operation"] = operation
        if start_us is not None:
            params["start"] = start_us
        if end_us is not None:
            params["end"] = end_us
        body = self._get("/api/traces", params)
        if body is None:
            return []
        if body.get("errors"):
            raise JaegerApiError(f"Jaeger search for {params} failed: {body['errors']}")
        return [parse_trace(raw) for raw in body.get("data") or []]

    def trace(self, trace_id: str) -> JaegerTrace | None:
        """The trace with id ``trace_id`` (hex), or None if Jaeger does not have it."""
        body = self._get(f"/api/traces/{trace_id}")
        data = body.get("data") if body else None
        return parse_trace(data[0]) if data else None

    def ui_link(self, trace_id: str) -> str:
        """The trace's page in the Jaeger UI."""
        return f"{self.base_url}/trace/{trace_id}"


def wait_for(predicate: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Return ``predicate()``'s first truthy result; raise TimeoutError after ``timeout`` s.

    A ``JaegerApiError`` inside ``predicate`` counts as "not yet" (Jaeger may be restarting).
    """
    deadline = time.monotonic() + timeout
    last_error: JaegerApiError | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except JaegerApiError as error:
            last_error = error
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"condition not met after {timeout:.0f}s{detail}")
        time.sleep(interval)


__all__ = [
    "JaegerApi",
    "JaegerApiError",
    "JaegerSpan",
    "JaegerTrace",
    "parse_trace",
    "stored_text",
    "wait_for",
]
