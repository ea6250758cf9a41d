"""``max-otel audit``: install, verify, search and archive the audit trail.

::

    max-otel audit install    --database-url postgresql://owner@db/max_audit --app-role max_app
    max-otel audit partitions --database-url ... --ahead 3
    max-otel audit verify     --database-url ...            # exit 1 at the first broken row
    max-otel audit search     --conversation c-42           # JSON Lines, oldest first
    max-otel audit search     --actor u-7 --since 2026-01-01 --until 2026-02-01
    max-otel audit archive    --database-url postgresql://owner@... --before 2025-01 --out DIR
    max-otel audit verify-archive DIR

``--database-url`` defaults to ``MAX_OTEL_AUDIT_DATABASE_URL``. ``install``, ``partitions``
and ``archive`` need the owner role; ``verify`` and ``search`` need only SELECT. Exit status:
0 success, 1 a broken chain or a failed archive, 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from max_otel.instrumentation.audit._database import audit_engine, resolve_database_url
from max_otel.instrumentation.audit._environment import (
    _DEFAULT_AUDIT_APP_ROLE,
    AUDIT_APP_ROLE,
)
from max_otel.instrumentation.audit._schema import (
    create_partitions,
    install_schema,
    list_partitions,
    month_start,
)
from max_otel.instrumentation.audit.archive import archive_partitions, verify_archive
from max_otel.instrumentation.audit.errors import AuditError
from max_otel.instrumentation.audit.search import search_events
from max_otel.instrumentation.audit.verify import verify_chain

_SHOWN_PROBLEMS = 20


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a month as YYYY-MM; got {value!r}") from None


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00:00+00:00); "
            f"got {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="max-otel audit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def with_url(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--database-url", help="default: $MAX_OTEL_AUDIT_DATABASE_URL")
        return sub

    install = with_url("install", "install or upgrade the schema (as the owner role)")
    install.add_argument("--app-role", help=f"default: ${AUDIT_APP_ROLE} or max_app")
    install.add_argument("--months-ahead", type=int, default=3)
    partitions = with_url("partitions", "create the monthly partitions of the coming months")
    partitions.add_argument("--ahead", type=int, default=3)
    verify = with_url("verify", "recompute the hash chain; exit 1 where it breaks")
    verify.add_argument("--month", type=_month, action="append", help="YYYY-MM (repeatable)")
    search = with_url("search", "print matching events as JSON Lines, oldest first")
    who = search.add_mutually_exclusive_group(required=True)
    who.add_argument("--conversation")
    who.add_argument("--actor")
    search.add_argument("--since", type=_moment, help="ISO 8601, inclusive (UTC if no zone)")
    search.add_argument("--until", type=_moment, help="ISO 8601, exclusive (UTC if no zone)")
    search.add_argument("--limit", type=int, default=1000)
    archive = with_url("archive", "export months before --before, verify, then drop them")
    archive.add_argument("--before", type=_month, required=True, help="YYYY-MM, exclusive")
    archive.add_argument("--out", type=Path, required=True, help="directory for the archives")
    archive.add_argument("--dry-run", action="store_true", help="only list the partitions")
    check = commands.add_parser("verify-archive", help="check the archives in a directory")
    check.add_argument("directory", type=Path)
    return parser


def main(argv: list[str]) -> int:
    """Run ``max-otel audit ...``; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "verify-archive":
        return _verify_archive(args.directory)
    try:
        engine = audit_engine(resolve_database_url(args.database_url), pool_size=1)
    except ValueError as error:
        print(f"max-otel audit: {error}", file=sys.stderr)
        return 2
    commands: dict[str, Callable[[Engine, argparse.Namespace], int]] = {
        "install": _install,
        "partitions": _partitions,
        "verify": _verify,
        "search": _search,
        "archive": _archive,
    }
    try:
        return commands[args.command](engine, args)
    except ValueError as error:
        print(f"max-otel audit {args.command}: {error}", file=sys.stderr)
        return 2
    except (AuditError, SQLAlchemyError) as error:
        print(f"max-otel audit {args.command}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _install(engine: Engine, args: argparse.Namespace) -> int:
    role = args.app_role or os.environ.get(AUDIT_APP_ROLE) or _DEFAULT_AUDIT_APP_ROLE
    with engine.begin() as connection:
        created = install_schema(connection, app_role=role, months_ahead=args.months_ahead)
    print(f"audit install: schema ready for role {role}; partitions created: {len(created)}")
    for name in created:
        print(f"  {name}")
    return 0


def _partitions(engine: Engine, args: argparse.Namespace) -> int:
    with engine.begin() as connection:
        created = create_partitions(
            connection, month_start(datetime.now(UTC)), months=args.ahead + 1
        )
    print(f"audit partitions: {len(created)} created")
    for name in created:
        print(f"  {name}")
    return 0


def _verify(engine: Engine, args: argparse.Namespace) -> int:
    months = set(args.month) if args.month else None
    with engine.connect() as connection:
        report = verify_chain(connection, months=months)
    if report.ok:
        print(f"audit verify: OK: {report.rows} rows in {report.partitions} partitions")
        for month, head in sorted(report.heads.items()):
            print(f"  {month:%Y-%m} head {head}")
        return 0
    first = report.problems[0]
    print(
        f"audit verify: BROKEN: first broken row id {first.row_id} in {first.partition}",
        file=sys.stderr,
    )
    for problem in report.problems[:_SHOWN_PROBLEMS]:
        print(f"  {problem}", file=sys.stderr)
    return 1


def _search(engine: Engine, args: argparse.Namespace) -> int:
    with engine.connect() as connection:
        records = search_events(
            connection,
            conversation_id=args.conversation,
            actor_id=args.actor,
            since=args.since,
            until=args.until,
            limit=args.limit,
        )
    for record in records:
        print(json.dumps(record.as_json(), ensure_ascii=False, default=str))
    return 0


def _archive(engine: Engine, args: argparse.Namespace) -> int:
    if args.dry_run:
        with engine.connect() as connection:
            old = [p for p in list_partitions(connection) if p.month < args.before]
        for partition in old:
            print(f"would archive {partition.name}")
        return 0
    archived = archive_partitions(engine, before=args.before, out_dir=args.out)
    for item in archived:
        print(
            f"archived {item.partition}: {item.rows} rows -> {args.out / item.file} ({item.sha256})"
        )
    print(f"audit archive: {len(archived)} partitions archived and dropped")
    return 0


def _verify_archive(directory: Path) -> int:
    if not directory.is_dir():
        print(f"max-otel audit verify-archive: {directory} is not a directory", file=sys.stderr)
        return 2
    problems = verify_archive(directory)
    if problems:
        for problem in problems:
            print(f"audit verify-archive: {problem}", file=sys.stderr)
        return 1
    print(f"audit verify-archive: OK: {len(list(directory.glob('*.manifest.json')))} archives")
    return 0
