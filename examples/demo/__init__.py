"""The demo's parts, also used by the end-to-end tests (``tests/e2e``).

- :mod:`demo.jaeger_api`: read traces back from Jaeger's HTTP API;
- :mod:`demo.trace_tree`: draw a trace as an indented tree with timings;
- :mod:`demo.trace_checks`: span kinds, spans lacking an attribute;
- :mod:`demo.seeded_pii`: the PII the demo sends, and the search for it;
- :mod:`demo.conversation_traces`: drive the conversations, find their traces;
- :mod:`demo.demo_checks`: the demo's named checks;
- :mod:`demo.demo_stack`: the stack's port map and pseudonym key for the demo.

The driver is ``examples/run_demo.py`` (``bash scripts/demo``); see docs/demo.md.
"""

from demo.jaeger_api import JaegerApi, JaegerApiError, JaegerSpan, JaegerTrace, stored_text
from demo.seeded_pii import find_seeded, seeded_values
from demo.trace_tree import trace_tree_lines

__all__ = [
    "JaegerApi",
    "JaegerApiError",
    "JaegerSpan",
    "JaegerTrace",
    "find_seeded",
    "seeded_values",
    "stored_text",
    "trace_tree_lines",
]
