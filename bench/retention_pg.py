"""Benchmark of expiring a day of 1-minute candles on PostgreSQL: partition drop vs chunked deletes.

Fills a database with 2 days of 1-minute candles for 230 coins (through the real write
function and its rollup marks), rolls every hour up (the real ``RollupHours``), and keeps it as
a template. Each run copies the template (``CREATE DATABASE ... TEMPLATE``) and times expiring
the first day, as the storage writer runs it (one transaction per command, commands until one
removes fewer rows than the chunk):

- ``drop``: ``ExpireMinutes`` as the service sends it: the day's partition is dropped whole
  (its rows counted first), then a chunk of the rest finds nothing;
- ``chunks``: the same table, the day removed by chunked deletes only (the existing
  ``retention_chunk_rows``), the partition left empty; then the ``VACUUM`` of the table that
  makes the deleted rows' space reusable (autovacuum's work, timed apart);
- ``plain``: chunked deletes on a table that is not partitioned (the layout before issue 16),
  then its ``VACUUM``.

Usage: .venv/bin/python -m bench.retention_pg [--db URL] [--coins 230] [--runs 3]
       [--chunk-rows 5000] [--no-jit]

PostgreSQL's JIT (on by default since 11) compiles a statement whose estimated cost passes
``jit_above_cost``; the chunked deletes of a backlog on the partitioned table pass even
``jit_optimize_above_cost`` and pay for it in every chunk. ``--no-jit`` turns it off for the
expiring session, to tell that cost from the deletes'.

``--db`` (or MARKETMEM_TEST_PG_URL) names a server and a role that may create databases; the
bench creates its own databases there and drops them at the end. Without either it starts a
throwaway cluster (``bin/pg-cluster``, on 127.0.0.1) and stops it at the end; that cluster is
tuned for tests (fsync, synchronous_commit and full_page_writes off).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from marketmem.clock import HOUR_MS
from marketmem.events import CandleBatch, ExpireMinutes, RollupHours
from marketmem.plugins import SOURCES
from marketmem.retention import tables as retention_tables
from marketmem.retention.actor import PassSettings
from marketmem.sources.hyperliquid.tables import CANDLE_TABLE
from marketmem.storage import partitions, schema
from marketmem.storage import retention as retention_writes
from marketmem.storage.postgres import ddl
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.postgres.partitions import day_name

from .maintenance import coins, minute_rows

ROOT = Path(__file__).resolve().parent.parent
DAY_MS = 24 * HOUR_MS
START_MS = 1_795_564_800_000  # 2026-11-25T00:00:00Z, a day boundary
NOW_MS = START_MS + 2 * DAY_MS  # every minute of the first day is past 24 h retention
BATCH_ROWS = 10_000
MINUTES = CANDLE_TABLE.name
LAYOUT = {
    True: " (its partition kept)",
    False: " (its partition dropped)",
    None: " (no partitions)",
}


def database_url(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def admin(url: str, statement: sql.Composable) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE; autovacuum (after the mass deletes) is not ours to end with FORCE, but
    a plain DROP cancels it: retried for a few seconds."""
    for attempt in range(40):
        try:
            admin(admin_url, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 39:
                raise
            time.sleep(0.25)


def fill(url: str, names: list[str]) -> tuple[int, float]:
    """Migrate, make the two days, write their minutes and roll every hour up."""
    conn = PostgresConnection.open(url)
    try:
        schema.migrate(conn, SOURCES)
        with conn:
            partitions.prepare_days(conn, MINUTES, START_MS, NOW_MS)
        writers, after = schema.writers(SOURCES), schema.after_writes(SOURCES)
        t0 = time.perf_counter()
        written = 0
        for hour in range(START_MS, NOW_MS, HOUR_MS):
            rows = minute_rows(names, hour, hour + HOUR_MS)
            for i in range(0, len(rows), BATCH_ROWS):
                event = CandleBatch(rows=rows[i : i + BATCH_ROWS])
                with conn:
                    written += writers[CandleBatch](conn, event)[MINUTES]
                    for fn in after.get(CandleBatch, ()):
                        fn(conn, [event])
        while True:
            with conn:
                result = retention_tables.rollup_hours(
                    conn,
                    RollupHours(
                        through_ms=NOW_MS - HOUR_MS,
                        minutes_before_ms=NOW_MS - DAY_MS,
                        hours_before_ms=NOW_MS - 7 * DAY_MS,
                        rolled_up_at_ms=NOW_MS,
                        limit=500,
                    ),
                )
            if result["hyperliquid_rollup_pending"] < 500:
                break
        conn.execute("VACUUM ANALYZE")
        return written, time.perf_counter() - t0
    finally:
        conn.close()


def unpartition(url: str) -> None:
    """The minutes table as it was before issue 16: one plain table, same rows and indexes."""
    conn = PostgresConnection.open(url)
    try:
        plain = replace(CANDLE_TABLE, partition_by_day=None)
        with conn:
            conn.execute(f"CREATE TABLE bench_rows AS SELECT * FROM {MINUTES}")
            conn.execute(f"DROP TABLE {MINUTES}")
            for stmt in ddl.table_statements(plain):
                conn.execute(stmt)
            conn.execute(ddl.create_index(MINUTES, retention_tables.MINUTES_BY_OPEN_TIME))
            conn.execute(f"INSERT INTO {MINUTES} SELECT * FROM bench_rows")
            conn.execute("DROP TABLE bench_rows")
        conn.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def expire_by_commands(conn: PostgresConnection, limit: int) -> int:
    """The day expired as the service does it: ExpireMinutes until a short chunk."""
    event = ExpireMinutes(
        before_ms=NOW_MS - DAY_MS, hours_before_ms=NOW_MS - 7 * DAY_MS, limit=limit
    )
    total = 0
    while True:
        with conn:
            n = retention_tables.expire_minutes(conn, event)[MINUTES]
        total += n
        if n < limit:
            return total


def expire_by_chunks(conn: PostgresConnection, limit: int) -> int:
    """The same rule, chunked deletes only (no partition is dropped)."""
    params = {"before": NOW_MS - DAY_MS, "hours_before": NOW_MS - 7 * DAY_MS}
    total = 0
    while True:
        with conn:
            n = retention_writes._delete_chunk(
                conn, MINUTES, "open_time_ms", retention_writes._MINUTE_EXPIRED, params, limit
            )
        total += n
        if n < limit:
            return total


@contextmanager
def copy_of(admin_url: str, template: str) -> Iterator[PostgresConnection]:
    name = f"bench_run_{secrets.token_hex(4)}"
    admin(
        admin_url,
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        ),
    )
    conn = PostgresConnection.open(database_url(admin_url, name))
    try:
        yield conn
    finally:
        conn.close()
        drop_database(admin_url, name)


def timed_run(
    admin_url: str,
    template: str,
    expire: Callable[[PostgresConnection, int], int],
    limit: int,
    jit: bool,
) -> tuple[float, float, int, bool | None]:
    """(expiry seconds, VACUUM seconds, rows removed, whether the first day's partition is
    still there: None for a table that is not partitioned)."""
    with copy_of(admin_url, template) as conn:
        if not jit:
            conn.execute("SET jit = off")
        t0 = time.perf_counter()
        removed = expire(conn, limit)
        expired_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute(f"VACUUM {MINUTES}")
        vacuum_s = time.perf_counter() - t0
        row = conn.execute("SELECT to_regclass(?) IS NOT NULL", (day_name(MINUTES, START_MS),))
        kept = bool(row.fetchone()[0])
        partitioned = conn.execute(
            "SELECT relkind = 'p' FROM pg_class WHERE relname = ?", (MINUTES,)
        ).fetchone()[0]
    return expired_s, vacuum_s, removed, kept if partitioned else None


def bench(admin_url: str, args: argparse.Namespace) -> None:
    names = coins(args.coins)
    tag = secrets.token_hex(4)
    templates = {"partitioned": f"bench_tpl_{tag}", "plain": f"bench_plain_{tag}"}
    try:
        for name in templates.values():
            admin(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        t0 = time.perf_counter()
        written, _ = fill(database_url(admin_url, templates["partitioned"]), names)
        print(
            f"{args.coins} coins, 2 days of 1-minute candles: {written} rows written and every "
            f"hour rolled up in {time.perf_counter() - t0:.1f} s; chunk {args.chunk_rows} rows; "
            f"JIT {'off' if args.no_jit else 'as the server says'}",
            flush=True,
        )
        admin(admin_url, sql.SQL("DROP DATABASE {}").format(sql.Identifier(templates["plain"])))
        admin(
            admin_url,
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(templates["plain"]), sql.Identifier(templates["partitioned"])
            ),
        )
        unpartition(database_url(admin_url, templates["plain"]))

        variants = {
            "drop": (templates["partitioned"], expire_by_commands),
            "chunks": (templates["partitioned"], expire_by_chunks),
            "plain": (templates["plain"], expire_by_chunks),
        }
        results: dict[str, list[tuple[float, float, int, bool | None]]] = {v: [] for v in variants}
        for run in range(args.runs):
            for label, (template, expire) in variants.items():
                r = timed_run(admin_url, template, expire, args.chunk_rows, not args.no_jit)
                results[label].append(r)
                print(
                    f"run {run + 1} {label}: {r[0] * 1000:.0f} ms to expire {r[2]} rows"
                    f"{LAYOUT[r[3]]}; "
                    f"VACUUM after {r[1] * 1000:.0f} ms",
                    flush=True,
                )
        print("medians:")
        for label, rs in results.items():
            expire_ms = statistics.median(r[0] for r in rs) * 1000
            vacuum_ms = statistics.median(r[1] for r in rs) * 1000
            print(
                f"  {label:6}  expire {expire_ms:8.0f} ms   VACUUM {vacuum_ms:6.0f} ms   "
                f"total {expire_ms + vacuum_ms:8.0f} ms   ({rs[0][2]} rows, {len(rs)} runs)"
            )
    finally:
        for name in templates.values():
            drop_database(admin_url, name)


@contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    folder = tempfile.mkdtemp(prefix="marketmem-bench-pg.")
    cluster = str(ROOT / "bin" / "pg-cluster")
    started = subprocess.run(
        [sys.executable, cluster, "start", folder], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        raise SystemExit(f"no PostgreSQL for the bench: {started.stderr.strip()}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([sys.executable, cluster, "stop", folder], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="a server URL whose role may create databases")
    parser.add_argument("--coins", type=int, default=230)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=PassSettings().chunk_rows)
    parser.add_argument(
        "--no-jit", action="store_true", help="SET jit = off on the expiring session"
    )
    args = parser.parse_args()
    with server(args.db or os.environ.get("MARKETMEM_TEST_PG_URL")) as url:
        bench(url, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
