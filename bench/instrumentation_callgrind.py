"""Instructions the max_otel distro adds to a request: the sample API's ``/ping``, under callgrind.

    .venv/bin/python bench/instrumentation_callgrind.py 150      # about 5 minutes per config
    git archive HEAD~1 | tar -x -C /tmp/before    # a tree to compare with (before/after)
    .venv/bin/python bench/instrumentation_callgrind.py 150 --baseline /tmp/before

Counts the instructions of REQUESTS (default 150, at most 170) requests to ``GET /ping`` made
by calling the sample API's ASGI app in a loop (no network, no load generator), in a process
started the way users start the API, under valgrind's callgrind, for each configuration of
``bench/instrumentation_overhead.py`` (``none``, ``plain-distro``, ``max_otel``,
``max_otel-3-spans``, ``max_otel-no-span-redaction``), two at a time. It prints instructions
per request and what each configuration adds over ``none``: the figure that does not move
with the load on the machine (within about 1 % from run to run), so small changes show.

Only the thread calling the app is counted, from after a warm-up of 300 requests (garbage
collector frozen after it, so a full collection costs what the new objects cost). The export
thread waits (schedule delay 10 min) and a final flush exports every span in the counted
thread, so encoding and redaction count; REQUESTS times the spans of a request (3) must stay
under the batch size (512). Spans go over OTLP/gRPC to a receiver in this process that
discards them.

``--baseline DIR`` adds ``max_otel@baseline`` and ``max_otel-3-spans@baseline``: the same
configurations running the max_otel of another checkout of this repository (its
``instrumentation/`` and ``processors/`` first on ``PYTHONPATH``; the sample API and
everything else installed stay the same), for a before/after comparison in one run.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from concurrent import futures
from pathlib import Path

from asgi_loop import (
    CONFIGS,
    Config,
    DiscardReceiver,
    baseline_configs,
    loop_command,
    run_loop,
    sample_api,
)

_MAX_REQUESTS = 170  # 3 spans a request, one batch of 512 exported by the final flush
_COLLECTED = re.compile(r"Collected : ([0-9]+)")


def asgi_instructions(
    config: Config, workdir: Path, endpoint: str, requests: int, baseline: Path | None = None
) -> float:
    """Instructions per ``/ping`` (callgrind, thread calling the app only): deterministic
    within about 1 %."""
    api = sample_api(config, workdir, endpoint, baseline)
    environment = api.environment("api") | {"PYTHONHASHSEED": "0"}
    environment["OTEL_BSP_SCHEDULE_DELAY"] = "600000"
    valgrind = ["valgrind", "--tool=callgrind", "--trace-children=yes", "--collect-atstart=no"]
    valgrind += ["--toggle-collect=functools_reduce", "--callgrind-out-file=/dev/null"]
    command = [*valgrind, *loop_command(config, str(requests), "callgrind")]
    result = run_loop(config, workdir, command, environment, timeout=1800)
    counts = [int(found) for found in _COLLECTED.findall(result.stderr)]
    if not any(counts):
        raise RuntimeError(f"{config.name}: callgrind counted nothing:\n{result.stderr[-2000:]}")
    return max(counts) / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "requests",
        type=int,
        nargs="?",
        default=150,
        help=f"requests counted per configuration (default 150, at most {_MAX_REQUESTS})",
    )
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of this repository to compare with"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= _MAX_REQUESTS:
        parser.error(f"requests must be between 1 and {_MAX_REQUESTS}; got {args.requests}")
    configs = CONFIGS + (baseline_configs() if args.baseline else ())
    count = args.requests
    with (
        tempfile.TemporaryDirectory(prefix="max-otel-bench-") as tmp,
        DiscardReceiver() as sink,
        futures.ThreadPoolExecutor(max_workers=2) as pool,
    ):
        endpoint = f"http://127.0.0.1:{sink.port}"
        jobs = {
            c.name: pool.submit(asgi_instructions, c, Path(tmp), endpoint, count, args.baseline)
            for c in configs
        }
        counts = {name: job.result() for name, job in jobs.items()}
    print(f"ASGI app called directly, {count} requests, instructions per request (callgrind):")
    for config in configs:
        added = counts[config.name] - counts["none"]
        print(f"  {config.name:<28} {counts[config.name]:10.0f}   added {added:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
