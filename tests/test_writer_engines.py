"""The storage writer's upsert rules on both engines, with batches large enough that
PostgreSQL stages them (``storage.postgres.staging``: COPY and one INSERT ... SELECT) while
SQLite runs executemany: both must store what applying the rows one by one stores.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketmem.events import CandleBatch, MidBatch, MidPrice
from marketmem.runtime import Runtime
from marketmem.storage import engine
from marketmem.storage.postgres.staging import STAGED_MIN_ROWS
from tests.conftest import minute_candle

pytestmark = pytest.mark.engines

COINS = [f"C{i}" for i in range(40)]


def read(rt: Runtime, sql: str) -> list[dict[str, Any]]:
    conn = engine.open_reader(rt.database)
    try:
        return engine.query(conn, sql)
    finally:
        conn.close()


async def test_large_batches_with_repeated_keys_store_what_one_by_one_stores(
    runtime: Runtime, autojump_clock: object
) -> None:
    writer = runtime.writer
    assert writer is not None
    # Each coin's minutes 0..2, three states each, spread over the events of one
    # transaction: the bar closed first, then an older open state (a closed bar never
    # reopens), then a later state of the same bar that is open again.
    events = []
    for state, closed in enumerate((True, False, False)):
        rows = [
            minute_candle(minute, coin=coin, close=10.0 * state + minute, closed=closed)
            for coin in COINS
            for minute in range(3)
        ]
        assert len(rows) >= STAGED_MIN_ROWS
        events.append(CandleBatch(rows=rows))
    # Mids of one bucket per coin, the latest observation last in one event and first in
    # the other: the latest wins either way.
    events.append(
        MidBatch(
            rows=[
                MidPrice(coin=c, bucket_ms=0, price=p, observed_at_ms=t)
                for c in COINS
                for p, t in ((1.0, 10), (3.0, 30), (2.0, 20))
            ]
        )
    )
    for event in events[:-1]:
        await runtime.bus.publish(event)
    await writer.execute(events[-1])

    candles = read(runtime, "SELECT coin, open_time_ms, close, closed FROM hyperliquid_candles")
    assert sorted(
        (r["coin"], r["open_time_ms"], r["close"], bool(r["closed"])) for r in candles
    ) == [
        (coin, minute * 60_000, 20.0 + minute, True)
        for coin in sorted(COINS)
        for minute in range(3)
    ]
    mids = read(runtime, "SELECT coin, price, observed_at_ms FROM hyperliquid_mid_prices")
    assert {(r["coin"], r["price"], r["observed_at_ms"]) for r in mids} == {
        (c, 3.0, 30) for c in COINS
    }
    # Retention's after-write marked the hour of every minute, once per coin.
    marks = read(runtime, "SELECT hour_ms, coin FROM hyperliquid_rollup_pending")
    assert sorted((r["hour_ms"], r["coin"]) for r in marks) == [(0, c) for c in sorted(COINS)]
