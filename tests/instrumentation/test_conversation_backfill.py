"""conversation_id given to the spans of a trace that ended before the id was bound."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from max_otel.instrumentation import conversation
from max_otel.instrumentation.baggage_policy import BaggagePolicy
from max_otel.instrumentation.baggage_processors import ConversationBaggageSpanProcessor
from max_otel.instrumentation.conversation import configure_binding
from max_otel.instrumentation.conversation_backfill import (
    MAX_HOLD_SECONDS,
    MAX_SPANS_PER_TRACE,
    MAX_TRACES,
    ConversationBackfillSpanProcessor,
)
from max_otel.instrumentation.open_spans import OpenSpans

pytestmark = pytest.mark.unit

CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _provider(
    exporter: InMemorySpanExporter, **caps: float
) -> tuple[TracerProvider, ConversationBackfillSpanProcessor]:
    """A provider set up like the configurator's: baggage and open spans, then the backfill
    in front of the export processor."""
    open_spans = OpenSpans()
    configure_binding(BaggagePolicy(), open_spans)
    provider = TracerProvider()
    provider.add_span_processor(ConversationBaggageSpanProcessor(BaggagePolicy()))
    provider.add_span_processor(open_spans)
    backfill = ConversationBackfillSpanProcessor(SimpleSpanProcessor(exporter), **caps)  # type: ignore[arg-type]
    provider.add_span_processor(backfill)
    return provider, backfill


@pytest.fixture(autouse=True)
def _restore_binding() -> Iterator[None]:
    yield
    configure_binding(BaggagePolicy(), None)


def _ids(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> dict[str, object]:
    return {span.name: (span.attributes or {}).get("conversation_id") for span in spans}


def _webhook(tracer: trace.Tracer, bind: bool = True) -> None:
    """A webhook request: lookup and INSERT end before the id is bound, then the rest."""
    with tracer.start_as_current_span("POST /webhooks/whatsapp"):
        with tracer.start_as_current_span("SELECT conversations"):
            pass
        with tracer.start_as_current_span("INSERT conversations"):
            pass
        if bind:
            with conversation(CID), tracer.start_as_current_span("INSERT messages"):
                pass


def test_id_bound_mid_request_reaches_every_span_of_the_trace(
    exporter: InMemorySpanExporter,
) -> None:
    provider, _ = _provider(exporter)
    _webhook(provider.get_tracer("t"))

    assert _ids(exporter.get_finished_spans()) == {
        "SELECT conversations": CID,
        "INSERT conversations": CID,
        "INSERT messages": CID,
        "POST /webhooks/whatsapp": CID,
    }


def test_spans_wait_for_their_root_before_being_exported(exporter: InMemorySpanExporter) -> None:
    provider, backfill = _provider(exporter)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("child"):
            pass
        assert exporter.get_finished_spans() == ()
        assert backfill.held_spans == 1
    assert [span.name for span in exporter.get_finished_spans()] == ["child", "root"]
    assert backfill.held_spans == 0


def test_trace_whose_root_has_no_id_passes_on_unchanged_at_root_end(
    exporter: InMemorySpanExporter,
) -> None:
    provider, _ = _provider(exporter)
    _webhook(provider.get_tracer("t"), bind=False)

    assert _ids(exporter.get_finished_spans()) == {
        "SELECT conversations": None,
        "INSERT conversations": None,
        "POST /webhooks/whatsapp": None,
    }


def test_span_under_a_remote_parent_is_a_local_root(exporter: InMemorySpanExporter) -> None:
    """A Celery task's run span (remote parent) releases its trace's spans."""
    provider, _ = _provider(exporter)
    tracer = provider.get_tracer("t")
    remote = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span(
        "run/task", context=trace.set_span_in_context(NonRecordingSpan(remote))
    ) as run:
        with tracer.start_as_current_span("SELECT"):
            pass
        run.set_attribute("conversation_id", CID)

    assert _ids(exporter.get_finished_spans()) == {"SELECT": CID, "run/task": CID}


def test_span_ending_after_its_root_passes_straight_through(exporter: InMemorySpanExporter) -> None:
    provider, backfill = _provider(exporter)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root", attributes={"conversation_id": CID})
    late = tracer.start_span("late", context=trace.set_span_in_context(root))
    root.end()
    late.end()

    assert [span.name for span in exporter.get_finished_spans()] == ["root", "late"]
    assert _ids(exporter.get_finished_spans())["late"] == CID
    assert backfill.held_spans == 0


def test_traces_beyond_max_traces_pass_through_unchanged(exporter: InMemorySpanExporter) -> None:
    provider, backfill = _provider(exporter, max_traces=2)
    tracer = provider.get_tracer("t")
    roots = [tracer.start_span(f"root{i}") for i in range(3)]
    for i, root in enumerate(roots):
        tracer.start_span(f"child{i}", context=trace.set_span_in_context(root)).end()

    assert [span.name for span in exporter.get_finished_spans()] == ["child2"]
    assert backfill.passed_unchanged == {MAX_TRACES: 1}
    for root in roots:
        root.end()
    assert len(exporter.get_finished_spans()) == 6


def test_spans_beyond_max_spans_per_trace_pass_through_unchanged(
    exporter: InMemorySpanExporter,
) -> None:
    provider, backfill = _provider(exporter, max_spans_per_trace=2)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root") as root:
        for i in range(3):
            with tracer.start_as_current_span(f"child{i}"):
                pass
        assert [span.name for span in exporter.get_finished_spans()] == ["child2"]
        root.set_attribute("conversation_id", CID)

    assert _ids(exporter.get_finished_spans()) == {
        "child0": CID, "child1": CID, "child2": None, "root": CID,
    }  # fmt: skip
    assert backfill.passed_unchanged == {MAX_SPANS_PER_TRACE: 1}


def test_trace_held_longer_than_max_hold_seconds_is_released_by_the_next_span(
    exporter: InMemorySpanExporter,
) -> None:
    provider, backfill = _provider(exporter, max_hold_seconds=0.05)
    tracer = provider.get_tracer("t")
    stuck = tracer.start_span("never-ends")
    tracer.start_span("child", context=trace.set_span_in_context(stuck)).end()
    time.sleep(0.1)
    with tracer.start_as_current_span("other"):
        pass

    assert [span.name for span in exporter.get_finished_spans()] == ["child", "other"]
    assert backfill.passed_unchanged == {MAX_HOLD_SECONDS: 1}


def test_nothing_held_is_lost_on_shutdown(exporter: InMemorySpanExporter) -> None:
    provider, backfill = _provider(exporter)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root")
    for i in range(5):
        tracer.start_span(f"child{i}", context=trace.set_span_in_context(root)).end()
    provider.shutdown()

    assert sorted(span.name for span in exporter.get_finished_spans()) == [
        f"child{i}" for i in range(5)
    ]
    assert backfill.held_spans == 0


def test_force_flush_passes_held_spans_on(exporter: InMemorySpanExporter) -> None:
    provider, _ = _provider(exporter)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root")
    tracer.start_span("child", context=trace.set_span_in_context(root)).end()

    assert provider.force_flush()
    assert [span.name for span in exporter.get_finished_spans()] == ["child"]


def test_invalid_cap_is_refused_with_its_name(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError, match="max_traces must be at least 1; got 0"):
        ConversationBackfillSpanProcessor(SimpleSpanProcessor(exporter), max_traces=0)
