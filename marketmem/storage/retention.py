"""Write primitives of the retention area: the SQL of its rollup and expiry commands.

``marketmem.retention.tables`` decides what a command does (which hours to roll up, what an
hour is from its minutes, whether a stored hour is kept, which tables may be expired) and
runs these primitives inside the storage writer's transaction; the statements themselves are
here, next to the area's reads (``storage.reads.retention``, which names its tables), so that
no SQL is written outside the storage. Each primitive does one job and is written for SQLite
and PostgreSQL alike; a table name a caller passes must already be checked against the
retention declarations (``RETAINED_TABLES``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marketmem.clock import HOUR_MS
from marketmem.storage import partitions
from marketmem.storage.declare import Table
from marketmem.storage.engine import Connection, dialect_of
from marketmem.storage.reads.retention import HOURS_TABLE, MINUTES_TABLE, PENDING_TABLE


class HourUpsert:
    """The upsert of a rolled-up hour into ``table`` (its declaration: columns in order, key
    ``(coin, open_time_ms)``), whose last column, ``stamp``, says when it was rolled up. A
    row that reproduces the stored hour changes nothing, not even the stamp."""

    def __init__(self, table: Table, stamp: str = "rolled_up_at_ms") -> None:
        names = [c.name for c in table.columns]
        if names[-1] != stamp:
            raise ValueError(f"{table.name}: the last column must be {stamp!r}, not {names[-1]!r}")
        values = [c for c in names if c not in table.primary_key and c != stamp]
        self.sql = (
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT ({', '.join(table.primary_key)}) DO UPDATE SET "
            + ", ".join(f"{c}=excluded.{c}" for c in (*values, stamp))
            + f" WHERE ({', '.join(f'{table.name}.{c}' for c in values)}) "
            f"IS DISTINCT FROM ({', '.join('excluded.' + c for c in values)})"
        )

    def write(self, conn: Connection, hour: Sequence[Any], stamp_ms: int) -> int:
        """Store ``hour`` (the values of every column but the stamp, in order); returns the
        rows changed (0 when it reproduces the stored row)."""
        conn.execute(self.sql, (*hour, stamp_ms))
        return conn.changes()


def pending_hours(conn: Connection, through_ms: int, limit: int) -> list[tuple[int, str]]:
    """The oldest ``limit`` (hour_ms, coin) marks of hours starting at or before ``through_ms``."""
    hours: list[Any] = conn.execute(
        f"SELECT hour_ms, coin FROM {PENDING_TABLE} WHERE hour_ms <= ? "
        "ORDER BY hour_ms, coin LIMIT ?",
        (through_ms, limit),
    ).fetchall()
    return hours


def clear_pending(conn: Connection, hour_ms: int, coin: str) -> None:
    """Remove the rollup mark of ``coin``'s hour ``hour_ms``."""
    conn.execute(f"DELETE FROM {PENDING_TABLE} WHERE hour_ms = ? AND coin = ?", (hour_ms, coin))


def stored_minute_count(conn: Connection, coin: str, hour_ms: int) -> int | None:
    """How many minutes the stored hour row was built from; None without a row."""
    row = conn.execute(
        f"SELECT minute_count FROM {HOURS_TABLE} WHERE coin = ? AND open_time_ms = ?",
        (coin, hour_ms),
    ).fetchone()
    count: int | None = row[0] if row else None
    return count


_HOUR_OF_C = f"c.open_time_ms - c.open_time_ms % {HOUR_MS}"

# A minute may go once its hour row exists and no rollup of that hour is waiting, or when its
# hour starts before the 1-hour retention boundary (such hours are not rolled up any more).
_MINUTE_EXPIRED = f"""
    c.interval = '1m' AND c.open_time_ms < :before AND (
        {_HOUR_OF_C} < :hours_before
        OR (
            EXISTS (SELECT 1 FROM {HOURS_TABLE} h
                    WHERE h.coin = c.coin AND h.open_time_ms = {_HOUR_OF_C})
            AND NOT EXISTS (SELECT 1 FROM {PENDING_TABLE} p
                            WHERE p.hour_ms = {_HOUR_OF_C} AND p.coin = c.coin)
        )
    )
"""


def _delete_chunk(
    conn: Connection, table: str, column: str, where: str, params: dict[str, Any], limit: int
) -> int:
    """Delete the oldest ``limit`` rows matching ``where`` (plus rows sharing the last time)."""
    bound = conn.execute(
        f"SELECT c.{column} FROM {table} AS c WHERE {where} "
        f"ORDER BY c.{column} LIMIT 1 OFFSET :skip",
        {**params, "skip": max(0, limit - 1)},
    ).fetchone()
    if bound is None:
        conn.execute(f"DELETE FROM {table} AS c WHERE {where}", params)
    else:
        conn.execute(
            f"DELETE FROM {table} AS c WHERE {where} AND c.{column} <= :bound",
            {**params, "bound": bound[0]},
        )
    return conn.changes()


def _expire(
    conn: Connection, table: str, column: str, where: str, params: dict[str, Any], limit: int
) -> int:
    """Whole expired days first (where the storage keeps days apart), then a chunk."""
    n = partitions.drop_expired_days(conn, table, params["before"], where, params)
    return n + _delete_chunk(conn, table, column, where, params, limit)


def expire_minutes(conn: Connection, before_ms: int, hours_before_ms: int, limit: int) -> int:
    """Delete expired 1-minute candles (about ``limit``, plus whole days); returns how many.

    A minute before ``before_ms`` is expired once its hour is rolled up and not waiting for
    another rollup, or when its hour starts before ``hours_before_ms``."""
    params = {"before": before_ms, "hours_before": hours_before_ms}
    return _expire(conn, MINUTES_TABLE, "open_time_ms", _MINUTE_EXPIRED, params, limit)


def expire_rows(conn: Connection, table: str, time_column: str, before_ms: int, limit: int) -> int:
    """Delete rows of ``table`` whose ``time_column`` is before ``before_ms`` (about ``limit``,
    plus whole days); returns how many. ``table`` and ``time_column`` are a checked
    ``RetainedTable``'s."""
    where = f"c.{time_column} < :before"
    return _expire(conn, table, time_column, where, {"before": before_ms}, limit)


def reclaim_space(conn: Connection, pages: int) -> None:
    """SQLite: hand ``pages`` free pages back to the file system. PostgreSQL: nothing, its
    autovacuum makes deleted rows' space reusable (VACUUM cannot run in a transaction)."""
    if dialect_of(conn) != "sqlite":
        return
    # Each step of the pragma moves pages; the cursor must be run to its end.
    for _ in conn.execute(f"PRAGMA incremental_vacuum({int(pages)})"):
        pass
