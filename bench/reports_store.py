"""Databases holding the reports benchmark's synthetic history, made once and kept.

The schema is the scoring service's own, made by its migrations (what `lockstep db upgrade` runs);
the rows come from bench/reports_data.py and go in by each backend's fastest honest path:
PostgreSQL's COPY (asyncpg), SQLite's executemany in large transactions, with the secondary
indexes dropped for the load and created again from their own definitions afterwards. The rows
are the facts as the scorecard's first revision kept them (scoring_0004); the rest of the schema
is then upgraded as a deployment would be, its migrations filling what later revisions keep (the
report counters, the groups each fact carries) from those facts. PostgreSQL is then vacuumed and
analyzed, as its autovacuum would have done by the time anyone reads a report; SQLite is not (the
service never runs ANALYZE).

Generating a million leads takes minutes, so each database is kept (SQLite: a file under
var/bench/; PostgreSQL: a database per size, and per months kept when fewer than all) with a stamp
of what made it: the generator's source, its parameters and the scoring schema's revisions. A run
whose stamp matches reuses it; one made by the same generator before revisions were added is
upgraded to them, as a deployment would be (a changed revision, or generator, makes it anew).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import JSON, Boolean, DateTime

from bench import reports_data, reports_rows
from bench.common import REPO, bench_keys
from bench.reports_data import MONTHS, history
from bench.reports_rows import COLUMNS, Vocabulary
from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.cli.serve import service_migrations
from services.scoring.tables import metadata
from shared.db.engine import create_engine
from shared.db.migrations import upgrade

CACHE = REPO / "var" / "bench"
TABLES = list(COLUMNS)
LOADED_AT = "scoring_0004"  # the revision whose tables the generated rows fill (bench/reports_rows.py)
UPGRADED = ("scoring_rollups",)  # tables the upgrade fills
PG_INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1::text[]) "
    "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
)


@dataclass
class Made:
    """A database holding the history, and what is in it."""

    url: str
    counts: dict[str, int]  # table -> rows
    generated_s: float  # how long making it took (when it was made, if reused)
    reused: bool
    leads: int  # of the whole history, which holds fewer when only its last months are kept
    months: int  # of history: the last ones of the whole history, when fewer than all


def cache_name(leads: int, months: int) -> str:
    """What a history is kept as: the full ones by their leads, as they always were."""
    return f"{leads}" if months == MONTHS else f"{leads}-{months}mo"


def _scripts() -> list[Path]:
    return sorted((REPO / "services" / "scoring" / "migrations" / "versions").glob("scoring_*.py"))


def stamp(leads: int, seed: int, end: datetime, months: int = MONTHS, through: int | None = None) -> str:
    """What the data depends on: a change to any of it makes a new database. `through`: how many of
    the schema's revisions it holds (all by default)."""
    parts = [Path(reports_data.__file__).read_bytes(), Path(reports_rows.__file__).read_bytes()]
    parts += [p.read_bytes() for p in _scripts()[:through]]
    # Lead keys depend on the deployment secret the benchmark runs with.
    parts.append(bench_keys().lead_key(email="stamp@bench.example", source="bench", record_id=None).encode())
    parts.append(f"{leads}:{seed}:{end.isoformat()}:{months}".encode())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def behind_by(saved: str | None, leads: int, seed: int, end: datetime, months: int) -> int | None:
    """How many revisions a kept database made by this same generator lacks (0: up to date), or None
    when it was made otherwise (a revision it holds has changed since, or the generator). One that
    only lacks revisions added since is upgraded as a deployment would be, not made again."""
    total = len(_scripts())
    for held in range(total, 0, -1):
        if saved == stamp(leads, seed, end, months, through=held):
            return total - held
    return None


def _converters(table: str, backend: str) -> list[Callable[[Any], Any] | None]:
    """How each written column's Python value becomes what the driver takes for it."""
    out: list[Callable[[Any], Any] | None] = []
    for name in COLUMNS[table]:
        kind = metadata.tables[table].c[name].type
        if isinstance(kind, JSON):
            out.append(lambda value: None if value is None else orjson.dumps(value).decode())
        elif backend == "sqlite" and isinstance(kind, DateTime):
            # SQLAlchemy's SQLite storage format, which every comparison in a query relies on.
            out.append(lambda value: None if value is None else value.isoformat(" ", "microseconds")[:26])
        elif backend == "sqlite" and isinstance(kind, Boolean):
            out.append(lambda value: None if value is None else int(value))
        else:
            out.append(None)
    return out


def _records(rows: list[tuple[Any, ...]], convert: list[Callable[[Any], Any] | None]) -> list[tuple[Any, ...]]:
    if all(c is None for c in convert):
        return rows
    return [tuple(v if c is None else c(v) for c, v in zip(convert, row, strict=True)) for row in rows]


async def _migrate(url: str, revision: str = "head") -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine, service_migrations()["scoring"], revision)
    finally:
        await engine.dispose()


def _batches(
    leads: int, seed: int, end: datetime, months: int, counts: dict[str, int]
) -> Iterator[dict[str, list[tuple]]]:
    started, made = time.monotonic(), 0
    vocabulary = Vocabulary(load_contract(DEFAULT_CONTRACT))
    for batch in history(leads, seed, end, vocabulary, months=months):
        for table, rows in batch.items():
            counts[table] = counts.get(table, 0) + len(rows)
        made_now = counts.get("scoring_leads", 0)
        if made_now - made >= max(leads // 10, 1):
            made = made_now
            print(f"  {made:,} leads generated, {time.monotonic() - started:.0f} s", flush=True)
        yield batch


def _insert(table: str) -> str:
    columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(COLUMNS[table]))})"


def sqlite_history(
    leads: int, seed: int, end: datetime, regenerate: bool = False, folder: Path = CACHE, months: int = MONTHS
) -> Made:
    path = folder / f"reports-{cache_name(leads, months)}.db"
    label = path.with_suffix(".json")
    url = f"sqlite+aiosqlite:///{path}"
    want = stamp(leads, seed, end, months)
    if not regenerate and path.exists() and label.exists():
        saved = json.loads(label.read_text())
        lacking = behind_by(saved.get("stamp"), leads, seed, end, months)
        if lacking is not None:
            if lacking:
                print(f"  upgrading the kept history ({lacking} revision(s) behind)", flush=True)
                asyncio.run(_migrate(url))
                label.write_text(json.dumps(saved | {"stamp": want}) + "\n")
            return Made(url, saved["counts"], saved["generated_s"], reused=True, leads=leads, months=months)
    label.unlink(missing_ok=True)
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    started = time.monotonic()
    asyncio.run(_migrate(url, LOADED_AT))
    counts: dict[str, int] = {}
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")  # a load that fails leaves no stamp: it is made again
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        marks = ",".join("?" * len(TABLES))
        indexes = db.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
            TABLES,
        ).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        converters = {table: _converters(table, "sqlite") for table in TABLES}
        for batch in _batches(leads, seed, end, months, counts):
            db.execute("BEGIN")
            for table, rows in batch.items():
                db.executemany(_insert(table), _records(rows, converters[table]))
            db.execute("COMMIT")
        print("  indexing", flush=True)
        for _, sql in indexes:
            db.execute(sql)
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    print("  upgrading", flush=True)
    asyncio.run(_migrate(url))
    made = Made(url, counts, time.monotonic() - started, reused=False, leads=leads, months=months)
    label.write_text(json.dumps({"stamp": want, "counts": counts, "generated_s": made.generated_s}) + "\n")
    return made


def postgres_history(
    admin_url: str,
    leads: int,
    seed: int,
    end: datetime,
    regenerate: bool = False,
    name: str | None = None,
    months: int = MONTHS,
) -> Made:
    """The history in the database `name` (bench_reports_<leads>[_<months>mo] unless given) of this server."""
    name = name or f"bench_reports_{cache_name(leads, months).replace('-', '_')}"
    return asyncio.run(_postgres(admin_url, leads, seed, end, months, regenerate, name))


async def _postgres(
    admin_url: str, leads: int, seed: int, end: datetime, months: int, regenerate: bool, name: str
) -> Made:
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    target = dsn.rsplit("/", 1)[0] + f"/{name}"
    url = target.replace("postgresql://", "postgresql+asyncpg://")
    want = stamp(leads, seed, end, months)
    admin = await asyncpg.connect(dsn)
    try:
        comment = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name
        )
        saved = json.loads(comment) if comment else {}
        lacking = behind_by(saved.get("stamp"), leads, seed, end, months)
        if not regenerate and lacking is not None:
            if lacking:
                print(f"  upgrading the kept history ({lacking} revision(s) behind)", flush=True)
                await _migrate(url)
                db = await asyncpg.connect(target)
                try:
                    await db.execute("VACUUM ANALYZE")  # as autovacuum would have by the time of a report
                finally:
                    await db.close()
                await _label(admin, name, saved | {"stamp": want})
            return Made(url, saved["counts"], saved["generated_s"], reused=True, leads=leads, months=months)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    started = time.monotonic()
    await _migrate(url, LOADED_AT)
    counts: dict[str, int] = {}
    db = await asyncpg.connect(target)
    try:
        indexes = await db.fetch(PG_INDEXES, TABLES)
        for index in indexes:
            await db.execute(f'DROP INDEX "{index["indexname"]}"')
        converters = {table: _converters(table, "postgres") for table in TABLES}
        batches = _batches(leads, seed, end, months, counts)
        # The next batch is generated (in a thread) while the server takes the previous one.
        upcoming = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        while (batch := await upcoming) is not None:
            upcoming = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            for table, rows in batch.items():
                await db.copy_records_to_table(
                    table, records=_records(rows, converters[table]), columns=list(COLUMNS[table])
                )
        print("  indexing and upgrading", flush=True)
        for index in indexes:
            await db.execute(index["indexdef"])
        await _migrate(url)
        print("  vacuuming and analyzing", flush=True)
        for table in (*TABLES, *UPGRADED):
            await db.execute(f"VACUUM ANALYZE {table}")
    finally:
        await db.close()
    made = Made(url, counts, time.monotonic() - started, reused=False, leads=leads, months=months)
    admin = await asyncpg.connect(dsn)
    try:
        await _label(admin, name, {"stamp": want, "counts": counts, "generated_s": made.generated_s})
    finally:
        await admin.close()
    return made


async def _label(admin: asyncpg.Connection, name: str, label: dict[str, Any]) -> None:
    quoted = json.dumps(label).replace("'", "''")
    await admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{quoted}'")
