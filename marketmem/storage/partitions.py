"""Days kept apart, whatever the engine: tables declared ``partition_by_day``.

Retention removes old rows of such a table a day at a time where the engine can:

- PostgreSQL keeps each UTC day of the table in a partition of its own
  (``storage.postgres.partitions``): the days of a window are made ahead of their rows, and a
  day all of whose rows are expired is dropped whole instead of deleted row by row.
- SQLite keeps the table whole (its rendering ignores the declaration): there is nothing to
  prepare and no day to drop; its chunked deletes do all the work, as before.

The retention area calls these from its write functions, inside the storage writer's
transaction; ``missing_days`` is the read its maintenance pass probes with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marketmem.clock import DAY_MS
from marketmem.storage.engine import Connection
from marketmem.storage.postgres import partitions as postgres
from marketmem.storage.postgres.connection import PostgresConnection

DAYS_AHEAD = postgres.DAYS_AHEAD  # days after today made ahead

day_start = postgres.day_start


def window(from_ms: int, now_ms: int) -> tuple[int, int]:
    """The days to keep ready at ``now_ms``: from the day of ``from_ms`` (the oldest retained
    row) to ``DAYS_AHEAD`` days after today, as (first, last) day starts."""
    return day_start(from_ms), day_start(now_ms) + DAYS_AHEAD * DAY_MS


def missing_days(
    conn: Connection, from_by_table: Mapping[str, int], now_ms: int
) -> dict[str, list[int]]:
    """Per table (with the time its oldest retained row may have) that is partitioned by day,
    the day starts of its ``window`` that have no partition yet; empty on SQLite."""
    if not isinstance(conn, PostgresConnection):
        return {}
    windows = {table: window(from_ms, now_ms) for table, from_ms in from_by_table.items()}
    return postgres.missing_days(conn, windows)


def prepare_days(conn: Connection, table: str, first_ms: int, last_ms: int) -> int:
    """Make the days of ``table`` from the day of ``first_ms`` to that of ``last_ms`` ready for
    their rows; returns how many partitions were created (SQLite: none)."""
    if not isinstance(conn, PostgresConnection):
        return 0
    return postgres.create_days(conn, table, first_ms, last_ms)


def drop_expired_days(
    conn: Connection, table: str, before_ms: int, where: str, params: Mapping[str, Any]
) -> int:
    """Remove whole days of ``table`` that end at or before ``before_ms`` and whose every row
    matches ``where`` (the expiry condition of the caller's chunked delete, on rows as ``c``);
    returns the rows removed (SQLite: none, nothing is removed)."""
    if not isinstance(conn, PostgresConnection):
        return 0
    return postgres.drop_expired_days(conn, table, before_ms, where, params)
