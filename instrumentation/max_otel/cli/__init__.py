"""The ``max-otel`` command: one entry point, one subcommand per job.

Each subcommand lives in the package that owns the job and is imported only when it is run,
so ``max-otel processor`` never pays for the instrumentation's imports and the reverse::

    max-otel processor --listen 127.0.0.1:4320 --forward http://127.0.0.1:4319
    max-otel stack up
    max-otel audit verify --database-url postgresql://...
    max-otel db slow-queries --database-url postgresql://...
    max-otel redact '+55 11 98765-4321'
    max-otel rules check redaction-rules.yaml

Contract: every subcommand is a ``main(argv: list[str]) -> int`` function; its return value is
the process exit status.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# subcommand -> ("module", "function", one-line help)
_SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "processor": (
        "max_otel.processors.service.cli",
        "main",
        "run the OTLP/gRPC PII redaction service",
    ),
    "stack": (
        "max_otel.cli.stack",
        "main",
        "start or check the local collector, processor, Jaeger and Prometheus",
    ),
    "audit": (
        "max_otel.instrumentation.audit.cli",
        "main",
        "verify, search and archive the append-only audit trail",
    ),
    "db": (
        "max_otel.instrumentation.slow_queries.cli",
        "main",
        "database reports (slow queries from pg_stat_statements)",
    ),
    "redact": (
        "max_otel.processors.redaction.cli",
        "redact_main",
        "show what the pipeline makes of a value (e.g. a customer's phone pseudonym)",
    ),
    "rules": (
        "max_otel.processors.redaction.cli",
        "rules_main",
        "check redaction rules files before deploying or reloading them",
    ),
}


def _usage() -> str:
    lines = ["usage: max-otel <command> [options]", "", "commands:"]
    for name, (_, _, help_text) in sorted(_SUBCOMMANDS.items()):
        lines.append(f"  {name:<10} {help_text}")
    lines.append("")
    lines.append("Run 'max-otel <command> --help' for a command's options.")
    return "\n".join(lines)


def _load(name: str) -> Callable[[list[str]], int]:
    module_name, function_name, _ = _SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    command: Callable[[list[str]], int] = getattr(module, function_name)
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``max-otel <command> ...``; return the command's exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in _SUBCOMMANDS:
        print(f"max-otel: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return _load(name)(rest)


__all__ = ["main"]
