"""Inbound baggage and X-Conversation-ID: validated, capped, never an error or a warning."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import baggage, propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from max_otel.instrumentation.baggage_policy import BaggagePolicy
from max_otel.instrumentation.propagation import (
    ConversationBaggagePropagator,
    install_conversation_propagator,
    sanitise_baggage_header,
)

pytestmark = pytest.mark.unit

CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"
OTHER = "0b7e6a52-91f5-4c4b-8d0e-4f3d9e8a1c22"
propagator = ConversationBaggagePropagator(BaggagePolicy())


def extracted(headers: dict[str, str]) -> dict[str, object]:
    return dict(baggage.get_all(propagator.extract(headers)))


def test_conversation_header_sets_baggage() -> None:
    assert extracted({"x-conversation-id": CID.upper()}) == {"conversation_id": CID}


def test_header_wins_over_baggage_and_other_entries_stay() -> None:
    headers = {"baggage": f"conversation_id={OTHER},team_id=sales", "x-conversation-id": CID}
    assert extracted(headers) == {"conversation_id": CID, "team_id": "sales"}


def test_invalid_header_keeps_the_valid_baggage_value() -> None:
    headers = {"baggage": f"conversation_id={CID}", "x-conversation-id": "not-a-uuid"}
    assert extracted(headers) == {"conversation_id": CID}


def test_non_uuid_conversation_id_in_baggage_is_dropped_others_kept() -> None:
    assert extracted({"baggage": "conversation_id=conv-1,team_id=sales,foo=bar"}) == {
        "team_id": "sales",
        "foo": "bar",
    }


def test_oversized_header_is_dropped_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    header = f"conversation_id={CID}," + ",".join(f"k{i}={'v' * 50}" for i in range(200))
    assert len(header) > 8192
    assert extracted({"baggage": header}) == {}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all("v" * 50 not in r.getMessage() for r in caplog.records)


def test_more_than_180_members_keeps_the_first_180() -> None:
    header = ",".join(f"k{i}=v" for i in range(200))
    assert len(extracted({"baggage": header})) == 180


def test_malformed_and_oversized_members_are_dropped_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    header = f"novalue,bad key=1,long={'x' * 4100},ünï=1,conversation_id={CID}"
    assert extracted({"baggage": header}) == {"conversation_id": CID}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_sanitised_header_keeps_members_with_properties() -> None:
    assert sanitise_baggage_header("a=1;prop=2, b=2") == "a=1;prop=2,b=2"


def test_inject_sends_conversation_id_as_w3c_baggage() -> None:
    carrier: dict[str, str] = {}
    propagator.inject(carrier, baggage.set_baggage("conversation_id", CID))
    assert carrier == {"baggage": f"conversation_id={CID}"}


def test_install_replaces_the_w3c_baggage_propagator() -> None:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    try:
        assert install_conversation_propagator(BaggagePolicy())
        ctx = propagate.extract({"x-conversation-id": CID})
        assert baggage.get_baggage("conversation_id", ctx) == CID
    finally:
        propagate.set_global_textmap(previous)


def test_install_without_baggage_propagator_warns(caplog: pytest.LogCaptureFixture) -> None:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator()]))
    try:
        assert not install_conversation_propagator(BaggagePolicy())
    finally:
        propagate.set_global_textmap(previous)
    assert "Fix: set OTEL_PROPAGATORS=tracecontext,baggage" in caplog.text
