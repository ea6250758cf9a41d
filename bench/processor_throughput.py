"""Throughput and added latency of ``max-otel processor`` against a pass-through forwarder.

Run (about 60 s on 2 cores)::

    .venv/bin/python bench/processor_throughput.py     # --duration 4 --rounds 4

Every scenario sends pre-serialized 512-span ``ExportTraceServiceRequest`` batches (~20
attributes a span, realistic keys and values; ``trace_batches.py``) over OTLP/gRPC to a
server that forwards them to a sink that accepts and drops them. All processes run on this
machine:

1. pass-through: the same server code with redaction disabled (``RedactorSlot(None)``: no
   validation, no walk), one worker; the baseline;
2. processor, one worker, mixed load: 1 span in 20 carries PII in free text;
3. processor, one worker, all-PII load: every span carries PII in free text; the values
   repeat from batch to batch (the same customers, as a conversation's spans repeat its
   customer's number), so the engine's cache of pseudonyms serves most of them;
4. the same with every value new (no two of the 32 batches share one): each phone number
   and email address costs a keyed hash;
5. processor, two workers, all-PII load (scaling; the load generator and the sink share the
   same cores).

All servers run for the whole benchmark and are measured in turn, ``--rounds`` times each
(the order rotating), and each scenario's figures sum its rounds: a virtual CPU's speed here
drifts by up to ~1.8x within seconds (other tenants of the host), and interleaving spreads
the drift over all scenarios instead of favouring the one that ran in a fast moment.
Throughput is measured with 4 callers (4 connections) with one batch in flight each,
latency (p50/p99 per batch) with one batch at a time. The added latency is the processor's
minus the pass-through's. Beside wall-clock spans/s, each line gives spans per CPU-second of
the server processes (from /proc): what one dedicated core would do, a figure that other
load on a shared machine does not distort. Goals: mixed-load throughput >= 0.7 of
pass-through, >= 30,000 spans/s all-PII on one worker, and more with two. At the end,
``processor_walk.py`` splits the processor's CPU per batch, in this process, between the
engine's calls and the compiled walk's own work, beside the pure-Python walk
(``--no-walk`` skips it). Results and analysis: docs/processor.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import grpc.aio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "bench"))

from max_service_launch.local_servers import free_port, wait_for_port  # noqa: E402
from trace_batches import SPANS_PER_BATCH, make_batch  # noqa: E402

_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_BENCH_KEY = "bench-only-pseudonym-key-0123456789abcdef"
_CALLERS = 4


# -- the sink (next hop) and the pass-through forwarder, each run as its own process -------


async def _sink(port: int) -> None:
    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return b""

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20)])
    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    server.add_generic_rpc_handlers([handler])
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def _passthrough(listen: str, forward: str) -> int:
    from max_otel.processors.service.config import resolve_config
    from max_otel.processors.service.export import RedactorSlot
    from max_otel.processors.service.supervisor import supervise
    from max_otel.processors.service.worker import run_worker

    config = resolve_config(
        {"listen": listen, "forward": forward, "workers": 1, "metrics_listen": ""}, {}
    )

    def no_reload() -> object:
        raise RuntimeError("the pass-through forwarder has no rules")

    return supervise(1, lambda index: run_worker(config, RedactorSlot(None), no_reload, index))  # type: ignore[arg-type]


# -- the load generator ---------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (the workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii").split()
    total = 0
    for process in (pid, *map(int, children)):
        fields = Path(f"/proc/{process}/stat").read_text(encoding="ascii").rsplit(")", 1)[1]
        total += int(fields.split()[11]) + int(fields.split()[12])
    return total / ticks


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class _Scenario:
    """One server under load, and what its rounds measured so far."""

    name: str
    command: list[str]
    port: int
    batches: list[bytes]
    process: subprocess.Popen[bytes] | None = None
    calls: list[grpc.aio.UnaryUnaryMultiCallable] = field(default_factory=list)
    next_batch: int = 0
    latencies: list[float] = field(default_factory=list)
    sent: int = 0  # batches answered in the throughput rounds
    seconds: float = 0.0  # wall-clock time of the throughput rounds
    cpu: float = 0.0  # the server's CPU seconds during them

    def start(self) -> None:
        environment = dict(os.environ, MAX_OTEL_PSEUDONYM_KEY=_BENCH_KEY)
        self.process = subprocess.Popen(
            self.command, env=environment, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    async def send(self, caller: int) -> float:
        """Send the next batch through ``caller``'s connection; its latency in seconds."""
        batch = self.batches[self.next_batch % len(self.batches)]
        self.next_batch += 1
        started = time.perf_counter()
        await self.calls[caller](batch, timeout=30)
        return time.perf_counter() - started

    async def latency_round(self, seconds: float) -> None:
        """One batch at a time for ``seconds``."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            self.latencies.append(await self.send(0))

    async def throughput_round(self, seconds: float) -> None:
        """``_CALLERS`` batches in flight for ``seconds``; adds to sent, seconds and cpu."""
        assert self.process is not None
        answered = 0

        async def caller(index: int) -> None:
            nonlocal answered
            while time.perf_counter() < deadline:
                await self.send(index)
                answered += 1

        cpu_before = _cpu_seconds(self.process.pid)
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(caller(index) for index in range(_CALLERS)))
        self.seconds += time.perf_counter() - started
        self.cpu += _cpu_seconds(self.process.pid) - cpu_before
        self.sent += answered

    def figures(self) -> dict[str, float]:
        return {
            "spans_per_second": self.sent * SPANS_PER_BATCH / self.seconds,
            # Spans per second of the server's own CPU time: what one dedicated core would
            # do, whatever else the machine was running.
            "spans_per_cpu_second": self.sent * SPANS_PER_BATCH / max(self.cpu, 1e-9),
            "p50_ms": statistics.median(self.latencies) * 1000,
            "p99_ms": _percentile(self.latencies, 0.99) * 1000,
        }


async def _measure(scenarios: list[_Scenario], seconds: float, rounds: int) -> None:
    """Warm every server up, then measure them in turn, ``rounds`` times each."""
    channels = []
    for scenario in scenarios:
        for caller in range(_CALLERS):
            # Each caller has its own channel, hence its own TCP connection, as separate
            # collector instances would: the kernel spreads connections over the workers.
            # A distinct option per channel keeps gRPC from sharing one connection.
            channel = grpc.aio.insecure_channel(
                f"127.0.0.1:{scenario.port}",
                options=[("grpc.max_send_message_length", -1), ("bench.caller", caller)],
            )
            channels.append(channel)
            scenario.calls.append(channel.unary_unary(_METHOD))
    try:
        for scenario in scenarios:  # connections, and the servers' first batches
            for _ in range(len(scenario.batches)):
                await scenario.send(scenario.next_batch % _CALLERS)
        for round_number in range(rounds):
            shift = round_number % len(scenarios)
            for scenario in scenarios[shift:] + scenarios[:shift]:
                await scenario.latency_round(seconds / 4 / rounds)
                await scenario.throughput_round(seconds / rounds)
    finally:
        for channel in channels:
            await channel.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per scenario")
    parser.add_argument("--rounds", type=int, default=4, help="turns per scenario")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--passthrough", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-walk", action="store_true", help="skip the in-process CPU split (processor_walk.py)"
    )
    arguments = parser.parse_args()
    if arguments.sink:
        asyncio.run(_sink(arguments.sink))
        return 0
    if arguments.passthrough:
        return _passthrough(*arguments.passthrough)

    started = time.perf_counter()
    mixed = [make_batch(seed, pii_every=20) for seed in range(8)]
    all_pii = [make_batch(seed, pii_every=1) for seed in range(8)]
    new_pii = [make_batch(seed, pii_every=1, distinct_pii=True) for seed in range(32)]
    print(f"batch: {SPANS_PER_BATCH} spans, {len(mixed[0]) / 1024:.0f} KiB serialized")
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(sink_port)])
    forward = f"http://127.0.0.1:{sink_port}"

    def processor(name: str, workers: int, batches: list[bytes]) -> _Scenario:
        port = free_port()
        command = [sys.executable, "-m", "max_otel.cli", "processor", "--listen"]
        command += [f"127.0.0.1:{port}", "--forward", forward, "--workers", str(workers)]
        return _Scenario(name, [*command, "--metrics-listen", ""], port, batches)

    port = free_port()
    passthrough = [sys.executable, __file__, "--passthrough", f"127.0.0.1:{port}", forward]
    scenarios = [
        _Scenario("pass-through, 1 worker, mixed", passthrough, port, mixed),
        processor("processor, 1 worker, mixed", 1, mixed),
        processor("processor, 1 worker, all-PII", 1, all_pii),
        processor("processor, 1 worker, all-PII new", 1, new_pii),
        processor("processor, 2 workers, all-PII", 2, all_pii),
    ]
    try:
        wait_for_port(sink_port)
        for scenario in scenarios:
            scenario.start()
        for scenario in scenarios:
            wait_for_port(scenario.port)
        asyncio.run(_measure(scenarios, arguments.duration, arguments.rounds))
    finally:
        for scenario in scenarios:
            scenario.stop()
        sink.terminate()
        sink.wait(timeout=10)
    results = {scenario.name: scenario.figures() for scenario in scenarios}
    for name, figures in results.items():
        print(
            f"{name:<34} {figures['spans_per_second']:>9,.0f} spans/s "
            f"{figures['spans_per_cpu_second']:>9,.0f} spans/CPU-s   "
            f"p50 {figures['p50_ms']:6.2f} ms   p99 {figures['p99_ms']:6.2f} ms"
        )
    _summary(results)
    if not arguments.no_walk:
        print()
        from processor_walk import measure, report

        report(measure())
    print(f"run time {time.perf_counter() - started:.0f} s")
    return 0


def _summary(results: dict[str, dict[str, float]]) -> None:
    base = results["pass-through, 1 worker, mixed"]
    mixed_one = results["processor, 1 worker, mixed"]
    pii_one = results["processor, 1 worker, all-PII"]
    pii_new = results["processor, 1 worker, all-PII new"]
    pii_two = results["processor, 2 workers, all-PII"]
    ratio = mixed_one["spans_per_second"] / base["spans_per_second"]
    cpu_ratio = mixed_one["spans_per_cpu_second"] / base["spans_per_cpu_second"]
    scaling = pii_two["spans_per_second"] / pii_one["spans_per_second"]
    print()
    print(f"mixed load, processor / pass-through throughput: {ratio:.2f} (goal >= 0.70)")
    print(f"mixed load, processor / pass-through spans per CPU-second: {cpu_ratio:.2f}")
    print(
        f"added latency per batch: p50 {mixed_one['p50_ms'] - base['p50_ms']:+.2f} ms, "
        f"p99 {mixed_one['p99_ms'] - base['p99_ms']:+.2f} ms"
    )
    print(
        f"all-PII, 1 worker: {pii_one['spans_per_second']:,.0f} spans/s, "
        f"{pii_one['spans_per_cpu_second']:,.0f} spans/CPU-s (goal >= 30,000); every value "
        f"new: {pii_new['spans_per_second']:,.0f} spans/s, "
        f"{pii_new['spans_per_cpu_second']:,.0f} spans/CPU-s"
    )
    print(f"2 workers / 1 worker, all-PII: {scaling:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    sys.exit(main())
