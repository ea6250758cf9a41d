"""Audit trail: a year of events queried by conversation and by actor, and write throughput.

Run (about 2-3 minutes on 2 cores; starts its own PostgreSQL unless --database-url is given)::

    .venv/bin/python bench/audit_query.py                     # 3,000,000 events, 12 months
    .venv/bin/python bench/audit_query.py --rows 500000       # quicker

What it measures, all in one run on one server:

1. Load: ``--rows`` synthetic events spread evenly over the last 12 full months (12 monthly
   partitions), generated server-side with ``generate_series``: 30 events per conversation
   within a few days, 500 actors. The bulk load switches the chain trigger off
   (``session_replication_role = replica``): these rows carry placeholder hashes, so they
   are for reads only; writes through the real chain are measured in 3.
2. Reads through the real API (``search_events``, as the application role): a conversation's
   whole timeline (no date range: every partition is searched), and one actor's events in
   one month; p50/p99 over ``--samples`` random keys. Baseline: the same conversation query
   on an unpartitioned copy of the table without the indexes (what a table without this
   schema's indexes costs), measured on fewer samples since each one scans everything.
3. Writes through the real API (``AuditTrail``, redaction, chain trigger, one transaction
   per event): sequential and with 4 threads, events/s and p50/p99 ms; and a bulk
   ``INSERT ... SELECT`` through the chain trigger against the same insert with the trigger
   off (the trigger's cost per row).
4. ``verify_chain`` over the events written in 3 (rows/s).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from max_service_launch.local_servers import PostgresServer  # noqa: E402

from max_otel.instrumentation.audit import (  # noqa: E402
    AuditStore,
    AuditTrail,
    FailurePolicy,
    create_partitions,
    install_schema,
    search_events,
    verify_chain,
)
from max_otel.instrumentation.audit._schema import add_months, month_start  # noqa: E402
from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules  # noqa: E402

EVENTS_PER_CONVERSATION = 30
CONCURRENT_CONVERSATIONS = 1000
ACTORS = 500


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _timed(calls: list[Callable[[], object]]) -> list[float]:
    durations = []
    for call in calls:
        started = time.perf_counter()
        call()
        durations.append((time.perf_counter() - started) * 1000.0)
    return durations


def _line(label: str, durations_ms: list[float]) -> str:
    return (
        f"  {label:<52} p50 {_percentile(durations_ms, 0.5):8.2f} ms   "
        f"p99 {_percentile(durations_ms, 0.99):8.2f} ms   (n={len(durations_ms)})"
    )


def _setup(superuser_url: str) -> tuple[Engine, Engine, Engine, str, Callable[[], None]]:
    suffix = uuid.uuid4().hex[:8]
    owner, app, name = f"bench_owner_{suffix}", f"bench_app_{suffix}", f"bench_audit_{suffix}"
    admin = create_engine(superuser_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {owner} LOGIN"))
        connection.execute(text(f"CREATE ROLE {app} LOGIN"))
        connection.execute(text(f"CREATE DATABASE {name} OWNER {owner}"))
    base = superuser_url.rsplit("/", 1)[0]
    user_url = base.split("://", 1)[1].split("@", 1)[1]
    scheme = base.split("://", 1)[0]

    def url(user: str) -> str:
        return f"{scheme}://{user}@{user_url}/{name}"

    owner_engine, app_engine = create_engine(url(owner)), create_engine(url(app), pool_size=8)
    superuser = create_engine(superuser_url.rsplit("/", 1)[0] + "/" + name)
    with owner_engine.begin() as connection:
        install_schema(connection, app_role=app)

    def cleanup() -> None:
        for engine in (owner_engine, app_engine, superuser):
            engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
            connection.execute(text(f"DROP ROLE {app}"))
            connection.execute(text(f"DROP ROLE {owner}"))
        admin.dispose()

    return owner_engine, app_engine, superuser, app, cleanup


def _load(owner: Engine, superuser: Engine, rows: int) -> tuple[datetime, datetime, float]:
    this_month = month_start(datetime.now(UTC))
    first = add_months(this_month, -12)
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    end = datetime(this_month.year, this_month.month, 1, tzinfo=UTC)
    with owner.begin() as connection:
        create_partitions(connection, first, months=12)
    step = (end - start).total_seconds() / rows
    started = time.perf_counter()
    with superuser.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            text(
                "INSERT INTO conversation_events (id, event_type, actor_type, actor_id, "
                "conversation_id, old_value, new_value, created_at, prev_hash, row_hash) "
                "SELECT n, "
                "  (ARRAY['conversation.state_changed','auth.permission_granted',"
                "         'ai.tool_called','integration.request','auth.login'])[1 + n % 5], "
                "  (ARRAY['user','user','ai','system','user'])[1 + n % 5], "
                "  'agent-' || (n % :actors), "
                "  'conv-' || ((n / (:per_conv * :concurrent)) * :concurrent + n % :concurrent), "
                '  \'{"state": "open"}\'::jsonb, '
                "  jsonb_build_object('state', 'assigned', 'n', n), "
                "  CAST(:start AS timestamptz) + (n * :step) * interval '1 second', "
                "  repeat('0', 64), repeat('0', 64) "
                "FROM generate_series(0, :rows - 1) AS n"
            ),
            {
                "actors": ACTORS,
                "per_conv": EVENTS_PER_CONVERSATION,
                "concurrent": CONCURRENT_CONVERSATIONS,
                "start": start,
                "step": step,
                "rows": rows,
            },
        )
        connection.execute(text("SELECT setval('conversation_events_id_seq', :n)"), {"n": rows})
    load_seconds = time.perf_counter() - started
    with superuser.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("ANALYZE conversation_events"))
    return start, end, load_seconds


def _baseline_table(superuser: Engine, app_role: str) -> float:
    started = time.perf_counter()
    with superuser.begin() as connection:
        connection.execute(text("CREATE TABLE bench_baseline AS SELECT * FROM conversation_events"))
        connection.execute(text(f"GRANT SELECT ON bench_baseline TO {app_role}"))
    with superuser.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("ANALYZE bench_baseline"))
    return time.perf_counter() - started


def _reads(
    app: Engine, rows: int, samples: int, start: datetime, seed: int
) -> dict[str, list[float]]:
    rng = random.Random(seed)
    conversations = rows // EVENTS_PER_CONVERSATION
    conv_ids = [f"conv-{rng.randrange(conversations)}" for _ in range(samples)]
    actor_ids = [f"agent-{rng.randrange(ACTORS)}" for _ in range(samples)]
    months = [add_months(start.date(), rng.randrange(12)) for _ in range(samples)]
    results: dict[str, list[float]] = {}
    with app.connect() as connection:
        for warm in conv_ids[:20]:  # warm the cache and the plans, as a running service has
            search_events(connection, conversation_id=warm)
        timeline = _timed(
            [lambda c=c: search_events(connection, conversation_id=c) for c in conv_ids]
        )
        results["conversation timeline (all 12 partitions)"] = timeline
        found = search_events(connection, conversation_id=conv_ids[0])
        assert len(found) == EVENTS_PER_CONVERSATION, len(found)

        def actor_month(actor: str, month) -> object:
            since = datetime(month.year, month.month, 1, tzinfo=UTC)
            following = add_months(month, 1)
            until = datetime(following.year, following.month, 1, tzinfo=UTC)
            return search_events(connection, actor_id=actor, since=since, until=until, limit=10_000)

        results["one actor, one month (~500 events)"] = _timed(
            [lambda a=a, m=m: actor_month(a, m) for a, m in zip(actor_ids, months, strict=True)]
        )
        baseline_query = text(
            "SELECT * FROM bench_baseline WHERE conversation_id = :c ORDER BY created_at, id"
        )
        baseline_samples = conv_ids[: max(5, samples // 20)]
        connection.execute(baseline_query, {"c": baseline_samples[0]}).all()
        results["baseline: timeline, unpartitioned, no index"] = _timed(
            [
                lambda c=c: connection.execute(baseline_query, {"c": c}).all()
                for c in baseline_samples
            ]
        )
    return results


def _writes(app: Engine, owner: Engine, superuser: Engine, events: int) -> list[str]:
    """Write throughput through the real API, then the trigger's cost, then verify."""
    key = PseudonymKey(b"bench-audit-pseudonym-key-0123456789abcdef", "k1")
    trail = AuditTrail(
        AuditStore(app, Redactor(load_rules(None), key)), policy=FailurePolicy.FAIL_CLOSED
    )

    def write(number: int) -> None:
        trail.ai_tool_invoked(
            f"bench-conv-{number % 50}",
            tool="crm.lookup",
            outcome="success",
            arguments={"customer_phone": "+33 6 12 34 56 78", "query": "open tickets"},
        )

    lines = []
    write(0)
    started = time.perf_counter()
    latencies = _timed([lambda n=n: write(n) for n in range(events)])
    elapsed = time.perf_counter() - started
    lines.append(f"  sequential, 1 transaction per event: {events / elapsed:8.0f} events/s")
    lines.append(_line("  latency per event", latencies))

    per_thread = events // 4
    threads = [
        threading.Thread(target=lambda: [write(n) for n in range(per_thread)]) for _ in range(4)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    lines.append(f"  4 threads, 1 transaction per event:  {4 * per_thread / elapsed:8.0f} events/s")

    bulk = 20_000
    chained = text(
        "INSERT INTO conversation_events (event_type, actor_type, actor_id, new_value) "
        "SELECT 'auth.login', 'user', 'u-' || n, '{\"method\": \"sso\"}' "
        "FROM generate_series(1, :rows) AS n"
    )
    # Without the trigger nothing assigns the id and hashes: the baseline gives them here.
    unchained = text(
        "INSERT INTO conversation_events (id, event_type, actor_type, actor_id, new_value, "
        "prev_hash, row_hash) SELECT nextval('conversation_events_id_seq'), 'auth.login', "
        "'user', 'u-' || n, '{\"method\": \"sso\"}', '', '' "
        "FROM generate_series(1, :rows) AS n"
    )
    timings = {}
    with owner.begin() as connection:  # kept: verified below
        started = time.perf_counter()
        connection.execute(chained, {"rows": bulk})
        timings["chain trigger on"] = time.perf_counter() - started
    with superuser.connect() as connection:  # rolled back: its rows carry no hashes
        transaction = connection.begin()
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        started = time.perf_counter()
        connection.execute(unchained, {"rows": bulk})
        timings["triggers off (baseline)"] = time.perf_counter() - started
        transaction.rollback()
    on, off = timings["chain trigger on"], timings["triggers off (baseline)"]
    lines.append(
        f"  bulk INSERT..SELECT {bulk} rows, chain trigger on: {bulk / on:8.0f} rows/s; "
        f"triggers off: {bulk / off:8.0f} rows/s (trigger costs {on / off:.1f}x)"
    )
    with app.connect() as connection:
        started = time.perf_counter()
        this_month = month_start(datetime.now(UTC))
        report = verify_chain(connection, months={this_month})
        elapsed = time.perf_counter() - started
    assert report.ok, report.problems[:3]
    lines.append(
        f"  verify_chain, this month: {report.rows} rows in {elapsed:.2f} s "
        f"({report.rows / elapsed:8.0f} rows/s), chain OK"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="superuser SQLAlchemy URL; default: own server")
    args = parser.parse_args()

    server = None
    scratch = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    url = args.database_url
    if url is None:
        server = PostgresServer(scratch)
        server.start()
        url = server.url
    try:
        owner, app, superuser, app_role, cleanup = _setup(url)
        try:
            total = time.perf_counter()
            start, end, load_seconds = _load(owner, superuser, args.rows)
            print(
                f"audit bench: {args.rows} events from {start:%Y-%m} to {end:%Y-%m} "
                f"(12 monthly partitions), loaded in {load_seconds:.1f} s "
                f"({args.rows / load_seconds:,.0f} rows/s, chain trigger off)"
            )
            copy_seconds = _baseline_table(superuser, app_role)
            print(f"  baseline copy (unpartitioned, no index) made in {copy_seconds:.1f} s")
            print("reads (search_events, as the application role):")
            reads = _reads(app, args.rows, args.samples, start, args.seed)
            for label, durations in reads.items():
                print(_line(label, durations))
            timeline = statistics.median(reads["conversation timeline (all 12 partitions)"])
            baseline = statistics.median(reads["baseline: timeline, unpartitioned, no index"])
            ratio = baseline / timeline
            print(f"  ratio: baseline / indexed conversation timeline (p50) = {ratio:.0f}x")
            print("writes (AuditTrail: redaction + chain trigger):")
            for line in _writes(app, owner, superuser, args.writes):
                print(line)
            print(f"total {time.perf_counter() - total:.0f} s")
        finally:
            cleanup()
    finally:
        if server is not None:
            server.stop()
            # A year of events is about a gigabyte: never leave it behind.
            shutil.rmtree(server.directory, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
