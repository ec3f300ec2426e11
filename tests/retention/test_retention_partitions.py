"""Days kept apart: PostgreSQL's day partitions of the minutes and the mids (issue 16).

Partitions are made ahead (at start and by every pass), rows land in their day's partition
(or wait in the DEFAULT one, and move when their day is made), a day goes whole only when every
row in it is expired under the rule the chunked delete applies, the rows it held are counted
like deleted ones, a second start changes nothing, and both engines roll the same minutes up
into the same hours. The SQLite side of the same calls does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from retention_helpers import H0, Store, minute

from marketmem.clock import HOUR_MS, MINUTE_MS, TrioWallClock
from marketmem.config import Config
from marketmem.events import (
    CandleBatch,
    ExpireMinutes,
    ExpireRows,
    MidBatch,
    MidPrice,
    PrepareDays,
    ReclaimSpace,
    RollupHours,
)
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.retention.actor import Maintainer, PassSettings
from marketmem.retention.policy import RetentionPolicy, boundaries
from marketmem.runs import execute_run
from marketmem.sources.hyperliquid.tables import MID_TABLE
from marketmem.storage import engine as storage_engine
from marketmem.storage import partitions
from marketmem.storage.postgres import ddl
from marketmem.storage.postgres.partitions import day_name

DAY_MS = 24 * HOUR_MS
CANDLES = "hyperliquid_candles"
MIDS = "hyperliquid_mid_prices"
COINS = ("BTC", "ETH", "SOL")


@pytest.fixture
def pg_store(pg_database: str) -> Iterator[Store]:
    s = Store(pg_database)
    try:
        yield s
    finally:
        s.close()


def day_partitions(store: Store, table: str) -> dict[str, tuple[int, int]]:
    """The range partitions of ``table``: name -> (from, to)."""
    rows = store.rows(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ?::regclass",
        (table,),
    )
    out = {}
    for name, bound in rows:
        if bound != "DEFAULT":
            low, high = (
                bound.removeprefix("FOR VALUES FROM ('").removesuffix("')").split("') TO ('")
            )
            out[name] = (int(low), int(high))
    return out


def days_of(store: Store, table: str) -> set[int]:
    return {low for low, _ in day_partitions(store, table).values()}


def where_rows_are(store: Store, table: str, column: str) -> dict[int, str]:
    return dict(store.rows(f"SELECT {column}, tableoid::regclass::text FROM {table}"))


def every_ten_minutes(first_ms: int, hours: int, coins: tuple[str, ...] = COINS) -> list[Any]:
    return [
        minute(coin, first_ms + m * 10 * MINUTE_MS, c=float(m))
        for m in range(hours * 6)
        for coin in coins
    ]


def rollup(store: Store, now_ms: int) -> None:
    b = boundaries(RetentionPolicy(), now_ms)
    while True:
        result = store.apply(
            RollupHours(
                through_ms=b.rollup_through_ms,
                minutes_before_ms=b.minutes_before_ms,
                hours_before_ms=b.hours_before_ms,
                rolled_up_at_ms=now_ms,
                limit=500,
            )
        )
        if result["hyperliquid_rollup_pending"] < 500:
            return


def prepare(table: str, first_ms: int, last_ms: int) -> PrepareDays:
    return PrepareDays(table=table, first_day_ms=first_ms, last_day_ms=last_ms)


def count(store: Store, table: str) -> int:
    return int(store.rows(f"SELECT count(*) FROM {table}")[0][0])


# --- made ahead ------------------------------------------------------------------------------


def test_a_start_makes_the_days_from_yesterday_to_two_days_ahead(pg_store: Store) -> None:
    after = int(time.time() * 1000)
    for table in (CANDLES, MIDS):
        days = days_of(pg_store, table)
        today = partitions.day_start(after)
        assert {today - DAY_MS, today, today + DAY_MS, today + 2 * DAY_MS} <= days
        assert len(days) in (4, 5)  # 5 only when the day turned during the test
        for name, (low, high) in day_partitions(pg_store, table).items():
            assert name == day_name(table, low) and high == low + DAY_MS


def test_a_pass_makes_the_window_of_days_ahead_once(pg_store: Store) -> None:
    now = H0 + 12 * HOUR_MS
    report = pg_store.run_pass(now)
    prepared = {e.table: e for e in pg_store.sent if isinstance(e, PrepareDays)}
    # The minutes from the day of now - 24 h, the mids from the day of now - 30 min: to today
    # plus two days.
    assert prepared[CANDLES] == prepare(CANDLES, H0 - DAY_MS, H0 + 2 * DAY_MS)
    assert prepared[MIDS] == prepare(MIDS, H0, H0 + 2 * DAY_MS)
    assert set(prepared) == {CANDLES, MIDS}  # the tables that are not partitioned: nothing
    assert report.days_prepared == 4 + 3
    assert {H0 - DAY_MS, H0, H0 + DAY_MS, H0 + 2 * DAY_MS} <= days_of(pg_store, CANDLES)
    assert {H0, H0 + DAY_MS, H0 + 2 * DAY_MS} <= days_of(pg_store, MIDS)
    assert H0 - DAY_MS not in days_of(pg_store, MIDS)

    pg_store.sent.clear()
    again = pg_store.run_pass(now + MINUTE_MS)
    assert again.days_prepared == 0 and again.commands == 0
    # The next day: one more day ahead each.
    pg_store.sent.clear()
    report = pg_store.run_pass(H0 + DAY_MS + 60_000)
    assert report.days_prepared == 2
    assert H0 + 3 * DAY_MS in days_of(pg_store, CANDLES) & days_of(pg_store, MIDS)


def test_every_day_partition_has_every_index_of_its_table(pg_store: Store) -> None:
    pg_store.run_pass(H0 + 12 * HOUR_MS)
    for table in (CANDLES, MIDS):
        parent = pg_store.rows(
            "SELECT count(*) FROM pg_index WHERE indrelid = ?::regclass", (table,)
        )[0][0]
        assert parent >= 2  # the primary key and the index on the time column
        for name in day_partitions(pg_store, table):
            attached = pg_store.rows(
                "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid "
                "WHERE x.indrelid = ?::regclass",
                (name,),
            )
            assert attached == [(parent,)], name


def test_rows_land_in_their_days_partition_and_others_wait_in_the_default_one(
    pg_store: Store,
) -> None:
    pg_store.apply(prepare(CANDLES, H0 - DAY_MS, H0 + DAY_MS))
    pg_store.apply(prepare(MIDS, H0, H0))
    times = (H0 - MINUTE_MS, H0, H0 + DAY_MS - MINUTE_MS, H0 + DAY_MS, H0 + 2 * DAY_MS)
    pg_store.write_minutes([minute("BTC", t) for t in times])
    pg_store.apply(
        MidBatch(rows=[MidPrice("BTC", t, 1.0, t) for t in (H0 - 5000, H0, H0 + DAY_MS - 5000)])
    )
    assert where_rows_are(pg_store, CANDLES, "open_time_ms") == {
        H0 - MINUTE_MS: day_name(CANDLES, H0 - DAY_MS),
        H0: day_name(CANDLES, H0),
        H0 + DAY_MS - MINUTE_MS: day_name(CANDLES, H0),
        H0 + DAY_MS: day_name(CANDLES, H0 + DAY_MS),
        H0 + 2 * DAY_MS: f"{CANDLES}_default",
    }
    assert where_rows_are(pg_store, MIDS, "bucket_ms") == {
        H0 - 5000: f"{MIDS}_default",
        H0: day_name(MIDS, H0),
        H0 + DAY_MS - 5000: day_name(MIDS, H0),
    }


def test_rows_waiting_in_the_default_partition_move_into_their_new_day(pg_store: Store) -> None:
    day = H0 - 10 * DAY_MS  # a day no start and no pass made
    rows = [*every_ten_minutes(day + 23 * HOUR_MS, 1), minute("BTC", day + DAY_MS)]
    pg_store.write_minutes(rows)
    pg_store.apply(MidBatch(rows=[MidPrice("BTC", day + 5000 * i, 1.5, day) for i in range(7)]))
    stored = sorted(pg_store.rows("SELECT * FROM hyperliquid_candles"))
    assert set(where_rows_are(pg_store, CANDLES, "open_time_ms").values()) == {f"{CANDLES}_default"}

    assert pg_store.apply(prepare(CANDLES, day, day)) == {}
    assert pg_store.apply(prepare(MIDS, day, day)) == {}
    placed = where_rows_are(pg_store, CANDLES, "open_time_ms")
    assert placed.pop(day + DAY_MS) == f"{CANDLES}_default"  # the next day: still waiting
    assert set(placed.values()) == {day_name(CANDLES, day)}
    assert set(where_rows_are(pg_store, MIDS, "bucket_ms").values()) == {day_name(MIDS, day)}
    assert sorted(pg_store.rows("SELECT * FROM hyperliquid_candles")) == stored  # moved, intact
    assert count(pg_store, f"{CANDLES}_default") == 1 and count(pg_store, MIDS) == 7

    # The moved rows are upserted as before: a bar never reopens, a later write replaces.
    pg_store.write_minutes([msgspec.structs.replace(rows[0], close=9.0, closed=False)])
    assert pg_store.rows(
        "SELECT close, closed FROM hyperliquid_candles WHERE coin = ? AND open_time_ms = ?",
        (rows[0].coin, rows[0].open_time_ms),
    ) == [(9.0, True)]
    assert count(pg_store, CANDLES) == len(rows)
    # Made twice: nothing more happens.
    assert pg_store.apply(prepare(CANDLES, day, day)) == {}
    assert count(pg_store, day_name(CANDLES, day)) == len(rows) - 1


# --- dropped whole ---------------------------------------------------------------------------


def test_a_day_goes_whole_only_once_every_minute_in_it_is_expired(pg_store: Store) -> None:
    pg_store.apply(prepare(CANDLES, H0, H0 + DAY_MS))
    pg_store.write_minutes(every_ten_minutes(H0, 48))  # two days, 3 coins, 6 minutes an hour
    first_day = count(pg_store, day_name(CANDLES, H0))
    assert first_day == 24 * 6 * 3
    now = H0 + 2 * DAY_MS  # every minute of the first day is past 1-minute retention
    rollup(pg_store, now)
    # A late minute: its hour waits for a rollup again, so the first day cannot go whole.
    pg_store.write_minutes([minute("ETH", H0 + 5 * HOUR_MS + 10 * MINUTE_MS, c=7.0)])
    expire = ExpireMinutes(before_ms=H0 + DAY_MS, hours_before_ms=H0 - DAY_MS, limit=10_000)
    result = pg_store.apply(expire)
    assert day_name(CANDLES, H0) in day_partitions(pg_store, CANDLES)
    # The chunked delete took every other minute of that day; the waiting hour's stay.
    left = pg_store.rows(
        f"SELECT coin, open_time_ms FROM {day_name(CANDLES, H0)} ORDER BY coin, open_time_ms"
    )
    assert left == [("ETH", H0 + 5 * HOUR_MS + m * 10 * MINUTE_MS) for m in range(6)]
    assert result == {CANDLES: first_day - 6}

    rollup(pg_store, now)  # the hour is rolled up again: now every minute may go
    result = pg_store.apply(expire)
    assert result == {CANDLES: 6}
    assert day_name(CANDLES, H0) not in day_partitions(pg_store, CANDLES)
    assert day_name(CANDLES, H0 + DAY_MS) in day_partitions(pg_store, CANDLES)
    assert count(pg_store, CANDLES) == 24 * 6 * 3  # the second day is whole


def test_a_pass_drops_an_expired_day_in_one_command_and_counts_its_rows(pg_store: Store) -> None:
    pg_store.apply(prepare(CANDLES, H0, H0 + DAY_MS))
    pg_store.apply(prepare(MIDS, H0, H0 + DAY_MS))
    pg_store.write_minutes(every_ten_minutes(H0, 48))
    mids = [MidPrice(c, H0 + i * 60_000, 1.0, H0) for i in range(2 * 24 * 60) for c in COINS]
    pg_store.apply(MidBatch(rows=mids))
    now = H0 + 2 * DAY_MS + 10 * MINUTE_MS
    pg_store.run_pass(H0 + DAY_MS)  # rolls the first day up (no minute of it expires yet)
    minutes_before, mids_before = count(pg_store, CANDLES), count(pg_store, MIDS)
    pg_store.sent.clear()

    report = pg_store.run_pass(now, settings=PassSettings(chunk_rows=50))
    assert day_name(CANDLES, H0) not in day_partitions(pg_store, CANDLES)
    assert day_name(MIDS, H0) not in day_partitions(pg_store, MIDS)
    assert day_name(MIDS, H0 + DAY_MS) in day_partitions(pg_store, MIDS)
    # Reported deleted = what went. Minutes: the whole first day and the second day's first
    # minute (the 10-minute grid: a minute a coin). Mids: the first day's last 30 minutes (the
    # pass before took the rest) and the second day's but its last 20 minutes, by chunks of 50.
    minutes_gone = minutes_before - count(pg_store, CANDLES)
    mids_gone = mids_before - count(pg_store, MIDS)
    assert report.deleted[CANDLES] == minutes_gone == 24 * 6 * 3 + 3
    assert report.deleted[MIDS] == mids_gone == 30 * 3 + (24 * 60 - 20) * 3
    # 435 minutes in the first command (the day dropped, then a chunk of 3); the second finds
    # nothing left.
    assert len([e for e in pg_store.sent if isinstance(e, ExpireMinutes)]) == 2
    assert not [e for e in pg_store.sent if isinstance(e, ReclaimSpace)]  # a no-op here


def test_minutes_of_a_day_past_hour_retention_go_whole_without_a_rollup(pg_store: Store) -> None:
    pg_store.apply(prepare(CANDLES, H0, H0))
    pg_store.write_minutes(every_ten_minutes(H0, 24))  # never rolled up: every hour is marked
    expire = ExpireMinutes(before_ms=H0 + DAY_MS, hours_before_ms=H0 + DAY_MS - HOUR_MS, limit=5)
    # The last hour is inside 1-hour retention and waits for its rollup: no drop, a chunk.
    assert pg_store.apply(expire) == {CANDLES: 6}
    assert day_name(CANDLES, H0) in day_partitions(pg_store, CANDLES)
    expire = msgspec.structs.replace(expire, hours_before_ms=H0 + DAY_MS)
    assert pg_store.apply(expire) == {CANDLES: 24 * 6 * 3 - 6}
    assert day_name(CANDLES, H0) not in day_partitions(pg_store, CANDLES)


def test_a_day_that_ends_after_the_boundary_is_never_dropped(pg_store: Store) -> None:
    pg_store.apply(prepare(MIDS, H0, H0))
    pg_store.apply(MidBatch(rows=[MidPrice("BTC", H0 + i * 5000, 1.0, H0) for i in range(100)]))
    # Every row stored is expired, but the day is not over at the boundary: rows may come.
    result = pg_store.apply(ExpireRows(table=MIDS, before_ms=H0 + DAY_MS - 1, limit=1000))
    assert result == {MIDS: 100}
    assert day_name(MIDS, H0) in day_partitions(pg_store, MIDS)


def test_a_table_not_partitioned_expires_by_chunks_as_before(pg_store: Store) -> None:
    """A development database made before its tables were partitioned keeps them plain."""
    pg_store.conn.execute(f"DROP TABLE {MIDS}")
    for stmt in ddl.table_statements(replace(MID_TABLE, partition_by_day=None)):
        pg_store.conn.execute(stmt)
    pg_store.apply(MidBatch(rows=[MidPrice("BTC", H0 + i * 5000, 1.0, H0) for i in range(100)]))
    assert partitions.missing_days(pg_store.conn, {MIDS: H0}, H0) == {}
    assert pg_store.apply(prepare(MIDS, H0, H0 + DAY_MS)) == {}
    assert pg_store.apply(ExpireRows(table=MIDS, before_ms=H0 + DAY_MS, limit=30)) == {MIDS: 30}
    report = pg_store.run_pass(H0 + DAY_MS)
    assert report.deleted[MIDS] == 70


def test_only_retained_tables_can_be_prepared(pg_store: Store) -> None:
    with pytest.raises(ValueError, match="not a retained table"):
        pg_store.apply(prepare("ingestion_runs", H0, H0))


# --- restart ---------------------------------------------------------------------------------


def catalog(store: Store) -> list[tuple[Any, ...]]:
    return store.rows(
        "SELECT c.relname, c.relkind, pg_get_expr(c.relpartbound, c.oid), "
        "coalesce(i.inhparent::regclass::text, '') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
        "WHERE n.nspname = current_schema() ORDER BY c.relname"
    )


def test_a_second_start_changes_nothing(pg_database: str) -> None:
    first = Store(pg_database)
    try:
        first.run_pass(H0 + 12 * HOUR_MS)
        first.write_minutes(every_ten_minutes(H0, 2))
        first.write_minutes([minute("BTC", H0 - 20 * DAY_MS)])  # waits in the DEFAULT one
        before = catalog(first), sorted(first.rows("SELECT * FROM hyperliquid_candles"))
        version = first.rows("SELECT version FROM marketmem_schema")
    finally:
        first.close()
    second = Store(pg_database)  # migrates again
    try:
        assert (catalog(second), sorted(second.rows("SELECT * FROM hyperliquid_candles"))) == before
        assert second.rows("SELECT version FROM marketmem_schema") == version
    finally:
        second.close()


# --- both engines ----------------------------------------------------------------------------


def test_sqlite_prepares_nothing_and_drops_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        store.write_minutes(every_ten_minutes(H0, 24))
        assert partitions.missing_days(store.conn, {CANDLES: H0}, H0) == {}
        assert partitions.prepare_days(store.conn, CANDLES, H0, H0 + DAY_MS) == 0
        where = "c.open_time_ms < :before"
        params = {"before": H0 + 2 * DAY_MS}
        assert (
            partitions.drop_expired_days(store.conn, CANDLES, H0 + 2 * DAY_MS, where, params) == 0
        )
        assert count(store, CANDLES) == 24 * 6 * 3
        report = store.run_pass(H0 + 12 * HOUR_MS)
        assert report.days_prepared == 0
        assert not [e for e in store.sent if isinstance(e, PrepareDays)]
    finally:
        store.close()


def test_both_engines_roll_the_same_minutes_up_into_the_same_hours(
    tmp_path: Path, pg_database: str
) -> None:
    stores = [Store(tmp_path / "same.db"), Store(pg_database)]
    # Three days of minutes across two day boundaries, with volumes whose sum depends on the
    # order of addition, late minutes (a correction, a minute of an hour already expiring),
    # and passes through the days until every minute has expired.
    rows = [
        minute(
            coin,
            H0 + m * MINUTE_MS,
            o=1 + m % 7 / 3,
            h=2 + m % 11 / 7,
            lo=0.1 + m % 5 / 9,
            c=1 + m % 13 / 17,
            v=(0.1, 1e16, 0.3, -1e16, 0.7)[m % 5],
            n=m % 4,
        )
        for m in range(0, 3 * 24 * 60, 7)
        for coin in ("BTC", "ETH")
    ]
    # A correction of an hour in retention, and of an hour whose minutes have expired.
    late = [
        minute("BTC", H0 + 30 * HOUR_MS + 4 * MINUTE_MS, h=99.0),
        minute("ETH", H0 + 7 * 60_000),
    ]
    try:
        for store in stores:
            store.write_minutes(rows[: len(rows) // 2])
        for now in (H0 + 20 * HOUR_MS, H0 + 36 * HOUR_MS, H0 + 50 * HOUR_MS):
            reports = [store.run_pass(now) for store in stores]
            sqlite, pg = stores
            assert sqlite.hours() == pg.hours()
            assert sqlite.minutes() == pg.minutes()
            assert reports[0].deleted == reports[1].deleted
            assert reports[0].hours_rolled_up == reports[1].hours_rolled_up
            for store in stores:
                store.write_minutes(rows[len(rows) // 2 :] if now == H0 + 20 * HOUR_MS else late)
        for now in range(H0 + 3 * DAY_MS, H0 + 5 * DAY_MS, 6 * HOUR_MS):
            reports = [store.run_pass(now) for store in stores]
            assert stores[0].hours() == stores[1].hours()
            assert stores[0].minutes() == stores[1].minutes()
            assert reports[0].deleted == reports[1].deleted
        assert stores[0].minutes() == set()
        assert len(stores[0].hours()) > 100
    finally:
        for store in stores:
            store.close()


@pytest.mark.engines
async def test_the_run_counts_the_rows_of_a_dropped_day(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config()
    clock = TrioWallClock(H0 + 12 * HOUR_MS)
    clock.now_ms()  # wall time H0 + 12 h is trio time now
    async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
        maintainer = Maintainer(rt)
        assert (await execute_run(rt, "hyperliquid", "maintenance", maintainer.job)).status == "ok"
        await rt.bus.publish(CandleBatch(rows=every_ten_minutes(H0, 36)))
        await trio.sleep((H0 + 2 * DAY_MS - clock.now_ms()) / 1000)  # to H0 + 2 days
        result = await execute_run(rt, "hyperliquid", "maintenance", maintainer.job)
        assert result.status == "ok", result.error
        report = maintainer.last_report
        assert report is not None
    reader = storage_engine.open_reader(config.database())
    try:
        left = storage_engine.query(reader, "SELECT count(*) AS n FROM hyperliquid_candles")
        runs = storage_engine.query(
            reader,
            "SELECT rows_written FROM ingestion_runs WHERE channel = 'maintenance' "
            "ORDER BY started_at_ms",
        )
    finally:
        reader.close()
    # The first day went (whole on PostgreSQL, in chunks on SQLite); the next 12 h stay.
    assert left == [{"n": 12 * 6 * 3}]
    assert report.deleted[CANDLES] == 24 * 6 * 3
    assert report.hours_rolled_up == 36 * 3
    assert runs[-1]["rows_written"] == report.rows_changed == 24 * 6 * 3 + 36 * 3
