"""Rollup hours are marked in the write path (after a candle batch is written), not by
triggers, on both engines; a SQLite database of the release with triggers upgrades in place
and keeps its marks (PostgreSQL never had the triggers)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from marketmem.events import CandleBatch
from marketmem.plugins import SOURCES
from marketmem.retention.tables import mark_pending_hours
from marketmem.storage import db, schema
from tests.retention.retention_helpers import Store, minute

H = 3_600_000
M = 60_000

# The triggers of schema version 2 (the release of 2026-11-25), as that release created them.
RELEASE_2_TRIGGERS = [
    f"""
    CREATE TRIGGER IF NOT EXISTS hyperliquid_candles_mark_hour_on_{op.lower()}
    AFTER {op} ON hyperliquid_candles WHEN NEW.interval = '1m'
    BEGIN
        INSERT INTO hyperliquid_rollup_pending (hour_ms, coin)
        SELECT NEW.open_time_ms - NEW.open_time_ms % {H}, NEW.coin
        WHERE NOT EXISTS (SELECT 1 FROM hyperliquid_rollup_pending
                          WHERE hour_ms = NEW.open_time_ms - NEW.open_time_ms % {H}
                          AND coin = NEW.coin);
    END
    """
    for op in ("INSERT", "UPDATE")
]


def triggers(conn: object) -> list[str]:
    return [
        r[0]
        for r in conn.execute(  # type: ignore[attr-defined]
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='hyperliquid_candles'"
        )
    ]


@pytest.mark.engines
def test_marks_every_hour_and_coin_of_the_minutes_once(database: Path | str) -> None:
    store = Store(database)
    rows = [minute("BTC", 10 * H + i * M) for i in range(3)]
    rows += [minute("BTC", 11 * H), minute("ETH", 10 * H + 5 * M), minute("BTC", 10 * H)]
    store.write_minutes(rows)
    assert store.pending() == {(10 * H, "BTC"), (11 * H, "BTC"), (10 * H, "ETH")}
    # Marking again (a replay, a late minute) is a no-op for marks already there.
    store.write_minutes([minute("BTC", 10 * H + 59 * M)])
    assert store.pending() == {(10 * H, "BTC"), (11 * H, "BTC"), (10 * H, "ETH")}
    store.close()


@pytest.mark.engines
def test_hour_rows_and_empty_batches_mark_nothing(database: Path | str) -> None:
    store = Store(database)
    hour = msgspec.structs.replace(minute("BTC", 10 * H), interval="1h")
    with store.conn:
        mark_pending_hours(store.conn, [CandleBatch(rows=[hour]), CandleBatch(rows=[])])
    assert store.pending() == set()
    store.close()


def test_a_release_2_database_upgrades_drops_its_triggers_and_keeps_its_marks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    # Back to what the release left: version 2, its triggers, a mark they made.
    with conn:
        for stmt in RELEASE_2_TRIGGERS:
            conn.execute(stmt)
        conn.execute("PRAGMA user_version=2")
    store_conn = conn
    store_conn.execute(
        "INSERT INTO hyperliquid_candles (coin, interval, open_time_ms, close_time_ms, open, "
        "high, low, close, volume, trades, closed, updated_at_ms) "
        "VALUES ('BTC', '1m', ?, ?, 1, 2, 0.5, 1.5, 1, 1, 1, 0)",
        (5 * H, 5 * H + 59_999),
    )
    assert len(triggers(conn)) == 2
    conn.close()

    store = Store(path)  # migrates to the current version
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert triggers(store.conn) == []
    assert store.pending() == {(5 * H, "BTC")}  # the release's mark survives
    store.write_minutes([minute("ETH", 6 * H)])  # new marks come from the write path
    assert store.pending() == {(5 * H, "BTC"), (6 * H, "ETH")}
    store.close()
