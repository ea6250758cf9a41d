"""Throughput and added latency of ``max-otel processor`` against a pass-through forwarder.

Run (about 45 s on 2 cores)::

    .venv/bin/python bench/processor_throughput.py            # --duration 4 per scenario

Every scenario sends pre-serialized 512-span ``ExportTraceServiceRequest`` batches (~20
attributes a span, realistic keys and values) over OTLP/gRPC to a server that forwards them to
a sink that accepts and drops them. All processes run on this machine:

1. pass-through: the same server code with redaction disabled (``RedactorSlot(None)``: no
   validation, no walk), one worker; the baseline;
2. processor, one worker, mixed load: 1 span in 20 carries PII in free text;
3. processor, one worker, all-PII load: every span carries PII in free text;
4. processor, two workers, all-PII load (scaling; the load generator and the sink share the
   same cores).

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
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc
import grpc.aio
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from max_service_launch.local_servers import free_port, wait_for_port  # noqa: E402

_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_SPANS_PER_BATCH = 512
_BENCH_KEY = "bench-only-pseudonym-key-0123456789abcdef"


def _attributes(rng: random.Random, index: int, pii: bool) -> dict[str, object]:
    conversation = f"{rng.getrandbits(64):016x}"
    attributes: dict[str, object] = {
        "http.request.method": "POST",
        "http.route": "/v1/conversations/{conversation_id}/messages",
        "url.full": f"https://api.max.example/v1/conversations/{conversation}/messages?page=2",
        "url.scheme": "https",
        "server.address": "api.max.example",
        "server.port": 443,
        "network.protocol.version": "1.1",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) MaxApp/4.2",
        "http.response.status_code": 200,
        "conversation_id": conversation,
        "team_id": "sales",
        "agent_id": f"agent-{index % 40}",
        "channel": "whatsapp",
        "db.system": "postgresql",
        "http.request.body.size": 512,
        "messaging.system": "redis",
        "code.function": "assign_conversation",
        "code.namespace": "max.conversations.routing",
        "retry.attempt": 0,
        "feature.flags": "routing-v2,ai-summaries",
    }
    if pii:
        attributes["exception.message"] = (
            f"delivery failed for customer +44 7700 900{index % 1000:03d} "
            f"(contact alex.morgan{index}@example.com), will retry"
        )
    return attributes


def make_batch(seed: int, pii_every: int) -> bytes:
    """A serialized 512-span request; every ``pii_every``-th span carries PII in free text."""
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (("service.name", "core-api"), ("deployment.environment", "bench")):
        resource_spans.resource.attributes.add(key=key).value.string_value = value
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "opentelemetry.instrumentation.fastapi"
    scope_spans.scope.version = "0.66b1"
    for index in range(_SPANS_PER_BATCH):
        span = scope_spans.spans.add()
        span.trace_id = rng.randbytes(16)
        span.span_id = rng.randbytes(8)
        span.parent_span_id = rng.randbytes(8)
        span.name = "POST /v1/conversations/{conversation_id}/messages"
        span.kind = 2
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + index * 1000
        span.end_time_unix_nano = span.start_time_unix_nano + 4_500_000
        pii = index % pii_every == 0
        for key, item in _attributes(rng, index, pii).items():
            target = span.attributes.add(key=key).value
            if isinstance(item, int):
                target.int_value = item
            else:
                target.string_value = str(item)
    return request.SerializeToString()


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


async def _drive(port: int, batches: list[bytes], seconds: float, in_flight: int) -> list[float]:
    """Send batches for ``seconds`` with ``in_flight`` concurrent callers; return latencies.

    Each caller has its own channel, hence its own TCP connection, as separate collector
    instances would: the kernel spreads connections (not requests) over the workers.
    """
    latencies: list[float] = []
    channels = [
        # A distinct option per channel keeps gRPC from sharing one connection among them.
        grpc.aio.insecure_channel(
            f"127.0.0.1:{port}",
            options=[("grpc.max_send_message_length", -1), ("bench.caller", caller)],
        )
        for caller in range(in_flight)
    ]
    calls = [channel.unary_unary(_METHOD) for channel in channels]
    deadline = 0.0

    async def sender(offset: int) -> None:
        index = offset
        call = calls[offset]
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call(batches[index % len(batches)], timeout=30)
            latencies.append(time.perf_counter() - started)
            index += in_flight

    try:
        # Warm-up: every connection and the server's first batches.
        for call in calls:
            await call(batches[0], timeout=30)
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(sender(offset) for offset in range(in_flight)))
    finally:
        for channel in channels:
            await channel.close()
    return latencies


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


class _Scenario:
    def __init__(self, name: str, command: list[str], port: int) -> None:
        self.name = name
        self.command = command
        self.port = port

    def run(self, batches: list[bytes], seconds: float) -> dict[str, float]:
        environment = dict(os.environ, MAX_OTEL_PSEUDONYM_KEY=_BENCH_KEY)
        process = subprocess.Popen(
            self.command, env=environment, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        try:
            wait_for_port(self.port)
            latencies = asyncio.run(_drive(self.port, batches, seconds / 4, 1))
            cpu_before = _cpu_seconds(process.pid)
            throughput = asyncio.run(_drive(self.port, batches, seconds, 4))
            cpu = _cpu_seconds(process.pid) - cpu_before
        finally:
            process.terminate()
            process.wait(timeout=30)
        return {
            "spans_per_second": len(throughput) * _SPANS_PER_BATCH / seconds,
            # Spans per second of the server's own CPU time: what one dedicated core would
            # do, whatever else the machine was running.
            "spans_per_cpu_second": (len(throughput) + 4) * _SPANS_PER_BATCH / max(cpu, 1e-9),
            # (+ 4: the warm-up batches, one per caller, fall inside the CPU window too)
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per scenario")
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
    print(f"batch: {_SPANS_PER_BATCH} spans, {len(mixed[0]) / 1024:.0f} KiB serialized")
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(sink_port)])
    results: dict[str, dict[str, float]] = {}
    try:
        wait_for_port(sink_port)
        forward = f"http://127.0.0.1:{sink_port}"

        def processor(workers: int) -> tuple[list[str], int]:
            port = free_port()
            command = [sys.executable, "-m", "max_otel.cli", "processor", "--listen"]
            command += [f"127.0.0.1:{port}", "--forward", forward, "--workers", str(workers)]
            return [*command, "--metrics-listen", ""], port

        port = free_port()
        plan = [
            ("pass-through, 1 worker, mixed", [sys.executable, __file__, "--passthrough",
             f"127.0.0.1:{port}", forward], port, mixed),
            ("processor, 1 worker, mixed", *processor(1), mixed),
            ("processor, 1 worker, all-PII", *processor(1), all_pii),
            ("processor, 2 workers, all-PII", *processor(2), all_pii),
        ]  # fmt: skip
        for name, command, port, batches in plan:
            results[name] = _Scenario(name, command, port).run(batches, arguments.duration)
            figures = results[name]
            print(
                f"{name:<32} {figures['spans_per_second']:>9,.0f} spans/s "
                f"{figures['spans_per_cpu_second']:>9,.0f} spans/CPU-s   "
                f"p50 {figures['p50_ms']:6.2f} ms   p99 {figures['p99_ms']:6.2f} ms"
            )
    finally:
        sink.terminate()
        sink.wait(timeout=10)

    base = results["pass-through, 1 worker, mixed"]
    mixed_one = results["processor, 1 worker, mixed"]
    pii_one = results["processor, 1 worker, all-PII"]
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
        f"{pii_one['spans_per_cpu_second']:,.0f} spans/CPU-s (goal >= 30,000); "
        f"2 workers / 1 worker: {scaling:.2f} on {os.cpu_count()} CPUs"
    )
    if not arguments.no_walk:
        print()
        from processor_walk import measure, report

        report(measure())
    print(f"run time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
