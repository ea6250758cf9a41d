"""The spec's event catalogue and ``emit``."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from max_otel.instrumentation import Events, emit
from max_otel.instrumentation.events import EVENT_LOGGER_NAME, default_level

pytestmark = pytest.mark.unit

SPEC = Path("/work/shared/spec/observability.md")
SPEC_EVENTS = {
    "conversation.created", "conversation.assigned", "conversation.transferred",
    "conversation.closed", "conversation.reopened", "message.received", "message.sent",
    "message.delivered", "message.failed", "integration.request", "integration.success",
    "integration.failure", "integration.timeout", "ai.tool_called", "ai.tool_success",
    "ai.tool_denied", "ai.confirmation_required", "auth.login", "auth.logout",
    "auth.permission_denied",
}  # fmt: skip


def test_catalogue_is_the_spec_list() -> None:
    assert {event.value for event in Events} == SPEC_EVENTS
    if SPEC.exists():  # the spec's "Key Events to Log" section
        section = SPEC.read_text().split("### Key Events to Log")[1].split("### PII")[0]
        assert set(re.findall(r"`([a-z_]+\.[a-z_]+)`", section)) == SPEC_EVENTS


def test_emit_logs_the_event_name_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=EVENT_LOGGER_NAME)
    emit(Events.CONVERSATION_ASSIGNED, conversation_id="c", assigned_to="a", duration_ms=45)
    (record,) = caplog.records
    assert record.name == EVENT_LOGGER_NAME
    assert record.getMessage() == "conversation.assigned"
    assert record.levelno == logging.INFO
    assert record.__dict__["otel.event.name"] == "conversation.assigned"
    fields = vars(record)
    assert (fields["conversation_id"], fields["assigned_to"], fields["duration_ms"]) == (
        "c",
        "a",
        45,
    )
    assert record.pathname == __file__


def test_failures_default_to_error_and_denials_to_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=EVENT_LOGGER_NAME)
    emit(Events.INTEGRATION_TIMEOUT, adapter="crm")
    emit(Events.AUTH_PERMISSION_DENIED, user_id="u")
    emit(Events.MESSAGE_SENT, level=logging.DEBUG)
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.WARNING, logging.DEBUG]
    assert default_level("integration.failure") == logging.ERROR


def test_reserved_field_names_get_an_underscore(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=EVENT_LOGGER_NAME)
    emit(Events.AUTH_LOGIN, name="Ana", message="hi", args=3)
    (record,) = caplog.records
    fields = vars(record)
    assert (fields["name_"], fields["message_"], fields["args_"]) == ("Ana", "hi", 3)
    assert record.getMessage() == "auth.login"


def test_emit_on_a_given_logger_and_disabled_level_is_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = logging.getLogger("test.events.quiet")
    target.setLevel(logging.WARNING)
    emit(Events.MESSAGE_SENT, logger=target)
    assert not caplog.records
