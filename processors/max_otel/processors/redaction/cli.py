"""``max-otel redact`` and ``max-otel rules check``: the redaction engine from a terminal.

``redact`` shows what the pipeline makes of a value, with the same rules and pseudonym key
as the services and the processor; its main use is finding one customer's traces, whose
phone number or e-mail address only appears pseudonymised::

    $ export MAX_OTEL_PSEUDONYM_KEY=...        # the services' key (or MAX_OTEL_PSEUDONYM_KEY_FILE)
    $ max-otel redact '+55 11 98765-4321' ana.souza@example.com
    phone:k1:3f6a0c1d2e4b5a69
    email:k1:8d0e4c2b1a3f5e67
    $ max-otel redact --explain 'call me at +1 415 555 0123, card 4111 1111 1111 1111'
    call me at phone:k1:6332dbca65556f7b, card ***
      found phone_international: '+1 415 555 0123'
      found payment_card: '4111 1111 1111 1111'
      redactions: payment_card x1, phone_international x1
    $ max-otel redact --attribute http.request.header.authorization 'Bearer abc.def'
    ***

Values come from the arguments, or one per line from standard input. ``--attribute`` applies
the key rules of that attribute name (mask, pseudonymise, length, drop, keep) before the
value detectors, as the processor does for span and log attributes.

``rules check`` loads rules files as the processor and the services do, and says what is
wrong (the field and the fix) before a deployment or a ``SIGHUP`` finds out::

    $ max-otel rules check /etc/max-otel/redaction-rules.yaml
    /etc/max-otel/redaction-rules.yaml: valid: 22 sensitive-key rules, 27 kept keys, ...

Contract: each ``main`` returns the exit status: 0 done, 1 a rules file is invalid, 2 bad
usage or no pseudonym key (``redact --dev`` uses a throwaway key whose pseudonyms match
nothing stored).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from max_otel.processors.redaction._errors import ConfigurationError
from max_otel.processors.redaction._loading import load_rules
from max_otel.processors.redaction._pseudonym import PseudonymKey
from max_otel.processors.redaction._redactor import RedactionHits, Redactor
from max_otel.processors.redaction._rules import RedactionRules
from max_otel.processors.redaction._values import DROP

_INVALID_RULES = 1
_USAGE_ERROR = 2


def _redact_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="max-otel redact",
        description="Print each value as the telemetry pipeline redacts it (same rules and "
        "pseudonym key as the services), e.g. to find a customer's pseudonymised phone number.",
    )
    parser.add_argument("values", nargs="*", metavar="VALUE", help="values (default: stdin lines)")
    parser.add_argument("--rules", metavar="FILE", help="rules YAML (default: packaged rules)")
    parser.add_argument(
        "--attribute",
        metavar="KEY",
        help="redact each value as this attribute's value (its key rules apply)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="also list each finding and the rule that took it"
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="throwaway pseudonym key when none is set (its pseudonyms match nothing stored)",
    )
    return parser


def _values(arguments: argparse.Namespace, stdin: TextIO) -> Iterator[str]:
    if arguments.values:
        yield from arguments.values
        return
    for line in stdin:
        yield line.rstrip("\r\n")


def _key(dev: bool) -> PseudonymKey:
    try:
        return PseudonymKey.from_environment(os.environ)
    except ConfigurationError:
        if not dev:
            raise
    print(
        "max-otel redact: WARNING: --dev uses a throwaway pseudonym key: these pseudonyms "
        "match nothing stored",
        file=sys.stderr,
    )
    return PseudonymKey.generate_throwaway()


def _explanation(redactor: Redactor, value: str, hits: RedactionHits, text: bool) -> Iterator[str]:
    """The detector findings in ``value`` (free text only), then the redactions by rule."""
    if text:
        for rule, matched in redactor.find_pii(value):
            # An empty rule: a URL or key=value pair rewritten part by part (see redactions).
            yield f"  found {rule or 'structured value'}: {matched!r}"
    applied = ", ".join(f"{rule} x{count}" for rule, count in sorted(hits.items()))
    yield f"  redactions: {applied or 'none'}"


def redact_main(argv: list[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """``max-otel redact``: print each value redacted; return the exit status."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    arguments = _redact_parser().parse_args(argv)
    try:
        rules = load_rules(arguments.rules)
    except ConfigurationError as error:
        print(f"max-otel redact: {error}", file=sys.stderr)
        return _INVALID_RULES
    try:
        key = _key(arguments.dev)
    except ConfigurationError as error:
        print(f"max-otel redact: {error}", file=sys.stderr)
        print("max-otel redact: (--dev uses a throwaway key instead)", file=sys.stderr)
        return _USAGE_ERROR
    redactor = Redactor(rules, key)
    for value in _values(arguments, stdin):
        hits = RedactionHits()
        if arguments.attribute:
            redacted = redactor.redact_value(arguments.attribute, value, hits)
            print("(dropped)" if redacted is DROP else redacted, file=stdout)
        else:
            print(redactor.redact_text(value, hits), file=stdout)
        if arguments.explain:
            for line in _explanation(redactor, value, hits, text=not arguments.attribute):
                print(line, file=stdout)
    return 0


def _rules_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="max-otel rules",
        description="Check redaction rules files as the processor and the services load them.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="load each file; say what is wrong, if anything")
    check.add_argument("files", nargs="+", metavar="FILE", help="rules YAML files")
    return parser


def _summary(rules: RedactionRules) -> str:
    enabled = sorted(name for name, action in rules.detectors.items() if action != "disabled")
    return (
        f"valid: {len(rules.sensitive_keys)} sensitive-key rules, {len(rules.keep_keys)} kept "
        f"keys, {len(enabled)} detectors enabled ({', '.join(enabled)}), "
        f"{len(rules.custom_detectors)} custom detectors, mask {rules.mask_text!r}"
    )


def rules_main(argv: list[str], stdout: TextIO | None = None) -> int:
    """``max-otel rules check FILE...``: 0 when every file is valid, else 1."""
    stdout = sys.stdout if stdout is None else stdout
    arguments = _rules_parser().parse_args(argv)
    status = 0
    for path in arguments.files:
        try:
            rules = load_rules(path)
        except ConfigurationError as error:
            message = str(error)
            prefix = f"{path}: "
            print(prefix + message.removeprefix(prefix), file=stdout)
            status = _INVALID_RULES
            continue
        print(f"{path}: {_summary(rules)}", file=stdout)
    return status
