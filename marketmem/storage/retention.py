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

from typing import Any

from marketmem.storage import partitions
from marketmem.storage.engine import Connection, dialect_of
from marketmem.storage.reads.retention import HOURS_TABLE, MINUTES_TABLE, PENDING_TABLE

HOUR_MS = 3_600_000

# The columns of the 1-hour table, in the order the retention area declares them.
HOUR_COLUMNS = (
    "coin",
    "open_time_ms",
    "close_time_ms",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trades",
    "minute_count",
    "rolled_up_at_ms",
)
_VALUE_COLUMNS = HOUR_COLUMNS[2:-1]

# A rollup that reproduces the stored hour changes nothing, not even rolled_up_at_ms.
_UPSERT_HOUR = (
    f"INSERT INTO {HOURS_TABLE} ({', '.join(HOUR_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in HOUR_COLUMNS)}) "
    "ON CONFLICT (coin, open_time_ms) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in (*_VALUE_COLUMNS, "rolled_up_at_ms"))
    + f" WHERE ({', '.join(f'{HOURS_TABLE}.{c}' for c in _VALUE_COLUMNS)}) "
    f"IS DISTINCT FROM ({', '.join('excluded.' + c for c in _VALUE_COLUMNS)})"
)


# An hour row without ``rolled_up_at_ms``: the values of HOUR_COLUMNS[:-1], in that order.
HourValues = tuple[str, int, int, float, float, float, float, float, int, int]


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


def upsert_hour(conn: Connection, hour: HourValues, rolled_up_at_ms: int) -> int:
    """Store ``hour``; returns the rows changed (0 when it reproduces the stored row)."""
    conn.execute(_UPSERT_HOUR, (*hour, rolled_up_at_ms))
    return conn.changes()


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
