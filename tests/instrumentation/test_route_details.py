"""Span names of static routes come from the cache and are the ones the instrumentation gives."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from opentelemetry.instrumentation import fastapi as fastapi_instrumentation
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.routing import Host, Router

from max_otel.instrumentation.route_details import (
    StaticRouteSpanDetails,
    cache_static_route_details,
    uncache_static_route_details,
)
from tests.instrumentation._tracing import in_memory_provider

pytestmark = pytest.mark.unit

ORIGINAL = fastapi_instrumentation._get_default_span_details
CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


def sample_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.post("/ping")
    def post_ping() -> str:
        return "posted"

    @app.get("/conversations/{conversation_id}")
    def conversation(conversation_id: str) -> str:
        return conversation_id

    health = APIRouter()

    @health.get("/health")
    def healthy() -> str:
        return "ok"

    app.include_router(health)
    return app


class CountingLookup:
    """The instrumentation's own lookup, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, scope: MutableMapping[str, Any]) -> tuple[str, dict[str, str]]:
        self.calls += 1
        return ORIGINAL(scope)


def scope(app: Any, path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "app": app, **extra}


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/ping", "GET"),
        ("/ping", "POST"),
        ("/ping", "DELETE"),  # matched partially: 405
        ("/health", "GET"),
        (f"/conversations/{CID}", "GET"),
        ("/missing", "GET"),
    ],
)
def test_cached_details_are_the_instrumentations_own(path: str, method: str) -> None:
    app = sample_app()
    details = StaticRouteSpanDetails(ORIGINAL)
    for _ in range(2):
        assert details(scope(app, path, method)) == ORIGINAL(scope(app, path, method))


def test_only_static_routes_are_answered_from_the_cache() -> None:
    app = sample_app()
    lookup = CountingLookup()
    details = StaticRouteSpanDetails(lookup)
    for path in ("/ping", "/ping", "/health", "/health"):
        details(scope(app, path))
    assert lookup.calls == 2
    for path in (f"/conversations/{CID}", f"/conversations/{CID}", "/missing", "/missing"):
        details(scope(app, path))
    assert lookup.calls == 6


def test_a_returned_attribute_map_can_be_changed_without_changing_the_cache() -> None:
    app = sample_app()
    details = StaticRouteSpanDetails(ORIGINAL)
    _, attributes = details(scope(app, "/ping"))
    attributes["http.route"] = "changed"
    assert details(scope(app, "/ping")) == ("GET /ping", {"http.route": "/ping"})


def test_a_route_added_later_is_seen() -> None:
    app = sample_app()
    details = StaticRouteSpanDetails(ORIGINAL)
    assert details(scope(app, "/ping")) == ("GET /ping", {"http.route": "/ping"})

    @app.get("/{anything}")
    def anything(anything: str) -> str:
        return anything

    app.router.routes.insert(0, app.router.routes.pop())  # now matched first
    assert details(scope(app, "/ping")) == ORIGINAL(scope(app, "/ping"))
    assert details(scope(app, "/ping"))[0] == "GET /{anything}"


def test_apps_with_host_routes_are_not_cached() -> None:
    app = sample_app()
    app.router.routes.insert(0, Host("api.example.com", Router()))
    lookup = CountingLookup()
    details = StaticRouteSpanDetails(lookup)
    for _ in range(3):
        details(scope(app, "/ping", headers=[(b"host", b"other.example.com")]))
    assert lookup.calls == 3


def test_the_cache_is_bounded() -> None:
    app = sample_app()
    details = StaticRouteSpanDetails(ORIGINAL, max_entries=1)
    for path in ("/ping", "/health", "/ping"):
        assert details(scope(app, path)) == ORIGINAL(scope(app, path))
    with pytest.raises(ValueError, match="max_entries must be at least 1; got 0"):
        StaticRouteSpanDetails(ORIGINAL, max_entries=0)


@pytest.fixture
def cached_instrumentation() -> Iterator[None]:
    assert cache_static_route_details()
    assert cache_static_route_details()  # idempotent
    try:
        yield
    finally:
        uncache_static_route_details()
    assert fastapi_instrumentation._get_default_span_details is ORIGINAL


def test_instrumented_app_names_its_spans_as_before(cached_instrumentation: None) -> None:
    assert isinstance(fastapi_instrumentation._get_default_span_details, StaticRouteSpanDetails)
    provider, exporter = in_memory_provider()
    app = sample_app()
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=["send"])
    try:
        with TestClient(app) as client:
            for path in ("/ping", "/ping", "/health", f"/conversations/{CID}", "/missing"):
                client.get(path)
    finally:
        FastAPIInstrumentor.uninstrument_app(app)
    names = [
        (s.name, (s.attributes or {}).get("http.route")) for s in exporter.get_finished_spans()
    ]
    assert names == [
        ("GET /ping", "/ping"),
        ("GET /ping", "/ping"),
        ("GET /health", "/health"),
        ("GET /conversations/{conversation_id}", "/conversations/{conversation_id}"),
        ("GET", None),
    ]
