"""The demo's verdicts on what Jaeger stored: each a named check that passed or failed.

::

    results = conversation_checks(found) + [pii_check(text, "Jaeger", n_traces)]
    for check in results:
        print(check.line())        # "  [ok]   conversation_id on every span ..."
    passed = all(check.passed for check in results)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from demo.conversation_traces import API_SERVICE, WORKER_SERVICE, ConversationTraces
from demo.jaeger_api import JaegerTrace
from demo.seeded_pii import find_seeded, seeded_values
from demo.trace_checks import CONVERSATION_ID, describe_spans, span_kinds, spans_without

REQUIRED_KINDS = frozenset({"http", "db", "redis", "celery"})


@dataclass(frozen=True)
class CheckResult:
    """One check: what it checks, whether it passed, and the evidence."""

    title: str
    passed: bool
    detail: str = ""

    def line(self) -> str:
        mark = "[ok]  " if self.passed else "[FAIL]"
        return f"  {mark} {self.title}" + (f"\n         {self.detail}" if self.detail else "")


def _one_trace_across_services(trace: JaegerTrace | None) -> bool:
    """Spans of both services, and one root: no part of the flow was cut off."""
    return (
        trace is not None
        and trace.services >= {API_SERVICE, WORKER_SERVICE}
        and len(trace.roots()) == 1
    )


def _spans_both_services(found: Sequence[ConversationTraces]) -> list[CheckResult]:
    inbound_bad = [
        item.run.conversation_id for item in found if not _one_trace_across_services(item.inbound)
    ]
    reply_bad = [
        item.run.conversation_id
        for item in found
        if not any(_one_trace_across_services(trace) for trace in item.tagged)
    ]
    return [
        CheckResult(
            f"each inbound message is ONE trace across {API_SERVICE} and {WORKER_SERVICE} "
            "(webhook -> triage task)",
            not inbound_bad,
            f"not so for {inbound_bad}" if inbound_bad else "",
        ),
        CheckResult(
            f"each agent reply is ONE trace across {API_SERVICE} and {WORKER_SERVICE} "
            "(reply -> send_message task)",
            not reply_bad,
            f"not so for {reply_bad}" if reply_bad else "",
        ),
    ]


def _conversation_id_everywhere(found: Sequence[ConversationTraces]) -> CheckResult:
    spans = traces = 0
    missing: list[str] = []
    for item in found:
        for trace in item.tagged:
            traces += 1
            spans += len(trace.spans)
            lacking = spans_without(trace, CONVERSATION_ID, item.run.conversation_id)
            if lacking:
                missing.append(f"trace {trace.trace_id}: {describe_spans(lacking, 5)}")
    return CheckResult(
        f"conversation_id on every span of the conversations' traces ({spans} spans in "
        f"{traces} traces)",
        traces > 0 and not missing,
        "; ".join(missing[:3]) if missing else "",
    )


def _span_kinds(found: Sequence[ConversationTraces]) -> CheckResult:
    lacking: list[str] = []
    for item in found:
        traces = [item.inbound] if item.inbound else []
        kinds = set().union(*(span_kinds(trace) for trace in (*traces, *item.tagged)))
        if not kinds >= REQUIRED_KINDS:
            lacking.append(f"{item.run.conversation_id}: no {sorted(REQUIRED_KINDS - kinds)}")
    return CheckResult(
        "HTTP, database (SQLAlchemy), Redis and Celery spans in every conversation",
        not lacking,
        "; ".join(lacking),
    )


def conversation_checks(found: Sequence[ConversationTraces]) -> list[CheckResult]:
    """One-trace-across-services, conversation_id and span-kind checks."""
    return [*_spans_both_services(found), _conversation_id_everywhere(found), _span_kinds(found)]


def pii_check(text: str, where: str) -> CheckResult:
    """None of the seeded values occurs in ``text`` (what ``where`` holds)."""
    values = seeded_values()
    leaked = find_seeded(text, values)
    return CheckResult(
        f"none of the {len(values)} seeded PII values in {where} ({len(text):,} chars searched)",
        not leaked,
        f"found: {leaked}" if leaked else "",
    )


__all__ = ["REQUIRED_KINDS", "CheckResult", "conversation_checks", "pii_check"]
