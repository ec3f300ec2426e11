"""Reads of the retention area: the minutes of the hour in progress, and the probes a
maintenance pass makes to skip commands that would find nothing (each a seek on an index,
whatever the table size).
"""

from __future__ import annotations

from marketmem.storage import catalog, partitions
from marketmem.storage.models.retention import HourMinute
from marketmem.storage.reads import Connection, columns, fetch, scalar
from marketmem.storage.reads.hyperliquid import CANDLES_1H, CANDLES_1M, MIDS

MINUTES_TABLE = CANDLES_1M
HOURS_TABLE = CANDLES_1H
MIDS_TABLE = MIDS
PENDING_TABLE = "hyperliquid_rollup_pending"

existing_tables = catalog.tables
free_pages = catalog.free_pages
file_pages = catalog.file_pages
# Per table partitioned by day, the days of its window without a partition (PostgreSQL's
# catalog; always empty on SQLite).
missing_days = partitions.missing_days


def minutes_between(conn: Connection, coin: str, start_ms: int, end_ms: int) -> list[HourMinute]:
    """The stored 1-minute bars of ``coin`` opened in [start_ms, end_ms)."""
    return fetch(
        conn,
        HourMinute,
        f"SELECT {columns(HourMinute)} FROM {MINUTES_TABLE} WHERE coin = ? AND interval = '1m' "
        "AND open_time_ms >= ? AND open_time_ms < ?",
        (coin, start_ms, end_ms),
    )


def oldest(conn: Connection, table: str, column: str) -> int | None:
    """The smallest ``column`` of ``table`` (names from the retention declarations only)."""
    value: int | None = scalar(conn, f"SELECT min({column}) FROM {table}")
    return value


def oldest_minute(conn: Connection) -> int | None:
    return oldest(conn, MINUTES_TABLE, "open_time_ms")


def has_pending_hours(conn: Connection, through_ms: int) -> bool:
    """Whether an hour starting at or before ``through_ms`` is waiting for a rollup."""
    found = scalar(conn, f"SELECT 1 FROM {PENDING_TABLE} WHERE hour_ms <= ? LIMIT 1", (through_ms,))
    return found is not None
