"""CPU time per 512-span batch of the processor's own steps, measured in this process.

Run (about 20 s on 2 cores; ``bench/processor_throughput.py`` runs it too, at the end)::

    .venv/bin/python bench/processor_walk.py

For every trace request the service runs a validation parse of the whole request (upb) and
the fast walk (``max_otel.processors.otlp.redact_traces``); gRPC and forwarding come on top
(the pass-through scenario of ``processor_throughput.py`` measures those). This benchmark
times both on the batches of ``processor_throughput.py`` (mixed: 1 span in 20 carries PII;
all-PII), with the packaged rules, and splits the walk between the walker itself (the walk
with a stand-in engine that gives the answers recorded from the real one, doing no work)
and the engine (the rest). Figures are the minimum over rounds of this process's CPU time:
the least distorted by other load on a shared machine. The reference walker (decodes
everything) is given for contrast.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processor_throughput import make_batch

_KEY = b"bench-only-pseudonym-key-0123456789abcdef"


class _Recorder:
    """The engine, recording each call's answer (and the hits it counted) to replay them."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.DROP = engine.DROP
        self.answers: list[tuple[object, dict[str, int]]] = []

    def _redact(self, name: str, hits: Counter[str], *arguments: object) -> Any:
        before = Counter(hits)
        answer = getattr(self.engine, name)(*arguments, hits)
        self.answers.append((answer, dict(hits - before)))
        return answer

    def redact_text(self, text: str, hits: Counter[str]) -> Any:
        return self._redact("redact_text", hits, text)

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> Any:
        return self._redact("redact_value", hits, key, value)

    def might_contain_pii(self, data: bytes) -> Any:
        answer = self.engine.might_contain_pii(data)
        self.answers.append((answer, {}))
        return answer

    def might_contain_pii_many(self, chunks: list[bytes]) -> Any:
        answer = self.engine.might_contain_pii_many(chunks)
        self.answers.append((answer, {}))
        return answer


class _Replay:
    """A stand-in engine that gives the recorded answers in turn, doing no work: the walk
    with it costs what the walker itself costs."""

    def __init__(self, answers: list[tuple[object, dict[str, int]]], drop: object) -> None:
        self.DROP = drop
        self._answers = iter(answers)

    def _next(self, hits: Counter[str] | None = None) -> Any:
        answer, counted = next(self._answers)
        if hits is not None:
            for rule, count in counted.items():
                hits[rule] += count
        return answer

    def redact_text(self, text: str, hits: Counter[str]) -> Any:
        return self._next(hits)

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> Any:
        return self._next(hits)

    def might_contain_pii(self, data: bytes) -> Any:
        return self._next()

    def might_contain_pii_many(self, chunks: list[bytes]) -> Any:
        return self._next()


def _cpu_ms(work: Callable[[], object], count: int) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) / count * 1000


def measure(rounds: int = 9) -> dict[str, dict[str, float]]:
    """Per load: milliseconds of CPU per batch for validate, walk, engine, walker, reference."""
    from max_otel.processors.otlp import redact_traces
    from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

    engine = Redactor(load_rules(None), PseudonymKey(_KEY, "k1"))
    loads = {
        "mixed (1 span in 20 with PII)": [make_batch(seed, pii_every=20) for seed in range(4)],
        "all-PII": [make_batch(seed, pii_every=1) for seed in range(4)],
    }
    answers: dict[str, list[tuple[object, dict[str, int]]]] = {}
    for name, batches in loads.items():
        recorder = _Recorder(engine)
        for batch in batches:
            redact_traces(recorder, batch)
        answers[name] = recorder.answers
    best: dict[str, dict[str, float]] = {name: {} for name in loads}
    for round_number in range(rounds):
        for name, batches in loads.items():
            steps = _steps(engine, batches, answers[name], reference=round_number < 2)
            for step, work in steps.items():
                figure = _cpu_ms(work, len(batches))
                best[name][step] = min(best[name].get(step, figure), figure)
    for figures in best.values():
        figures["engine"] = figures["walk"] - figures["walker"]
    return best


def _steps(
    engine: Any,
    batches: list[bytes],
    answers: list[tuple[object, dict[str, int]]],
    reference: bool,
) -> dict[str, Callable[[], object]]:
    """The steps timed on ``batches``; the reference walker (slow, for contrast) if asked."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from max_otel.processors.otlp import redact_traces, reference_redact_traces

    def walker() -> None:
        replay = _Replay(answers, engine.DROP)
        for batch in batches:
            redact_traces(replay, batch)

    steps: dict[str, Callable[[], object]] = {
        "validate": lambda: [ExportTraceServiceRequest.FromString(batch) for batch in batches],
        "walk": lambda: [redact_traces(engine, batch) for batch in batches],
        "walker": walker,
    }
    if reference:
        steps["reference"] = lambda: [reference_redact_traces(engine, b) for b in batches]
    return steps


def report(best: dict[str, dict[str, float]]) -> None:
    print("CPU per batch in the processor process (min over rounds):")
    print(f"{'':32}{'validate':>10}{'walk':>9}{'engine':>9}{'walker':>9}{'reference':>11}")
    for name, figures in best.items():
        print(
            f"{name:32}{figures['validate']:8.2f}ms{figures['walk']:7.2f}ms"
            f"{figures['engine']:7.2f}ms{figures['walker']:7.2f}ms{figures['reference']:9.2f}ms"
        )


if __name__ == "__main__":
    report(measure())
