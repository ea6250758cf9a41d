"""Instructions the processor's redaction costs, counted by callgrind, with the engine's
compiled text case off and on (``Redactor(..., compiled_text=...)``) in the same run.

Run (about 5 minutes on 2 cores; needs valgrind)::

    .venv/bin/python bench/processor_callgrind.py

For each figure the same loop runs under ``valgrind --tool=callgrind`` twice, with 1 and
with 3 rounds (``PYTHONHASHSEED=0``), and the difference is divided by the extra work, so
start-up and the first round (building caches) drop out:

- per batch: ``redact_traces`` over the 8 benchmark batches of a load (``trace_batches.py``:
  clean, 1 span of 512 with PII; mixed, 1 in 20); the compiled walk is used in both modes;
- per value: ``redact_value("exception.message", ...)`` on the benchmark's PII text (a
  phone number and an e-mail address), 1,000 calls a round.

Instruction counts are deterministic within about 1 %, unlike time on a shared machine.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

_KEY = b"bench-only-pseudonym-key-0123456789abcdef"
_LOADS = {"clean": 512, "mixed": 20}
_BATCHES = 8
_VALUE_CALLS = 1000
_VALUE = (
    "delivery failed for customer +44 7900 900123 (contact alex.morgan123@example.com), will retry"
)
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _work(kind: str, rounds: int, compiled_text: bool) -> None:
    """The loop callgrind counts: one warm-up round, then ``rounds``."""
    from max_otel.processors.otlp import redact_traces
    from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

    engine = Redactor(load_rules(None), PseudonymKey(_KEY, "k1"), compiled_text=compiled_text)
    if kind == "value":
        hits: Counter[str] = Counter()
        for _ in range((rounds + 1) * _VALUE_CALLS):
            engine.redact_value("exception.message", _VALUE, hits)
        return
    from trace_batches import make_batch

    batches = [make_batch(seed, pii_every=_LOADS[kind]) for seed in range(_BATCHES)]
    for _ in range(rounds + 1):
        for batch in batches:
            redact_traces(engine, batch)


def _instructions(kind: str, rounds: int, compiled_text: bool) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--work", kind, str(rounds), str(int(compiled_text))]
    result = subprocess.run(
        command,
        # No byte-code written: a run that compiled the sources would count it.
        env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    found = _REFS.search(result.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{result.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_unit(kind: str, compiled_text: bool) -> float:
    """Instructions per batch (a load) or per call (``value``)."""
    extra = _instructions(kind, 3, compiled_text) - _instructions(kind, 1, compiled_text)
    units = 2 * (_VALUE_CALLS if kind == "value" else _BATCHES)
    return extra / units


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.work:
        kind, rounds, compiled_text = arguments.work
        _work(kind, int(rounds), compiled_text == "1")
        return 0
    print("instructions (callgrind)          compiled text off    on     on/off")
    for kind, unit in (("value", "value"), ("clean", "batch"), ("mixed", "batch")):
        off, on = per_unit(kind, False), per_unit(kind, True)
        label = f"{kind} ({'PII text' if kind == 'value' else 'per ' + unit})"
        print(f"{label:<34}{off:>12,.0f}{on:>12,.0f}{on / off:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
