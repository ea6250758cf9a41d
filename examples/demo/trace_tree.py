"""Draw a stored trace as an indented tree with timings, like the spec's "Trace Flow"::

    print("\\n".join(trace_tree_lines(trace)))

    POST /webhooks/whatsapp  104.3 ms  [core-api]
      ├─ INSERT max_service.db  1.0 ms
      ├─ apply_async/max_service.triage_conversation  22.1 ms
      │   └─ LPUSH  17.7 ms
      │       └─ run/max_service.triage_conversation  73.8 ms  [core-worker]
      └─ PUBLISH  10.6 ms
    Total: 104.3 ms, 15 spans, services core-api, core-worker

A span's service is shown on the root and wherever it differs from its parent's, so the hop
from one process to another stands out. ``mark`` adds a note after chosen spans (the demo
marks spans without ``conversation_id``).
"""

from __future__ import annotations

from collections.abc import Callable

from demo.jaeger_api import JaegerSpan, JaegerTrace

_DEFAULT_MAX_SPANS = 60


def _milliseconds(microseconds: int) -> str:
    return f"{microseconds / 1000:.1f} ms"


def _label(span: JaegerSpan, parent: JaegerSpan | None, mark: Callable[[JaegerSpan], str]) -> str:
    text = f"{span.name}  {_milliseconds(span.duration_us)}"
    if parent is None or parent.service != span.service:
        text += f"  [{span.service}]"
    note = mark(span)
    return f"{text}  {note}" if note else text


def trace_tree_lines(
    trace: JaegerTrace,
    *,
    mark: Callable[[JaegerSpan], str] = lambda span: "",
    max_spans: int = _DEFAULT_MAX_SPANS,
    indent: str = "",
) -> list[str]:
    """The trace as tree lines (children by start time), then a "Total:" line.

    At most ``max_spans`` spans are drawn; the rest are counted in one "..." line.
    """
    lines: list[str] = []

    def walk(span: JaegerSpan, parent: JaegerSpan | None, prefix: str, last: bool) -> None:
        if len(lines) >= max_spans:
            return
        if parent is None:
            lines.append(f"{indent}{_label(span, None, mark)}")
            child_prefix = "  "
        else:
            branch = "└─ " if last else "├─ "
            lines.append(f"{indent}{prefix}{branch}{_label(span, parent, mark)}")
            child_prefix = prefix + ("    " if last else "│   ")
        children = trace.children(span)
        for index, child in enumerate(children):
            walk(child, span, child_prefix, index == len(children) - 1)

    for root in trace.roots():
        walk(root, None, "", True)
    hidden = len(trace.spans) - len(lines)
    if hidden > 0:
        lines.append(f"{indent}  ... {hidden} more spans")
    services = ", ".join(sorted(trace.services))
    lines.append(
        f"{indent}Total: {_milliseconds(trace.duration_us)}, {len(trace.spans)} spans, "
        f"services {services}"
    )
    return lines


__all__ = ["trace_tree_lines"]
