"""Tables partitioned by day on PostgreSQL: their day partitions, made ahead and dropped whole.

A table declared ``partition_by_day`` (``storage.declare``) is created ``PARTITION BY RANGE``
of its day column with a DEFAULT partition (``storage.postgres.ddl``). Its day partitions are
``<table>_pYYYYMMDD``, each holding one UTC day ``[day, day + 24 h)`` of milliseconds; the
indexes declared on the table are the partitioned table's, so each new partition has them.

- ``create_days``: the partitions of a range of days, those that are missing
  (``CREATE TABLE IF NOT EXISTS ... PARTITION OF ... FOR VALUES FROM (a) TO (b)``). PostgreSQL
  refuses a partition whose rows sit in the DEFAULT partition: such rows move into the new
  partition in the same transaction (deleted from the DEFAULT one into a temporary table, the
  partition created, the rows inserted through the parent).
- ``drop_expired_days``: drops each day partition that ends at or before a bound and all of
  whose rows match the caller's expiry condition; it returns the rows removed, counted before
  the drop, so what a command reports is what went.

Both take the migrations' advisory lock first (``SCHEMA_LOCK``), so two instances (or a
migration and a maintenance pass) never create or drop the same partition at once; then the
table lock their statements need, before any other lock on the table (no lock upgrade to
deadlock on). A table the catalog does not show partitioned (a database created before its
declaration said so) is left as it is: nothing is created, nothing dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marketmem.clock import DAY_MS
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.postgres.ddl import ident
from marketmem.storage.postgres.leases import lock_id

log = logging.getLogger(__name__)

# Days after today whose partitions are made ahead: rows of a new day never wait for a pass.
DAYS_AHEAD = 2
# Held (for the transaction) by every schema change: a migration, a partition made or dropped.
SCHEMA_LOCK = lock_id("marketmem schema migration")
# The temporary table rows of the DEFAULT partition pass through on their way to their day.
MOVING = "marketmem_moving_rows"

_KEY = re.compile(r'^RANGE \("?([^"]+)"?\)$')
_BOUND = re.compile(r"^FOR VALUES FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)$")


def day_start(ms: int) -> int:
    """The start of the UTC day that contains ``ms``."""
    return ms - ms % DAY_MS


def day_name(table: str, day_ms: int) -> str:
    """``<table>_pYYYYMMDD``: the partition of ``table`` holding the UTC day of ``day_ms``."""
    return f"{table}_p{datetime.fromtimestamp(day_ms / 1000, UTC):%Y%m%d}"


@dataclass
class Partitioned:
    """A table partitioned by range of one column, as the catalog shows it."""

    name: str
    column: str
    # Range partitions by their lower bound: (name, upper bound).
    ranges: dict[int, tuple[str, int]] = field(default_factory=dict)
    default: str | None = None

    def has_day(self, day_ms: int) -> bool:
        found = self.ranges.get(day_ms)
        return found is not None and found[1] == day_ms + DAY_MS


def partitioned_tables(conn: PostgresConnection) -> dict[str, Partitioned]:
    """Every table of the schema partitioned by range of one column, with its partitions."""
    rows = conn.execute(
        "SELECT p.relname, pg_get_partkeydef(p.oid), c.relname, pg_get_expr(c.relpartbound, c.oid) "
        "FROM pg_class p JOIN pg_namespace n ON n.oid = p.relnamespace "
        "LEFT JOIN pg_inherits i ON i.inhparent = p.oid "
        "LEFT JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE n.nspname = current_schema() AND p.relkind = 'p' "
        "ORDER BY p.relname, c.relname"
    ).fetchall()
    out: dict[str, Partitioned] = {}
    for table, key, partition, bound in rows:
        column = _KEY.match(key or "")
        if column is None:
            continue  # not partitioned by range of one column: none of ours
        info = out.setdefault(table, Partitioned(table, column.group(1)))
        if partition is None:
            continue
        if bound == "DEFAULT":
            info.default = partition
            continue
        found = _BOUND.match(bound or "")
        if found is not None:
            info.ranges[int(found.group(1))] = (partition, int(found.group(2)))
    return out


def missing_days(
    conn: PostgresConnection, windows: Mapping[str, tuple[int, int]]
) -> dict[str, list[int]]:
    """Per partitioned table of ``windows`` (table: first and last ms), the days of that window
    that have no partition; tables that are not partitioned are left out."""
    tables = partitioned_tables(conn)
    out: dict[str, list[int]] = {}
    for table, (first_ms, last_ms) in windows.items():
        info = tables.get(table)
        if info is None:
            continue
        days = range(day_start(first_ms), day_start(last_ms) + 1, DAY_MS)
        missing = [d for d in days if not info.has_day(d)]
        if missing:
            out[table] = missing
    return out


def _lock_schema(conn: PostgresConnection) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))


def _insertable_columns(conn: PostgresConnection, table: str) -> list[str]:
    """The columns of ``table`` an insert may name (no generated one), in order."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ? AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
        (table,),
    )
    return [r[0] for r in rows]


def create_days(conn: PostgresConnection, table: str, first_ms: int, last_ms: int) -> int:
    """Create the missing day partitions of ``table`` from the day of ``first_ms`` to the day
    of ``last_ms`` (both included), moving into each the rows the DEFAULT partition holds for
    its day; returns how many were created (0 for a table that is not partitioned)."""
    with conn:
        _lock_schema(conn)
        info = partitioned_tables(conn).get(table)
        if info is None:
            return 0
        days = range(day_start(first_ms), day_start(last_ms) + 1, DAY_MS)
        missing = [d for d in days if not info.has_day(d)]
        if not missing:
            return 0
        # Creating a partition takes this lock anyway: taken first, nothing can write a row of
        # the new day into the DEFAULT partition between the move and the creation.
        conn.execute(f"LOCK TABLE {ident(table)} IN ACCESS EXCLUSIVE MODE")
        for day in missing:
            moved = _create_day(conn, info, day)
            if moved:
                log.info("%s: %d row(s) moved from %s", day_name(table, day), moved, info.default)
    return len(missing)


def _create_day(conn: PostgresConnection, info: Partitioned, day: int) -> int:
    """Create the partition of ``day``; returns the rows moved into it from the DEFAULT one."""
    start, end = day, day + DAY_MS  # ints of ours: rendered as literals in the DDL
    create = (
        f"CREATE TABLE IF NOT EXISTS {ident(day_name(info.name, day))} PARTITION OF "
        f"{ident(info.name)} FOR VALUES FROM ({start}) TO ({end})"
    )
    in_day = f"{ident(info.column)} >= {start} AND {ident(info.column)} < {end}"
    waiting = info.default is not None and (
        conn.execute(f"SELECT 1 FROM {ident(info.default)} WHERE {in_day} LIMIT 1").fetchone()
    )
    if not waiting:
        conn.execute(create)
        return 0
    assert info.default is not None
    columns = ", ".join(ident(c) for c in _insertable_columns(conn, info.name))
    conn.execute(
        f"CREATE TEMPORARY TABLE {MOVING} ON COMMIT DROP AS "
        f"WITH moved AS (DELETE FROM {ident(info.default)} WHERE {in_day} RETURNING {columns}) "
        "SELECT * FROM moved"
    )
    conn.execute(create)
    conn.execute(f"INSERT INTO {ident(info.name)} ({columns}) SELECT {columns} FROM {MOVING}")
    moved = conn.changes()
    conn.execute(f"DROP TABLE {MOVING}")
    return moved


def drop_expired_days(
    conn: PostgresConnection, table: str, before_ms: int, where: str, params: Mapping[str, Any]
) -> int:
    """Drop every day partition of ``table`` that ends at or before ``before_ms`` and all of
    whose rows match ``where`` (a condition on the rows as ``c``, with named ``params``: the
    one the caller's chunked delete applies); returns the rows they held."""
    info = partitioned_tables(conn).get(table)
    if info is None or not any(end <= before_ms for _, end in info.ranges.values()):
        return 0
    removed = 0
    with conn:
        _lock_schema(conn)
        # No row may arrive in a partition between its count and its drop; readers go on.
        conn.execute(f"LOCK TABLE {ident(table)} IN SHARE ROW EXCLUSIVE MODE")
        info = partitioned_tables(conn).get(table)
        assert info is not None
        for _, (name, end) in sorted(info.ranges.items()):
            if end > before_ms:
                continue
            # One row the condition does not take keeps the day (a filter in WHERE, so the
            # planner may hash the condition's subqueries; in an aggregate's FILTER it does not).
            kept = conn.execute(
                f"SELECT 1 FROM {ident(name)} AS c WHERE ({where}) IS NOT TRUE LIMIT 1",
                dict(params),
            ).fetchone()
            if kept is not None:
                continue
            counted: Any = conn.execute(f"SELECT count(*) FROM {ident(name)}").fetchone()
            total = int(counted[0])
            conn.execute(f"DROP TABLE {ident(name)}")
            removed += total
            log.info("%s dropped: %d row(s), every one expired", name, total)
    return removed
