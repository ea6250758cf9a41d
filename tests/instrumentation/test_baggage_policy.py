"""Which baggage entries are promoted, and which values are accepted."""

from __future__ import annotations

import pytest
from opentelemetry import baggage

from max_otel.instrumentation.baggage_policy import BaggagePolicy, normalise_value

pytestmark = pytest.mark.unit

CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


def test_conversation_id_must_be_a_uuid_and_is_lowercased() -> None:
    assert normalise_value("conversation_id", CID.upper()) == CID
    assert normalise_value("conversation_id", "conv-123") is None
    assert normalise_value("conversation_id", CID + "0") is None
    assert normalise_value("conversation_id", f"{{{CID}}}") is None


def test_identifiers_channel_and_other_keys_have_format_and_length_caps() -> None:
    assert normalise_value("team_id", "sales_uuid") == "sales_uuid"
    assert normalise_value("team_id", "a" * 128) == "a" * 128
    assert normalise_value("team_id", "a" * 129) is None
    assert normalise_value("agent_id", "agent 7") is None
    assert normalise_value("channel", "whatsapp") == "whatsapp"
    assert normalise_value("channel", "WhatsApp") is None
    assert normalise_value("tenant", "acme-1") == "acme-1"
    assert normalise_value("tenant", "x\ny") is None
    assert normalise_value("tenant", 12) is None


def test_only_allowlisted_valid_entries_are_promoted() -> None:
    ctx = baggage.set_baggage("conversation_id", CID)
    ctx = baggage.set_baggage("team_id", "sales", ctx)
    ctx = baggage.set_baggage("channel", "NOT OK", ctx)
    ctx = baggage.set_baggage("user_email", "ana@example.com", ctx)
    assert BaggagePolicy().promoted(ctx) == {"conversation_id": CID, "team_id": "sales"}


def test_allowlist_comes_from_the_environment() -> None:
    policy = BaggagePolicy.from_environment({"MAX_OTEL_BAGGAGE_KEYS": "conversation_id, tenant"})
    assert policy.keys == ("conversation_id", "tenant")
    assert BaggagePolicy.from_environment({}).keys == (
        "conversation_id",
        "team_id",
        "agent_id",
        "channel",
    )


def test_malformed_allowlist_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^MAX_OTEL_BAGGAGE_KEYS keys must be .*; got 'Bad Key'$"):
        BaggagePolicy.from_environment({"MAX_OTEL_BAGGAGE_KEYS": "conversation_id,Bad Key"})
