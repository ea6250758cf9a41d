"""``audit archive``: export old months to files with checksums, then drop their partitions.

::

    archived = archive_partitions(owner_engine, before=date(2025, 1, 1), out_dir=Path("/srv/audit"))

For each partition of a month before ``before``, in one transaction of the owner role:

1. lock the partition against writes (``SHARE``: searches still read it);
2. export every row in chain order to ``conversation_events_yYYYYmMM.jsonl.gz`` (one JSON
   object per line, ``old_value``/``new_value`` as the exact text PostgreSQL stored, so the
   hashes can be recomputed from the file), verifying the chain as it goes; fsync;
3. re-read the file from disk and recompute the whole chain from it: it must end at the
   month's chain head (same row count, same last hash);
4. write ``conversation_events_yYYYYmMM.manifest.json`` (rows, ids, hashes, the file's
   SHA-256) and append the file's line to ``SHA256SUMS`` (``sha256sum -c SHA256SUMS`` checks
   it); fsync;
5. record the month in ``conversation_events_archive_log`` (append-only), then ``DETACH`` and
   ``DROP`` the partition, and commit.

Any failure before the commit raises :class:`ArchiveError` and drops nothing (a half-written
file is removed). Months newer than ``retention_months`` (12: the spec's one-year minimum) are
never archived. :func:`verify_archive` re-checks a directory of archives at any later time.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from max_otel.instrumentation.audit._chain import (
    GENESIS_HASH,
    canonical_row,
    format_created_at,
    row_hash,
)
from max_otel.instrumentation.audit._schema import (
    Partition,
    add_months,
    list_partitions,
    month_bounds,
    month_rows_query,
    month_start,
)
from max_otel.instrumentation.audit._tables import archive_log, chain_heads
from max_otel.instrumentation.audit.errors import ArchiveError

SUMS_FILE = "SHA256SUMS"
_DEFAULT_RETENTION_MONTHS = 12
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchivedPartition:
    """One exported and dropped month, as written to its manifest."""

    partition: str
    month: str
    file: str
    sha256: str
    rows: int
    first_id: int | None
    last_id: int | None
    last_row_hash: str


@dataclass(frozen=True)
class _ChainEnd:
    rows: int
    first_id: int | None
    last_id: int | None
    last_hash: str


def archive_partitions(
    engine: Engine,
    *,
    before: date,
    out_dir: Path,
    retention_months: int = _DEFAULT_RETENTION_MONTHS,
    now: datetime | None = None,
) -> list[ArchivedPartition]:
    """Archive and drop every partition of a month before ``before``; return what was done."""
    before = month_start(before)
    newest_allowed = add_months(month_start(now or datetime.now(UTC)), -retention_months)
    if before > newest_allowed:
        raise ArchiveError(
            f"before must be {newest_allowed:%Y-%m} or earlier: months of the last "
            f"{retention_months} are kept in the database (retention); got {before:%Y-%m}"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with engine.connect() as connection:
        candidates = [p for p in list_partitions(connection) if p.month < before]
    archived = []
    for partition in candidates:
        with engine.begin() as connection:
            archived.append(_archive_one(connection, partition, out_dir))
    return archived


def _archive_one(connection: Connection, partition: Partition, out_dir: Path) -> ArchivedPartition:
    table = f'public."{partition.name}"'
    connection.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
    head = connection.execute(
        select(chain_heads).where(chain_heads.c.chain_month == partition.month)
    ).first()
    final = out_dir / f"{partition.name}.jsonl.gz"
    if final.exists():
        raise ArchiveError(f"{final} already exists; refusing to overwrite an archive")
    partial = final.with_suffix(".partial")
    try:
        rows = connection.execute(
            month_rows_query(),
            month_bounds(partition.month),
            execution_options={"stream_results": True, "yield_per": 10_000},
        )
        exported = _write_lines(partial, (_line(row._mapping) for row in rows))
        os.replace(partial, final)
        reread = chain_of(read_archive(final))
    except ArchiveError:
        partial.unlink(missing_ok=True)
        raise
    except Exception as error:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"exporting {partition.name} failed: {error}") from error
    expected_rows = head.row_count if head is not None else 0
    expected_hash = head.last_hash if head is not None else GENESIS_HASH
    if reread != exported or (reread.rows, reread.last_hash) != (expected_rows, expected_hash):
        final.unlink(missing_ok=True)
        raise ArchiveError(
            f"{partition.name}: the file re-read from disk has {reread.rows} rows ending in "
            f"{reread.last_hash[:16]}...; the chain head records {expected_rows} rows ending in "
            f"{expected_hash[:16]}...; run `max-otel audit verify`; nothing was dropped"
        )
    result = ArchivedPartition(
        partition=partition.name,
        month=f"{partition.month:%Y-%m}",
        file=final.name,
        sha256=_sha256(final),
        rows=reread.rows,
        first_id=reread.first_id,
        last_id=reread.last_id,
        last_row_hash=reread.last_hash,
    )
    _write_manifest(out_dir, result)
    connection.execute(
        insert(archive_log).values(
            chain_month=partition.month,
            partition_name=partition.name,
            file_name=result.file,
            file_sha256=result.sha256,
            row_count=result.rows,
            first_id=result.first_id,
            last_id=result.last_id,
            last_row_hash=result.last_row_hash,
        )
    )
    connection.execute(text(f"ALTER TABLE public.conversation_events DETACH PARTITION {table}"))
    connection.execute(text(f"DROP TABLE {table}"))
    return result


def _line(row: Any) -> dict[str, Any]:
    line = dict(row)
    line["created_at"] = format_created_at(row["created_at"])
    return line


def _write_lines(path: Path, lines: Iterable[dict[str, Any]]) -> _ChainEnd:
    """Write ``lines`` as gzip JSON Lines, fsynced; return the chain they form (verified)."""
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            end = chain_of(_written(out, lines))
        raw.flush()
        os.fsync(raw.fileno())
    return end


def _written(out: gzip.GzipFile, lines: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        yield line


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of an archive file, in order."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def chain_of(rows: Iterable[dict[str, Any]]) -> _ChainEnd:
    """Recompute the chain of exported rows; raise :class:`ArchiveError` where it breaks."""
    expected_prev = GENESIS_HASH
    count, first_id, last_id = 0, None, None
    for row in rows:
        created_at = datetime.strptime(row["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        canonical = canonical_row(
            row["id"],
            created_at.replace(tzinfo=UTC),
            row["event_type"],
            row["actor_type"],
            row["actor_id"],
            row["conversation_id"],
            row["old_value"],
            row["new_value"],
        )
        if (
            row["prev_hash"] != expected_prev
            or row_hash(row["prev_hash"], canonical) != row["row_hash"]
        ):
            raise ArchiveError(
                f"the chain breaks at row id {row['id']}; run `max-otel audit verify`; "
                "nothing was dropped"
            )
        expected_prev = row["row_hash"]
        count += 1
        first_id = row["id"] if first_id is None else first_id
        last_id = row["id"]
    return _ChainEnd(count, first_id, last_id, expected_prev)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        while chunk := data.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_manifest(out_dir: Path, archived: ArchivedPartition) -> None:
    manifest = out_dir / f"{archived.partition}.manifest.json"
    manifest.write_text(json.dumps(asdict(archived), indent=2) + "\n", encoding="utf-8")
    with open(out_dir / SUMS_FILE, "a", encoding="utf-8") as sums:
        sums.write(f"{archived.sha256}  {archived.file}\n")
        sums.flush()
        os.fsync(sums.fileno())
    directory = os.open(out_dir, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def verify_archive(out_dir: Path) -> list[str]:
    """Check every manifest in ``out_dir``: checksum, rows and chain; return the problems."""
    problems = []
    for manifest_path in sorted(out_dir.glob("*.manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        path = out_dir / manifest["file"]
        if not path.exists():
            problems.append(f"{manifest['file']}: missing")
            continue
        if _sha256(path) != manifest["sha256"]:
            problems.append(f"{manifest['file']}: SHA-256 differs from its manifest")
            continue
        try:
            end = chain_of(read_archive(path))
        except ArchiveError as error:
            problems.append(f"{manifest['file']}: {error}")
            continue
        if (end.rows, end.last_hash) != (manifest["rows"], manifest["last_row_hash"]):
            problems.append(f"{manifest['file']}: rows or last hash differ from its manifest")
    return problems
