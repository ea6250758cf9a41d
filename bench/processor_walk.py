"""CPU time per 512-span batch of the processor's own work, measured in this process.

Run (about 20 s on 2 cores; ``bench/processor_throughput.py`` runs it too, at the end)::

    .venv/bin/python bench/processor_walk.py

For every trace request the service runs ``max_otel.processors.otlp.redact_traces``: the
compiled walk (``max_otel_native``: validation of the whole request, pre-filter of every
piece, Python leaves for the suspicious ones) when it is installed, else the pure-Python
walk (a validation parse of the whole request by upb, then the shadow-type walk). gRPC and
forwarding come on top (the pass-through scenario of ``processor_throughput.py`` measures
those). This benchmark times, on the batches of ``trace_batches.py`` (mixed: 1 span
in 20 carries PII; all-PII) with the packaged rules:

- ``compiled``: the compiled walk, split into ``engine`` (time inside the engine's
  ``redact_value`` / ``redact_text`` calls from Python, measured by a timing proxy) and
  ``own`` (the rest: validation, pre-filter, the text attributes the walk scrubs with the
  engine's compiled text scrubber without entering Python, the Python leaves' decoding
  and encoding, the rebuild);
- ``python``: the pure-Python walk, validation included;
- ``reference``: the decode-everything walker, for contrast.

Figures are the minimum over rounds of this process's CPU time: the least distorted by
other load on a shared machine. The batches repeat, as in the throughput benchmark: after
the first round the compiled walk's memory of clean pieces knows their clean attributes.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trace_batches import make_batch

_KEY = b"bench-only-pseudonym-key-0123456789abcdef"


class _TimedEngine:
    """The engine, adding the CPU time spent in its redaction calls to ``seconds``; gives
    the compiled walk what it needs (pre-filter patterns, kept keys) untimed."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.DROP = engine.DROP
        self.seconds = 0.0

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> Any:
        started = time.process_time()
        try:
            return self._engine.redact_value(key, value, hits)
        finally:
            self.seconds += time.process_time() - started

    def redact_text(self, text: str, hits: Counter[str]) -> Any:
        started = time.process_time()
        try:
            return self._engine.redact_text(text, hits)
        finally:
            self.seconds += time.process_time() - started

    def might_contain_pii(self, data: bytes) -> bool:
        return bool(self._engine.might_contain_pii(data))

    def prefilter_patterns(self) -> tuple[list[str], list[str]]:
        patterns: tuple[list[str], list[str]] = self._engine.prefilter_patterns()
        return patterns

    def keeps_key(self, key: str) -> bool:
        return bool(self._engine.keeps_key(key))

    def compiled_text_scrubber(self) -> Any:
        return self._engine.compiled_text_scrubber()

    def scrubs_as_text(self, key: str) -> bool:
        return bool(self._engine.scrubs_as_text(key))


def _each(
    walk: Callable[[Any, bytes], object], engine: Any, batches: list[bytes]
) -> Callable[[], object]:
    """The work of walking every batch with ``engine``."""
    return lambda: [walk(engine, batch) for batch in batches]


def _cpu_ms(work: Callable[[], object], count: int) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) / count * 1000


def measure(rounds: int = 9) -> dict[str, dict[str, float]]:
    """Per load: milliseconds of CPU per batch for each step (see the module docstring)."""
    from max_otel.processors.otlp import native, redact_traces, reference_redact_traces
    from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

    if not native.available():
        raise SystemExit("max_otel_native is not installed: run scripts/setup")
    engine = Redactor(load_rules(None), PseudonymKey(_KEY, "k1"))
    timed = _TimedEngine(engine)
    loads = {
        "mixed (1 span in 20 with PII)": [make_batch(seed, pii_every=20) for seed in range(4)],
        "all-PII": [make_batch(seed, pii_every=1) for seed in range(4)],
    }
    best: dict[str, dict[str, float]] = {name: {} for name in loads}

    def keep(name: str, step: str, figure: float) -> None:
        best[name][step] = min(best[name].get(step, figure), figure)

    for round_number in range(rounds):
        for name, batches in loads.items():
            timed.seconds = 0.0
            compiled = _cpu_ms(_each(redact_traces, timed, batches), len(batches))
            engine_ms = timed.seconds / len(batches) * 1000
            keep(name, "compiled", compiled)
            keep(name, "engine", engine_ms)
            keep(name, "own", compiled - engine_ms)
            native.use_native(False)
            try:
                python = _cpu_ms(_each(redact_traces, engine, batches), len(batches))
            finally:
                native.use_native(True)
            keep(name, "python", python)
            if round_number < 2:
                reference = _cpu_ms(_each(reference_redact_traces, engine, batches), len(batches))
                keep(name, "reference", reference)
    return best


def report(best: dict[str, dict[str, float]]) -> None:
    print("CPU per 512-span batch in the processor process (min over rounds):")
    columns = ("compiled", "engine", "own", "python", "reference")
    print(f"{'':32}" + "".join(f"{column:>11}" for column in columns))
    for name, figures in best.items():
        print(f"{name:32}" + "".join(f"{figures[column]:9.2f}ms" for column in columns))
    for name, figures in best.items():
        print(
            f"{name}: compiled walk {512 / figures['compiled'] * 1000:,.0f} spans/CPU-s, "
            f"{figures['python'] / figures['compiled']:.1f}x the Python walk"
        )


if __name__ == "__main__":
    report(measure())
