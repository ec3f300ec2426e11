"""Read-only queries of the retention area: the forming hour, and the probes of a pass.

``current_hour_candle`` aggregates the hour in progress from its 1-minute rows (what the
latest-data API shows next to the rolled-up hours). The probes let a maintenance pass skip
commands that would find nothing: each is a seek on an index, whatever the table size.
All functions take an open connection (read-only in the service).
"""

from __future__ import annotations

from typing import Any

import apsw

from marketmem.retention.policy import MINUTES_TABLE, PENDING_TABLE
from marketmem.retention.rollup import HOUR_MS, MinuteBar, aggregate_hour, hour_start


def current_hour_candle(conn: apsw.Connection, coin: str, now_ms: int) -> dict[str, Any] | None:
    """The hour containing ``now_ms`` so far, from its 1-minute candles; None without any.

    Keys are those of ``hyperliquid_candles_1h`` without ``rolled_up_at_ms``, plus
    ``updated_at_ms`` (the latest update of its minutes).
    """
    start = hour_start(now_ms)
    rows: list[Any] = conn.execute(
        "SELECT open_time_ms, open, high, low, close, volume, trades, updated_at_ms "
        f"FROM {MINUTES_TABLE} WHERE coin = ? AND interval = '1m' "
        "AND open_time_ms >= ? AND open_time_ms < ?",
        (coin, start, start + HOUR_MS),
    ).fetchall()
    bar = aggregate_hour(coin, start, (MinuteBar(*r[:7]) for r in rows))
    if bar is None:
        return None
    return {
        "coin": bar.coin,
        "open_time_ms": bar.open_time_ms,
        "close_time_ms": bar.close_time_ms,
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
        "trades": bar.trades,
        "minute_count": bar.minute_count,
        "updated_at_ms": max(r[7] for r in rows),
    }


def existing_tables(conn: apsw.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def oldest(conn: apsw.Connection, table: str, column: str) -> int | None:
    """The smallest ``column`` of ``table`` (names from the retention declarations only)."""
    row: Any = conn.execute(f"SELECT min({column}) FROM {table}").fetchone()
    return None if row is None else row[0]


def oldest_minute(conn: apsw.Connection) -> int | None:
    return oldest(conn, MINUTES_TABLE, "open_time_ms")


def has_pending_hours(conn: apsw.Connection, through_ms: int) -> bool:
    """Whether an hour starting at or before ``through_ms`` is waiting for a rollup."""
    row = conn.execute(
        f"SELECT 1 FROM {PENDING_TABLE} WHERE hour_ms <= ? LIMIT 1", (through_ms,)
    ).fetchone()
    return row is not None


def free_pages(conn: apsw.Connection) -> int:
    row: Any = conn.execute("PRAGMA freelist_count").fetchone()
    return int(row[0])


def file_pages(conn: apsw.Connection) -> tuple[int, int]:
    """(pages in the database, bytes per page)."""
    count: Any = conn.execute("PRAGMA page_count").fetchone()
    size: Any = conn.execute("PRAGMA page_size").fetchone()
    return int(count[0]), int(size[0])
