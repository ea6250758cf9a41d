"""``max-otel processor``: the OTLP/gRPC PII redaction service.

::

    export MAX_OTEL_PSEUDONYM_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    max-otel processor --listen 127.0.0.1:4320 --forward http://127.0.0.1:4319 --workers 2

Exit status: 0 after a graceful shutdown (SIGTERM), 2 for a configuration error (one line on
stderr saying what to set, no traceback), 1 if a worker failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from max_otel.processors.otlp import RedactionEngine
from max_otel.processors.service.config import ProcessorConfig, resolve_config

_CONFIG_ERROR = 2

_DESCRIPTION = """\
Serve OTLP/gRPC (traces, logs, metrics) on --listen, remove PII from every span, log record
and data point, and forward the redacted batch to --forward. The service holds no data: if the
next hop fails, the caller is answered UNAVAILABLE and keeps the batch in its retry queue.
Every option can also be set by environment variable (MAX_OTEL_PROCESSOR_<OPTION>, e.g.
MAX_OTEL_PROCESSOR_FORWARD) or in the YAML file given to --config (keys: listen, forward,
workers, rules, tls_cert, ...); precedence: flag > environment > config file > default.

The pseudonym key (HMAC secret; the same phone number gets the same pseudonym everywhere) is
read from MAX_OTEL_PSEUDONYM_KEY (at least 32 characters) or MAX_OTEL_PSEUDONYM_KEY_FILE, with
MAX_OTEL_PSEUDONYM_KEY_ID (default k1) naming it. Without it the service does not start."""

_EPILOG = """\
rules file (--rules): YAML, layered on the packaged rules (your sensitive_keys come first,
lists are added to; 'inherit_defaults: false' starts from nothing). Example:

  # redaction-rules.yaml
  mask_text: "***"            # what a masked value becomes
  keep_keys:                  # never touched (ids you join and filter on)
    - conversation_id
    - team_id
  sensitive_keys:             # first matching rule wins; patterns are RE2, searched in
    - name: phone             #   the key lower-cased with "-", "." and " " turned into "_"
      pattern: 'phone|msisdn|(^|_)wa_id$'
      action: pseudonymise    # mask | pseudonymise | length | drop
      kind: phone             # pseudonym prefix: phone:k1:9f2c4e1a0b3d5c7e
    - name: message_content
      pattern: 'message_(content|body|text)$'
      action: length          # "<42 chars>"
  detectors:                  # value detectors on free text: mask | pseudonymise | disabled
    phone_international: pseudonymise
    ip_address: disabled

The full rule reference (every key, detector and action) is in docs/redaction-rules.md.
Send SIGHUP to reload the rules in every worker; an invalid file is logged and the previous
rules stay in force ('max-otel rules check FILE' says what is wrong before you reload;
'max-otel redact VALUE' shows what the rules make of a value). Fault behaviour, metrics and
benchmarks: docs/processor.md."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="max-otel processor",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--config", metavar="FILE", help="YAML config file with any of the options below")
    add("--listen", metavar="HOST:PORT", help="OTLP/gRPC address to serve (127.0.0.1:4320)")
    add(
        "--forward",
        metavar="URL",
        help="next OTLP/gRPC hop: http://host:port or https://host:port (http://127.0.0.1:4319)",
    )
    add("--workers", type=int, metavar="N", help="worker processes on the port (one per CPU)")
    add("--rules", metavar="FILE", help="redaction rules YAML (the packaged defaults)")
    add("--tls-cert", metavar="PEM", help="server certificate; enables TLS with --tls-key")
    add("--tls-key", metavar="PEM", help="server private key")
    add("--tls-client-ca", metavar="PEM", help="require client certificates signed by this CA")
    add("--forward-ca", metavar="PEM", help="CA that verifies the next hop (system roots)")
    add("--forward-cert", metavar="PEM", help="client certificate for the next hop (mTLS)")
    add("--forward-key", metavar="PEM", help="client private key for the next hop")
    add("--max-message-bytes", type=int, metavar="N", help="largest request (16777216)")
    add("--forward-timeout", type=float, metavar="SECONDS", help="next-hop deadline (10)")
    add(
        "--shutdown-grace",
        type=float,
        metavar="SECONDS",
        help="time in-flight requests get after SIGTERM (20)",
    )
    add(
        "--max-connection-age",
        type=float,
        metavar="SECONDS",
        help="ask clients to reconnect after this long, so they re-resolve; 0 never (0)",
    )
    add(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="Prometheus endpoint of worker 0, worker i on PORT+i; '' disables (127.0.0.1:9464)",
    )
    add(
        "--dev",
        action="store_const",
        const=True,
        help="throwaway pseudonym key: pseudonyms change at every start; never in production",
    )
    return parser


def _engine_factory(config: ProcessorConfig) -> Callable[[], RedactionEngine]:
    """Check the key and rules now (before forking); return what builds a redactor again."""
    from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

    if config.dev:
        key = PseudonymKey.generate_throwaway()
        print(
            "max-otel processor: WARNING: --dev uses a throwaway pseudonym key: pseudonyms "
            "change at every start and match no other service. Never use --dev in production; "
            "set MAX_OTEL_PSEUDONYM_KEY instead.",
            file=sys.stderr,
        )
    else:
        key = PseudonymKey.from_environment(os.environ)

    def build() -> RedactionEngine:
        engine: RedactionEngine = Redactor(load_rules(config.rules), key)
        return engine

    return build


def main(argv: list[str]) -> int:
    """Run the service; return its exit status."""
    arguments = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s max-otel processor[%(process)d] %(levelname)s %(message)s",
    )
    flags = {name: value for name, value in vars(arguments).items() if name != "config"}
    try:
        config = resolve_config(flags, os.environ, arguments.config)
        build = _engine_factory(config)
        first_engine = build()
    except (ValueError, OSError) as error:
        # ConfigurationError is a ValueError; its message names the setting and the fix.
        print(f"max-otel processor: {error}", file=sys.stderr)
        return _CONFIG_ERROR

    from max_otel.processors.service.export import RedactorSlot
    from max_otel.processors.service.supervisor import supervise
    from max_otel.processors.service.worker import run_worker

    slot = RedactorSlot(first_engine)
    return supervise(
        config.worker_count,
        lambda index: run_worker(config, slot, build, index),
        check_reload=build,
    )
