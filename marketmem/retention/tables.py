"""The 1-hour candle table, the rollup bookkeeping, and how the writer runs retention commands.

``hyperliquid_candles_1h`` holds one row per coin and hour, rolled up from 1-minute candles.
Which hours need a rollup is recorded in the write path: after the writer upserts a
``CandleBatch``, ``mark_pending_hours`` (an after-write of this area) marks the (hour, coin)
of every 1-minute row in ``hyperliquid_rollup_pending``, inside the same transaction. (Until
schema 3 triggers on ``hyperliquid_candles`` did this; they halved the insert rate.) A rollup recomputes the hour from the minutes stored at that moment and
clears the mark in one transaction, so a minute committed later marks the hour again: late
minutes are never missed, and finding them costs a seek into a small table, not a scan.
An index this area adds to ``hyperliquid_candles (open_time_ms)`` lets expiry seek by time
across coins. (The hours of minutes a database of an early release stored before hours were
marked are marked once by the storage, ``storage.sqlite.upgrades``.)

The write functions run the commands of ``marketmem.events`` (``# --- retention ---``) inside
the storage writer's transaction; each one is bounded by its ``limit`` and returns rows
changed per table. This module owns the declarations, which write function runs which event,
what a rollup decides (``rollup.aggregate_hour``, ``rollup.keeps_stored_hour``, the count of
hours kept) and the check of table names in commands against ``RETAINED_TABLES`` before they
reach the storage; the SQL they run is the storage's (``storage.retention``, the write
primitives of this area, and ``storage.reads.retention``).

Where the storage keeps days apart (``storage.partitions``: PostgreSQL's day partitions of
the minutes and the mids), ``PrepareDays`` makes days ready ahead of their rows, and an expiry
first removes each whole day every row of which is expired under the very condition its
chunked delete applies, then deletes the rest in chunks; the rows of a dropped day are counted
with the deleted ones. On SQLite both are no-ops and the chunked deletes do everything.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from marketmem import metrics
from marketmem.clock import HOUR_MS
from marketmem.events import (
    CandleBatch,
    ExpireMinutes,
    ExpireRows,
    PendingHour,
    PrepareDays,
    ReclaimSpace,
    RollupHours,
)
from marketmem.retention.policy import (
    HOURS_TABLE,
    MINUTES_TABLE,
    PENDING_TABLE,
    RETAINED_BY_NAME,
)
from marketmem.retention.rollup import MinuteBar, aggregate_hour, keeps_stored_hour
from marketmem.source import Tables
from marketmem.storage import catalog, partitions
from marketmem.storage import retention as retention_writes
from marketmem.storage.declare import INT, REAL, TEXT, Column, Index, Table
from marketmem.storage.engine import Connection
from marketmem.storage.reads.retention import minutes_between
from marketmem.storage.tables import AfterWrite, Upsert

log = logging.getLogger(__name__)

HOURS_KEPT = metrics.REGISTRY.counter(
    "marketmem_rollup_hours_kept_total",
    "Late minutes that could not correct their hour: its other minutes had expired",
)

HOURS = Table(
    HOURS_TABLE,
    (
        Column("coin", TEXT),
        Column("open_time_ms", INT),
        Column("close_time_ms", INT),
        Column("open", REAL),
        Column("high", REAL),
        Column("low", REAL),
        Column("close", REAL),
        Column("volume", REAL),
        Column("trades", INT),
        Column("minute_count", INT),
        Column("rolled_up_at_ms", INT),
    ),
    primary_key=("coin", "open_time_ms"),
    indexes=(Index(f"{HOURS_TABLE}_by_open_time", ("open_time_ms",)),),
)
PENDING = Table(
    PENDING_TABLE, (Column("hour_ms", INT), Column("coin", TEXT)), primary_key=("hour_ms", "coin")
)
UPSERT_HOUR = retention_writes.HourUpsert(HOURS)
# Expiring minutes seeks by time across coins.
MINUTES_BY_OPEN_TIME = Index(f"{MINUTES_TABLE}_by_open_time", ("open_time_ms",))


def rollup_hours(conn: Connection, ev: RollupHours) -> dict[str, int]:
    hours = retention_writes.pending_hours(conn, ev.through_ms, ev.limit)
    written = kept = 0
    for hour_ms, coin in hours:
        retention_writes.clear_pending(conn, hour_ms, coin)
        if hour_ms < ev.hours_before_ms:
            continue  # past 1-hour retention: its row would be expired at once
        minutes = minutes_between(conn, coin, hour_ms, hour_ms + HOUR_MS)
        bar = aggregate_hour(
            coin,
            hour_ms,
            [
                MinuteBar(m.open_time_ms, m.open, m.high, m.low, m.close, m.volume, m.trades)
                for m in minutes
            ],
        )
        if bar is None:
            continue
        stored = retention_writes.stored_minute_count(conn, coin, hour_ms)
        if keeps_stored_hour(hour_ms, stored, bar.minute_count, ev.minutes_before_ms):
            kept += 1
            continue
        # HourBar's fields are the hour table's columns in order, without rolled_up_at_ms.
        written += UPSERT_HOUR.write(conn, dataclasses.astuple(bar), ev.rolled_up_at_ms)
    if kept:
        HOURS_KEPT.inc(kept)
        log.warning(
            "%d hour(s) kept as they were: late minutes arrived after the hour's other "
            "minutes had expired",
            kept,
        )
    return {HOURS_TABLE: written, PENDING_TABLE: len(hours)}


def expire_minutes(conn: Connection, ev: ExpireMinutes) -> dict[str, int]:
    n = retention_writes.expire_minutes(conn, ev.before_ms, ev.hours_before_ms, ev.limit)
    return {MINUTES_TABLE: n}


def expire_rows(conn: Connection, ev: ExpireRows) -> dict[str, int]:
    spec = RETAINED_BY_NAME.get(ev.table)
    if spec is None:
        raise ValueError(f"{ev.table!r} is not a retained table (see RETAINED_TABLES)")
    if not catalog.has_table(conn, spec.table):
        return {spec.table: 0}
    n = retention_writes.expire_rows(conn, spec.table, spec.time_column, ev.before_ms, ev.limit)
    return {spec.table: n}


def prepare_days(conn: Connection, ev: PrepareDays) -> dict[str, int]:
    """No row changes: days are made ready (rows moved between partitions are not counted)."""
    if ev.table != MINUTES_TABLE and ev.table not in RETAINED_BY_NAME:
        raise ValueError(f"{ev.table!r} is not a retained table (see RETAINED_TABLES)")
    partitions.prepare_days(conn, ev.table, ev.first_day_ms, ev.last_day_ms)
    return {}


def reclaim_space(conn: Connection, ev: ReclaimSpace) -> dict[str, int]:
    """SQLite: hand ``ev.pages`` free pages back to the file system; PostgreSQL: nothing
    (``storage.retention.reclaim_space``)."""
    retention_writes.reclaim_space(conn, ev.pages)
    return {}


# INSERT ... ON CONFLICT (hour_ms, coin) DO NOTHING: a mark already there stays. An upsert,
# so a large batch's marks take the storage's fast path on PostgreSQL as its rows do.
MARKS = Upsert(PENDING_TABLE, PendingHour, key=("hour_ms", "coin"))


def mark_pending_hours(conn: Connection, events: Sequence[Any]) -> None:
    """Mark the (hour, coin) of every 1-minute row of ``events`` for a rollup."""
    hours = {
        (row.open_time_ms - row.open_time_ms % HOUR_MS, row.coin)
        for event in events
        for row in event.rows
        if row.interval == "1m"
    }
    if hours:
        MARKS.write(conn, [PendingHour(hour_ms=h, coin=c) for h, c in sorted(hours)])


AFTER_WRITES: dict[type, AfterWrite] = {CandleBatch: mark_pending_hours}

WRITERS: dict[type, Any] = {
    PrepareDays: prepare_days,
    RollupHours: rollup_hours,
    ExpireMinutes: expire_minutes,
    ExpireRows: expire_rows,
    ReclaimSpace: reclaim_space,
}
TABLES = Tables(
    (HOURS, PENDING),
    WRITERS,
    (MARKS,),
    after_writes=AFTER_WRITES,
    indexes={MINUTES_TABLE: (MINUTES_BY_OPEN_TIME,)},
)
