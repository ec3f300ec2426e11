"""Rollups and deletes as the storage writer runs them: marks, chunks, invariants.

Marked ``engines``: every test on the ``store`` fixture runs on SQLite and on PostgreSQL (the
same rollups must give the same 1-hour rows on both); the random minute streams run on both
too. What only one engine has (SQLite's catalog and free pages) says so and skips the other.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from retention_helpers import H0, Store, minute

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.events import (
    ExpireMinutes,
    ExpireRows,
    MidBatch,
    MidPrice,
    PrepareDays,
    RollupHours,
)
from marketmem.retention import tables as retention_tables
from marketmem.retention.actor import PassSettings
from marketmem.retention.policy import RetentionPolicy, boundaries
from marketmem.retention.rollup import hour_start

DAY_MS = 24 * HOUR_MS

pytestmark = pytest.mark.engines


def sqlite_only(store: Store, why: str) -> None:
    if store.dialect != "sqlite":
        pytest.skip(f"SQLite only: {why}")


def test_every_write_of_a_minute_marks_its_hour(store: Store) -> None:
    store.write_minutes([minute("BTC", H0 + 5 * MINUTE_MS)])
    assert store.pending() == {(H0, "BTC")}
    store.conn.execute("DELETE FROM hyperliquid_rollup_pending")
    store.write_minutes([minute("BTC", H0 + 5 * MINUTE_MS, c=9.0)])  # an update
    assert store.pending() == {(H0, "BTC")}
    store.conn.execute("DELETE FROM hyperliquid_rollup_pending")
    store.write_minutes([msgspec.structs.replace(minute("BTC", H0 + HOUR_MS), interval="5m")])
    assert store.pending() == set()  # only 1-minute candles are rolled up


def test_only_ended_hours_are_rolled_up(store: Store) -> None:
    store.write_minutes(
        [minute("BTC", H0 + m * MINUTE_MS, o=float(m), c=float(m)) for m in range(0, 120, 7)]
    )
    report = store.run_pass(H0 + 2 * HOUR_MS - 1)  # the second hour has not ended
    assert report.hours_rolled_up == 1
    assert set(store.hours()) == {("BTC", H0)}
    assert store.pending() == {(H0 + HOUR_MS, "BTC")}
    report = store.run_pass(H0 + 2 * HOUR_MS)
    assert set(store.hours()) == {("BTC", H0), ("BTC", H0 + HOUR_MS)}
    assert store.pending() == set()
    second = store.hours()[("BTC", H0 + HOUR_MS)]
    assert (second[3], second[6], second[9]) == (63.0, 119.0, 9)  # minutes 63, 70, ..., 119
    assert store.hours()[("BTC", H0 + HOUR_MS)][10] == H0 + 2 * HOUR_MS  # rolled_up_at_ms


def test_late_minutes_correct_their_hour_and_a_second_rollup_changes_nothing(
    store: Store,
) -> None:
    store.write_minutes([minute("ETH", H0 + m * MINUTE_MS, h=2.0) for m in range(59)])
    store.run_pass(H0 + HOUR_MS + 1000)
    first = store.hours()[("ETH", H0)]
    assert first[9] == 59  # minute_count
    store.write_minutes([minute("ETH", H0 + 59 * MINUTE_MS, h=7.0, c=6.0)])
    report = store.run_pass(H0 + HOUR_MS + 61_000)
    row = store.hours()[("ETH", H0)]
    assert report.hours_rolled_up == 1
    assert (row[4], row[6], row[9], row[10]) == (7.0, 6.0, 60, H0 + HOUR_MS + 61_000)
    # The same minutes written again: rolled up again, nothing changes (not even the time).
    store.write_minutes([minute("ETH", H0 + m * MINUTE_MS, h=2.0) for m in range(5)])
    report = store.run_pass(H0 + HOUR_MS + 121_000)
    assert report.hours_examined == 1 and report.hours_rolled_up == 0
    assert store.hours()[("ETH", H0)] == row


def test_a_minute_is_never_deleted_while_its_hour_waits_for_a_rollup(store: Store) -> None:
    now = H0 + 2 * DAY_MS
    b = boundaries(RetentionPolicy(), now)
    old = [minute("BTC", H0 + m * MINUTE_MS) for m in range(120)]  # two old hours
    store.write_minutes(old)
    # No rollup yet: expiring minutes deletes nothing.
    result = store.apply(
        ExpireMinutes(before_ms=b.minutes_before_ms, hours_before_ms=0, limit=1000)
    )
    assert result == {"hyperliquid_candles": 0}
    store.apply(
        RollupHours(
            through_ms=b.rollup_through_ms,
            minutes_before_ms=b.minutes_before_ms,
            hours_before_ms=b.hours_before_ms,
            rolled_up_at_ms=now,
            limit=10,
        )
    )
    # A late minute for the first hour arrives: that hour waits again, the other one can go.
    store.write_minutes([minute("BTC", H0 + 30 * MINUTE_MS, c=3.0)])
    result = store.apply(
        ExpireMinutes(before_ms=b.minutes_before_ms, hours_before_ms=0, limit=1000)
    )
    assert result == {"hyperliquid_candles": 60}
    assert {t for _, t in store.minutes()} == {H0 + m * MINUTE_MS for m in range(60)}


def test_a_late_minute_cannot_shrink_an_hour_whose_minutes_expired(store: Store) -> None:
    store.write_minutes([minute("BTC", H0 + m * MINUTE_MS, h=5.0) for m in range(60)])
    store.run_pass(H0 + HOUR_MS)
    full = store.hours()[("BTC", H0)]
    store.run_pass(H0 + DAY_MS + HOUR_MS)  # every minute of the hour expires
    assert store.minutes() == set()
    kept_before = retention_tables.HOURS_KEPT.value()
    store.write_minutes([minute("BTC", H0 + 10 * MINUTE_MS, h=1.0)])
    report = store.run_pass(H0 + DAY_MS + HOUR_MS + 60_000)
    assert store.hours()[("BTC", H0)] == full
    assert retention_tables.HOURS_KEPT.value() == kept_before + 1
    assert report.deleted["hyperliquid_candles"] == 1  # the late minute itself is expired


def test_minutes_of_hours_past_hour_retention_go_without_a_rollup(store: Store) -> None:
    policy = RetentionPolicy(candles_1m_ms=HOUR_MS, candles_1h_ms=2 * HOUR_MS)
    store.write_minutes([minute("SOL", H0 + m * MINUTE_MS) for m in range(0, 60, 10)])
    report = store.run_pass(H0 + 3 * HOUR_MS, policy)
    assert store.hours() == {}
    assert store.minutes() == set()
    assert report.hours_examined == 1 and report.hours_rolled_up == 0


def _mids(n: int, coins: tuple[str, ...] = ("BTC", "ETH")) -> MidBatch:
    return MidBatch(
        rows=[
            MidPrice(coin=c, bucket_ms=H0 + i * 5000, price=1.0, observed_at_ms=H0)
            for i in range(n)
            for c in coins
        ]
    )


def test_deletes_go_in_bounded_chunks(store: Store) -> None:
    store.apply(_mids(500))  # 1000 rows, two per bucket
    before = H0 + 400 * 5000
    result = store.apply(ExpireRows(table="hyperliquid_mid_prices", before_ms=before, limit=99))
    # The oldest 99 rows and the row sharing the 99th row's time.
    assert result == {"hyperliquid_mid_prices": 100}
    report = store.run_pass(before + 30 * MINUTE_MS, settings=PassSettings(chunk_rows=150))
    assert report.deleted["hyperliquid_mid_prices"] == 700
    expiries = [e for e in store.sent if isinstance(e, ExpireRows)]
    assert len(expiries) == 5  # 150 + 150 + 150 + 150 + 100
    # On PostgreSQL the pass also made the days of the retention window ready, once per table.
    assert report.commands == 5 + len({e.table for e in store.sent if isinstance(e, PrepareDays)})
    assert store.rows("SELECT min(bucket_ms), count(*) FROM hyperliquid_mid_prices") == [
        (before, 200)
    ]


def test_only_declared_tables_can_be_expired(store: Store) -> None:
    with pytest.raises(ValueError, match="not a retained table"):
        store.apply(ExpireRows(table="ingestion_runs", before_ms=H0, limit=10))


def test_a_declared_table_missing_from_the_database_is_skipped(store: Store) -> None:
    store.conn.execute("DROP TABLE hyperliquid_funding_pressure")
    result = store.apply(ExpireRows(table="hyperliquid_funding_pressure", before_ms=H0, limit=10))
    assert result == {"hyperliquid_funding_pressure": 0}
    report = store.run_pass(H0)
    assert report.absent == ["hyperliquid_funding_pressure"]
    assert "hyperliquid_funding_pressure" not in report.deleted


def test_every_table_with_derived_rows_is_retained(store: Store) -> None:
    from marketmem.retention.policy import RETAINED_BY_NAME

    sqlite_only(store, "reads sqlite_master (the declarations are the same on both engines)")

    for (name,) in store.rows("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = {r[1] for r in store.rows(f"PRAGMA table_info({name})")}
        if "computed_at_ms" in columns or "snapshot_ms" in columns:
            assert name in RETAINED_BY_NAME, f"{name} has derived rows but no retention"
    for spec in RETAINED_BY_NAME.values():
        indexed = store.rows(
            "SELECT 1 FROM sqlite_master m, pragma_index_info(m.name) i "
            "WHERE m.type = 'index' AND m.tbl_name = ? AND i.seqno = 0 AND i.name = ?",
            (spec.table, spec.time_column),
        )
        assert indexed, f"{spec.table}.{spec.time_column} leads no index"


def test_free_pages_beyond_the_slack_are_handed_back(store: Store) -> None:
    sqlite_only(store, "PostgreSQL's free space is autovacuum's (ReclaimSpace does nothing)")
    store.apply(_mids(20_000, coins=("BTC", "ETH", "SOL")))
    pages_full = store.rows("PRAGMA page_count")[0][0]
    report = store.run_pass(
        H0 + 20_000 * 5000 + 30 * MINUTE_MS,
        settings=PassSettings(chunk_rows=100_000, vacuum_slack_pages=10, vacuum_chunk_pages=50),
    )
    assert report.deleted["hyperliquid_mid_prices"] == 60_000
    assert report.pages_released > 100
    assert report.free_pages == 10
    assert report.file_pages < pages_full - 100


# --- property: random minute streams ---------------------------------------------------------

POLICY = RetentionPolicy(mids_ms=HOUR_MS, candles_1m_ms=2 * HOUR_MS, candles_1h_ms=5 * HOUR_MS)
SETTINGS = PassSettings(chunk_rows=7, rollup_chunk_hours=2)

Values = tuple[float, float, float, float, float, int]
price = st.integers(1, 10**6).map(lambda i: i / 100)
values = st.tuples(
    price, price, price, price, st.integers(0, 10**6).map(lambda i: i / 8), st.integers(0, 99)
)
# How late a minute arrives: 0 to 6 hours before the clock, in 5-minute slots (dense enough
# for duplicates and full hours; late enough to reach hours rolled up or already expiring).
lateness = st.integers(0, 72).map(lambda slot: slot * 5 * MINUTE_MS)
version = st.tuples(st.sampled_from(["BTC", "ETH"]), lateness, values)
# One step: a batch of minute versions (in any order, duplicates allowed), then a pass after
# the clock moved on; minutes of ended (even expired) hours keep arriving late.
step = st.tuples(st.lists(version, max_size=20), st.integers(0, 75 * MINUTE_MS))
Step = tuple[list[tuple[str, int, Values]], int]


def expected_hour(
    latest: dict[tuple[str, int], Values], coin: str, hour: int
) -> tuple[object, ...]:
    ts = sorted(t for (c, t) in latest if c == coin and hour_start(t) == hour)
    vs = [latest[(coin, t)] for t in ts]
    return (
        coin,
        hour,
        hour + HOUR_MS - 1,
        vs[0][0],
        max(v[1] for v in vs),
        min(v[2] for v in vs),
        vs[-1][3],
        sum(v[4] for v in vs),
        sum(v[5] for v in vs),
        len(vs),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=16))
def test_random_minute_streams_roll_up_exactly_and_lose_nothing(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "p.db")
        try:
            _check_stream(store, steps)
        finally:
            store.close()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(step, min_size=1, max_size=16))
def test_random_minute_streams_roll_up_the_same_on_postgresql(
    pg_database: str, steps: list[Step]
) -> None:
    """The same streams and checks on PostgreSQL (fewer examples: one database for all of
    them, emptied between two; day partitions made and dropped as the passes go)."""
    store = Store(pg_database)
    try:
        store.conn.execute(
            "TRUNCATE hyperliquid_candles, hyperliquid_candles_1h, hyperliquid_rollup_pending"
        )
        _check_stream(store, steps)
    finally:
        store.close()


def _check_stream(store: Store, steps: list[Step]) -> None:
    latest: dict[tuple[str, int], Values] = {}
    tainted: set[tuple[str, int]] = set()  # hours that have lost a minute to retention
    counts: dict[tuple[str, int], int] = {}
    now = H0 + 6 * HOUR_MS

    def check_pass(advance_ms: int) -> None:
        nonlocal now
        now += advance_ms
        before_pass = store.minutes()
        kept = retention_tables.HOURS_KEPT.value()
        store.run_pass(now, POLICY, SETTINGS)
        event(
            f"stored hours kept against late minutes: {retention_tables.HOURS_KEPT.value() > kept}"
        )
        b = boundaries(POLICY, now)
        minutes, hours = store.minutes(), store.hours()
        deleted = before_pass - minutes
        event(f"minutes deleted in a pass: {min(len(deleted), 3)}+")
        for coin, t in deleted:
            hour = hour_start(t)
            assert t < b.minutes_before_ms, "a minute was deleted before its retention ended"
            if hour < b.hours_before_ms:
                continue  # its hour is past 1-hour retention
            assert (coin, hour) in hours, "a minute was deleted before its hour existed"
            if (coin, hour) not in tainted:
                assert hours[(coin, hour)][:10] == expected_hour(latest, coin, hour)
        tainted.update((c, hour_start(t)) for c, t in deleted)
        for coin, t in latest:
            if t >= b.minutes_before_ms:
                assert (coin, t) in minutes, "a minute inside retention is missing"
        assert all(t >= b.minutes_before_ms for _, t in minutes), "expired minutes left"
        for coin, hour in {(c, hour_start(t)) for c, t in latest}:
            if b.hours_before_ms <= hour <= b.rollup_through_ms:
                assert (coin, hour) in hours, "an ended hour was not rolled up"
                if (coin, hour) not in tainted:
                    assert hours[(coin, hour)][:10] == expected_hour(latest, coin, hour)
        for key, row in hours.items():
            assert b.hours_before_ms <= row[1] <= b.rollup_through_ms
            assert row[9] >= counts.get(key, 0), "an hour was rebuilt from fewer minutes"
            counts[key] = row[9]

    for versions, advance_ms in steps:
        rows = []
        for coin, late_ms, (o, h, lo, c, v, n) in versions:
            t = now - now % MINUTE_MS - late_ms
            rows.append(minute(coin, t, o=o, h=h, lo=lo, c=c, v=v, n=n))
            latest[(coin, t)] = (o, h, lo, c, v, n)  # the upsert: the last write wins
        store.write_minutes(rows)
        check_pass(advance_ms)

    # Writing the stored minutes again and rolling up again changes nothing.
    check_pass(0)
    snapshot = store.hours()
    event(f"hours before the second rollup: {min(len(snapshot), 3)}+")
    stored = store.rows(
        "SELECT coin, open_time_ms, open, high, low, close, volume, trades FROM hyperliquid_candles"
    )
    store.write_minutes(
        [minute(c, t, o=o, h=h, lo=lo, c=cl, v=v, n=n) for c, t, o, h, lo, cl, v, n in stored]
    )
    report = store.run_pass(now, POLICY, SETTINGS)
    assert report.hours_rolled_up == 0
    assert store.hours() == snapshot

    # Hourly passes until everything has expired.
    for _ in range(7):
        check_pass(HOUR_MS)
    assert store.minutes() == set() and store.hours() == {}
