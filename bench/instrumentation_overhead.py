"""Cost of the max_otel distro on a request: the sample API's ``GET /ping`` under uvicorn.

    .venv/bin/python bench/instrumentation_overhead.py                # about 2 minutes
    .venv/bin/python bench/instrumentation_overhead.py --rounds 2 --asgi-requests 0
    git archive HEAD~1 | tar -x -C /tmp/before    # a tree to compare with (before/after)
    .venv/bin/python bench/instrumentation_overhead.py --baseline /tmp/before

Starts the sample API (``examples/max_service``, no worker) the way users do, in each
configuration, and drives ``/ping`` with ``wrk`` (a bounded Python client when ``wrk`` is not
installed):

- ``none``: plain ``uvicorn``, no instrumentation (the baseline);
- ``plain-distro``: ``opentelemetry-instrument`` with opentelemetry-distro (same
  instrumentations; 3 spans per request: server, ``http send`` x2);
- ``max_otel``: the max_otel distro as shipped (1 span: ``http receive``/``send`` excluded);
- ``max_otel-3-spans``: max_otel keeping the ASGI spans (``MAX_OTEL_ASGI_EXCLUDE_SPANS=``),
  the like-for-like comparison with the plain distro;
- ``max_otel-no-span-redaction``: ``MAX_OTEL_REDACT_SPANS=false``; its difference with
  ``max_otel`` is the cost of the in-process span redaction (done in the export thread).

The five APIs run side by side for the whole run; every instrumented one exports over
OTLP/gRPC to a receiver in this process that discards what it gets (its cost is the same for
all). Per configuration it measures throughput with ``--connections`` connections and
requests per second over one connection (whose inverse is the latency of one request), in
``--rounds`` short rounds in alternating order, keeping the best of each (the machine is
shared: other load only ever slows a measurement down). It prints the ratios to the plain
distro (goal: max_otel >= 0.95) and the microseconds each configuration adds to one request
over ``none`` (single connection: 1/rps - 1/rps_none; goal <= 150 us for a request with three
spans), and the in-process cost of redacting one span (``RedactingSpanExporter``).
Last, it calls each configuration's ASGI app in a loop in a process started the same way
(no network, no load generator), printing CPU microseconds per request (all threads of the
process, until every span is exported: the export thread's encoding and redaction count
too), in blocks of 100 requests, keeping the cheapest block of ``--asgi-rounds`` processes
(other load on the machine only ever makes a block dearer): the steadiest per-request
figure on a shared machine.
``--rounds 0`` skips the HTTP measurements. ``bench/instrumentation_callgrind.py`` counts the
instructions of the same loop under valgrind's callgrind: the figure that does not move with
the load on the machine.

``--baseline DIR`` adds ``max_otel@baseline`` and ``max_otel-3-spans@baseline``: the same
configurations running the max_otel of another checkout of this repository (its
``instrumentation/`` and ``processors/`` first on ``PYTHONPATH``; the sample API and
everything else installed stay the same), for a before/after comparison in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from asgi_loop import (
    CONFIGS,
    Config,
    DiscardReceiver,
    baseline_configs,
    loop_command,
    run_loop,
    sample_api,
)

_REQUESTS_PER_SEC = re.compile(r"Requests/sec:\s+([0-9.]+)")
_US_PER_REQUEST = re.compile(r"^us_per_request=([0-9.]+)$", re.MULTILINE)


def wrk(url: str, connections: int, seconds: float) -> float:
    """Requests per second from ``wrk`` (one thread)."""
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    match = _REQUESTS_PER_SEC.search(result.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{result.stdout}{result.stderr}")
    return float(match.group(1))


def python_load(url: str, connections: int, seconds: float) -> float:
    """Requests per second from ``connections`` keep-alive clients in threads (bounded)."""
    done = Counter[int]()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        with httpx.Client(timeout=5) as session:
            while time.monotonic() < deadline:
                session.get(url).raise_for_status()
                done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done.values()) / (time.monotonic() - started)


def load_generator() -> Callable[[str, int, float], float]:
    """``wrk`` when installed, else the bounded Python client."""
    return wrk if shutil.which("wrk") else python_load


def asgi_direct(
    config: Config, workdir: Path, endpoint: str, requests: int, baseline: Path | None = None
) -> float:
    """CPU microseconds per ``/ping`` handled by calling the ASGI app in a loop (no network,
    no load generator: the cleanest per-request figure), in a process started like the API."""
    api = sample_api(config, workdir, endpoint, baseline)
    environment = api.environment("api")
    result = run_loop(config, workdir, loop_command(config, str(requests)), environment, 120)
    match = _US_PER_REQUEST.search(result.stdout)
    if match is None:
        raise RuntimeError(f"{config.name}: no figure printed:\n{result.stdout}{result.stderr}")
    return float(match.group(1))


def span_redaction_cost(samples: int = 2000) -> float:
    """Microseconds to redact one typical server span (``RedactingSpanExporter.redact``)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from max_otel.instrumentation.redaction_setup import build_redactor
    from max_otel.processors.in_process import RedactingSpanExporter

    redacting = RedactingSpanExporter(
        InMemorySpanExporter(), build_redactor({"MAX_OTEL_PSEUDONYM_KEY": "b" * 40})
    )
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("bench").start_as_current_span("GET /ping") as span:
        span.set_attributes(
            {
                "http.request.method": "GET",
                "url.scheme": "http",
                "url.path": "/ping",
                "http.route": "/ping",
                "server.address": "127.0.0.1",
                "server.port": 8000,
                "network.peer.address": "127.0.0.1",
                "user_agent.original": "wrk",
                "http.response.status_code": 200,
                "conversation_id": "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b",
            }
        )
    readable = memory.get_finished_spans()[0]
    hits: Counter[str] = Counter()
    started = time.process_time()
    for _ in range(samples):
        redacting.redact(readable, hits)
    return (time.process_time() - started) / samples * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--asgi-requests", type=int, default=2000, help="0 to skip")
    parser.add_argument("--asgi-rounds", type=int, default=3, help="processes per configuration")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of this repository to compare with"
    )
    args = parser.parse_args(argv)
    configs = CONFIGS + (baseline_configs() if args.baseline else ())

    best: dict[str, list[float]] = {config.name: [0.0, 0.0] for config in configs}
    load = load_generator()
    with (
        tempfile.TemporaryDirectory(prefix="max-otel-bench-") as tmp,
        DiscardReceiver() as sink,
        contextlib.ExitStack() as services,
    ):
        endpoint = f"http://127.0.0.1:{sink.port}"
        running = {
            config.name: services.enter_context(
                sample_api(config, Path(tmp), endpoint, args.baseline)
            )
            for config in configs
        }
        for config in configs:  # warm-up
            load(f"{running[config.name].base_url}/ping", args.connections, 1.0)
        for round_number in range(args.rounds):
            order = configs if round_number % 2 == 0 else tuple(reversed(configs))
            for config in order:
                url = f"{running[config.name].base_url}/ping"
                throughput = load(url, args.connections, args.seconds)
                single = load(url, 1, args.seconds)
                best[config.name][0] = max(best[config.name][0], throughput)
                best[config.name][1] = max(best[config.name][1], single)
                print(
                    f"  round {round_number + 1} {config.name:<28} "
                    f"{throughput:9.0f} req/s  {single:8.0f} req/s (1 conn)",
                    flush=True,
                )
        services.close()
        direct: dict[str, float] = {}
        for round_number in range(args.asgi_rounds if args.asgi_requests else 0):
            for config in configs if round_number % 2 == 0 else tuple(reversed(configs)):
                cost = asgi_direct(
                    config, Path(tmp) / "asgi", endpoint, args.asgi_requests, args.baseline
                )
                direct[config.name] = min(direct.get(config.name, cost), cost)
        exports = sink.requests

    if args.rounds:
        print_http_figures(args, configs, best)
    if direct:
        print()
        print(
            f"ASGI app called directly, {args.asgi_requests} requests, CPU us per request "
            f"(cheapest block of 100, {args.asgi_rounds} processes):"
        )
        for config in configs:
            added = direct[config.name] - direct["none"]
            print(f"  {config.name:<28} {direct[config.name]:8.1f}   added {added:8.1f}")
        added_3 = direct["max_otel-3-spans"] - direct["none"]
        print(f"added per request, 3 spans, ASGI loop: {added_3:.0f} us of CPU (goal <= 150)")
    print(f"in-process redaction of one server span: {span_redaction_cost():.1f} us (CPU)")
    print(f"(OTLP export requests received: {exports})")
    return 0


def print_http_figures(
    args: argparse.Namespace, configs: tuple[Config, ...], best: dict[str, list[float]]
) -> None:
    """The throughput and single-connection table, and the goals read from it."""
    none_single = best["none"][1]
    plain = best["plain-distro"][0]
    print()
    print(f"GET /ping, {args.connections} connections and 1 connection, best of {args.rounds}")
    print(
        f"{'configuration':<28} {'spans':>5} {'req/s':>9} {'vs plain':>9} "
        f"{'1-conn req/s':>12} {'added us/req':>12}"
    )
    for config in configs:
        throughput, single = best[config.name]
        added = (1 / single - 1 / none_single) * 1e6 if config.instrumented else 0.0
        print(
            f"{config.name:<28} {config.spans:>5} {throughput:>9.0f} {throughput / plain:>9.3f} "
            f"{single:>12.0f} {added:>12.0f}"
        )
    ours = best["max_otel"][0] / plain
    ours_3 = best["max_otel-3-spans"][0] / plain
    added_3 = (1 / best["max_otel-3-spans"][1] - 1 / none_single) * 1e6
    print()
    print(f"max_otel / plain-distro throughput: {ours:.3f} (goal >= 0.95); 3 spans: {ours_3:.3f}")
    print(f"added per request, 3 spans, over no instrumentation: {added_3:.0f} us (goal <= 150)")


if __name__ == "__main__":
    sys.exit(main())
