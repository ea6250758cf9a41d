"""JSON log lines: the spec's shape, correlated with the trace, PII redacted."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import cast

import pytest
from opentelemetry import baggage, context

from max_otel.instrumentation.json_logs import JsonLogFormatter, iso_timestamp
from max_otel.instrumentation.redaction_setup import build_redactor
from max_otel.processors.redaction import PseudonymKey
from tests.instrumentation._tracing import in_memory_provider

pytestmark = pytest.mark.unit

KEY = "unit-test-pseudonym-key-0123456789abcdef"
CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"
PHONE = "+5511987654321"
PHONE_PSEUDONYM = PseudonymKey(KEY.encode(), "k1").pseudonymise("phone", PHONE)


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonLogFormatter("core-api", build_redactor({"MAX_OTEL_PSEUDONYM_KEY": KEY}))
    )
    logger = logging.getLogger("test.json_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_event_line_has_the_spec_shape(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    logger.info(
        "conversation.assigned",
        extra={"conversation_id": CID, "assigned_to": "agent_uuid", "duration_ms": 45},
    )
    (line,) = lines(stream)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(line["timestamp"]))
    assert line == {
        "timestamp": line["timestamp"],
        "level": "INFO",
        "service": "core-api",
        "event": "conversation.assigned",
        "logger": "test.json_logs",
        "conversation_id": CID,
        "assigned_to": "agent_uuid",
        "duration_ms": 45,
    }


def test_timestamp_has_milliseconds_and_z() -> None:
    assert iso_timestamp(1767614400.1239) == "2026-01-05T12:00:00.123Z"


def test_conversation_and_trace_ids_come_from_the_context(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log
    provider, _ = in_memory_provider()
    token = context.attach(baggage.set_baggage("conversation_id", CID))
    try:
        with provider.get_tracer("t").start_as_current_span("request") as span:
            logger.warning("message.failed")
            ids = span.get_span_context()
    finally:
        context.detach(token)
    (line,) = lines(stream)
    assert line["conversation_id"] == CID
    assert line["trace_id"] == f"{ids.trace_id:032x}"
    assert line["span_id"] == f"{ids.span_id:016x}"
    assert line["level"] == "WARNING"


def test_pii_in_fields_and_in_message_text_is_redacted(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log
    logger.info(
        "sent to %s with token %s",
        PHONE,
        "sk_live_abcdefghijklmnopqrstuvwx",
        extra={
            "phone": PHONE,
            "message_content": "my card is 4111 1111 1111 1111",
            "password": "hunter2",
            "api_key": "abc123",
        },
    )
    raw = stream.getvalue()
    for secret in (PHONE, "4111", "hunter2", "abc123", "sk_live"):
        assert secret not in raw
    (line,) = lines(stream)
    assert line["phone"] == PHONE_PSEUDONYM
    assert PHONE_PSEUDONYM in str(line["event"])
    assert line["message_content"] == "<30 chars>"
    assert line["password"] == "***"
    assert line["api_key"] == "***"


def test_exception_traceback_is_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    try:
        raise ValueError(f"no customer {PHONE}")
    except ValueError:
        logger.exception("integration.failure")
    (line,) = lines(stream)
    assert "ValueError: no customer " + PHONE_PSEUDONYM in str(line["exception"])
    assert PHONE not in stream.getvalue()


def test_odd_values_and_reserved_names_are_written_safely(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log

    class Customer:
        def __str__(self) -> str:
            return f"Customer({PHONE})"

    logger.info("x", extra={"customer": Customer(), "event": "y", "ids": {1, 2}, "raw": b"ok"})
    (line,) = lines(stream)
    assert PHONE not in stream.getvalue()
    assert line["event"] == "x"
    assert line["event_"] == "y"
    assert sorted(cast(list[int], line["ids"])) == [1, 2]
    assert line["raw"] == "ok"


def test_a_broken_record_gives_a_line_without_content(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    logger.info("x %s", "arg", extra={"thing": Unprintable()})
    (line,) = lines(stream)
    assert line["event"] == "log.format_error"
    assert "thing" not in line
