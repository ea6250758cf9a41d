"""The public API is what the docs say it is."""

from __future__ import annotations

import pytest

import max_otel.instrumentation
import max_otel.processors.in_process

pytestmark = pytest.mark.unit


def test_instrumentation_exports() -> None:
    assert max_otel.instrumentation.__all__ == [
        "Events",
        "conversation",
        "current_conversation_id",
        "emit",
    ]


def test_in_process_exports() -> None:
    assert max_otel.processors.in_process.__all__ == [
        "AttributeRedactor",
        "RedactingLogRecordExporter",
        "RedactingSpanExporter",
    ]
