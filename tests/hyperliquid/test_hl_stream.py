"""The stream actor against the local venue (MockClock): storage, closes, gaps, budgets.

What the stream stores (candles closed both ways, mids, the execution price from them) runs
on both engines (``engines``); a backfill over a gap (its upserts are the writer's, on both
engines in test_writer.py) and the link's own behaviour (unknown coins, budgets, a dead link,
pacing) on SQLite only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from marketmem.config import Config
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid.resources import open_resources
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from marketmem.storage import engine
from marketmem.storage.models.hyperliquid import ExecutionPrice
from marketmem.storage.reads import hyperliquid as reads
from marketmem.venues.hyperliquid import HyperliquidVenue

M = 60_000


@asynccontextmanager
async def streaming(rt: Runtime, **kw: Any) -> AsyncIterator[HyperliquidStream]:
    async with open_resources(rt.config) as res, trio.open_nursery() as nursery:
        stream = HyperliquidStream(rt, res, **kw)
        await nursery.start(lambda task_status: stream.run(task_status=task_status))
        with trio.fail_after(600):
            await stream.ready.wait()
        yield stream
        nursery.cancel_scope.cancel()
    await trio.sleep(1)  # let the writer commit what was published


@asynccontextmanager
async def pipeline(config: Config, venue: HyperliquidVenue) -> AsyncIterator[Runtime]:
    async with open_pipeline(config, clock=venue.clock, executor=inline_executor) as rt:
        yield rt


def rows(rt: Runtime, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = engine.open_ro(rt.database)
    try:
        return engine.query(conn, sql, params)
    finally:
        conn.close()


def assert_closed_bars_match_venue(rt: Runtime, venue: HyperliquidVenue, coin: str) -> int:
    """Every closed bar the venue has in the stored span is stored, with the venue's values."""
    stored = rows(
        rt,
        "SELECT * FROM hyperliquid_candles WHERE coin=? AND closed ORDER BY open_time_ms",
        (coin,),
    )
    assert stored, f"no closed {coin} bars stored"
    first, last = stored[0]["open_time_ms"], stored[-1]["open_time_ms"]
    expected = venue.sim.candles(coin, "1m", first, last)
    assert [r["open_time_ms"] for r in stored] == [b.open_ms for b in expected]
    for r, b in zip(stored, expected, strict=True):
        got = (r["open"], r["high"], r["low"], r["close"], r["volume"], r["trades"])
        assert got == (float(b.o), float(b.h), float(b.low), float(b.c), float(b.v), b.n), b
    return len(stored)


@pytest.mark.engines
async def test_candles_and_mids_are_stored(
    hl_rt: Runtime, venue: HyperliquidVenue, autojump_clock: object
) -> None:
    async with streaming(hl_rt) as stream:
        await trio.sleep(4 * 60 + 7)
    now = venue.clock.now_ms()
    # Backfill reached back over the venue's history; the stream closed bars since.
    assert assert_closed_bars_match_venue(hl_rt, venue, "BTC") >= 30
    assert_closed_bars_match_venue(hl_rt, venue, "ETH")
    # Closed both ways: by a later push (active coins) and by the clock (quiet ATOM).
    assert stream.tracker.stats.closed_by_rollover >= 4
    assert stream.tracker.stats.closed_by_clock >= 1
    open_rows = rows(hl_rt, "SELECT * FROM hyperliquid_candles WHERE NOT closed")
    assert all(r["close_time_ms"] + 5000 >= now - 2000 for r in open_rows)
    # Mids: listed perps only, in 5 s buckets, one row per bucket.
    mids = rows(hl_rt, "SELECT * FROM hyperliquid_mid_prices")
    coins = {r["coin"] for r in mids}
    assert coins == {"BTC", "ETH", "ATOM", "SOL", "DOGE", "kPEPE", "HYPE"}  # no MATIC, @, #
    assert all(r["bucket_ms"] % 5000 == 0 for r in mids)
    btc = [r for r in mids if r["coin"] == "BTC"]
    assert 45 <= len(btc) <= 52
    runs = rows(hl_rt, "SELECT * FROM ingestion_runs ORDER BY started_at_ms")
    by_channel = {r["channel"] for r in runs if r["status"] == "ok" and r["rows_written"] > 0}
    assert by_channel == {"candles", "mids"}
    assert any("backfill after start-up" in (r["error"] or "") for r in runs)


async def test_disconnect_mid_bar_then_backfill_leaves_no_gap(
    hl_rt: Runtime, venue: HyperliquidVenue, autojump_clock: object
) -> None:
    async with streaming(hl_rt) as stream:
        # Into the middle of a bar, then the venue drops every socket and refuses new ones
        # for 150 s: bars close while nobody listens.
        await trio.sleep(90 - (venue.clock.now_ms() % M) / 1000)
        assert venue.clock.now_ms() % M == 30_000
        venue.max_connections = 0
        assert await venue.drop_connections() == 1
        await trio.sleep(150)
        venue.max_connections = 10
        with trio.fail_after(120):
            while stream.stats.backfills < 2:
                await trio.sleep(1)
        await trio.sleep(100)
    for coin in ("BTC", "ETH", "ATOM"):
        assert_closed_bars_match_venue(hl_rt, venue, coin)
    dupes = rows(
        hl_rt,
        "SELECT coin, open_time_ms, count(*) AS n FROM hyperliquid_candles "
        "GROUP BY coin, interval, open_time_ms HAVING count(*) > 1",
    )
    assert dupes == []
    notes = " ".join(r["error"] or "" for r in rows(hl_rt, "SELECT error FROM ingestion_runs"))
    assert "reconnect" in notes and "backfill after reconnect" in notes
    assert "connection 0 failed" in notes  # refused handshakes failed a window
    assert stream.stats.reconnects >= 2


async def test_unknown_coin_is_refused_before_subscribing(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, autojump_clock: object
) -> None:
    config = hl_config(coins='["BTC", "NOPE", "btc", "MATIC"]')
    async with pipeline(config, venue) as rt, streaming(rt) as stream:
        await trio.sleep(70)
    assert stream.selection is not None and stream.selection.refused == ["NOPE", "btc"]
    subscribed = " ".join(sub for _, sub in venue.stats.subscribe_log)
    assert "NOPE" not in subscribed and '"btc"' not in subscribed and "MATIC" not in subscribed
    assert venue.stats.ws_dropped_unknown_coin == 0 and stream.stats.reconnects == 0
    failed = rows(
        rt, "SELECT error FROM ingestion_runs WHERE channel='candles' AND status='failed'"
    )
    assert any("refused unknown coin(s) NOPE, btc" in r["error"] for r in failed)
    assert rows(rt, "SELECT count(*) AS n FROM hyperliquid_candles WHERE coin='BTC'")[0]["n"] > 0


async def test_weight_budget_is_never_exceeded(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, autojump_clock: object
) -> None:
    """A small budget (venue and client alike) and reconnects that each backfill every coin."""
    venue.weight_per_minute = 70
    config = hl_config("info_weight_per_minute = 70\nbackfill_max_bars = 40\n", coins='["*"]')
    async with pipeline(config, venue) as rt, streaming(rt) as stream:
        for _ in range(3):
            await trio.sleep(20)
            await venue.drop_connections()
        # Each drop reopens the gaps not healed yet; once the link stays, all are healed.
        with trio.fail_after(600):
            while stream.stats.backfills < 2 or stream.gaps.pending():
                await trio.sleep(1)
    assert venue.stats.info_requests["candleSnapshot"] >= len(stream.connections[0]) - 1
    assert venue.stats.ws_connections == 4
    assert venue.stats.rate_limited == 0
    assert 0 < venue.stats.max_window_weight <= 70


async def test_dead_link_is_detected_and_recovered(
    hl_rt: Runtime, venue: HyperliquidVenue, autojump_clock: object
) -> None:
    async with streaming(hl_rt) as stream:
        venue.faults.stall = True
        await trio.sleep(75)
        venue.faults.stall = False
        with trio.fail_after(120):
            while stream.stats.backfills < 2:
                await trio.sleep(1)
        await trio.sleep(30)
    notes = " ".join(r["error"] or "" for r in rows(hl_rt, "SELECT error FROM ingestion_runs"))
    assert "dead link" in notes
    assert_closed_bars_match_venue(hl_rt, venue, "BTC")


@pytest.mark.engines
async def test_execution_price_falls_back_to_candle_close_when_mids_stop(
    hl_rt: Runtime, venue: HyperliquidVenue, autojump_clock: object
) -> None:
    def price() -> ExecutionPrice | None:
        conn = engine.open_ro(hl_rt.database)
        try:
            return reads.execution_price(conn, "BTC", venue.clock.now_ms(), max_mid_age_ms=15_000)
        finally:
            conn.close()

    async with streaming(hl_rt):
        await trio.sleep(20)
        fresh = price()
        assert fresh is not None and fresh.source == "mid" and fresh.age_ms <= 6000
        venue.faults.stall = True  # mids (and everything else) stop
        await trio.sleep(25)
        stale = price()
    assert stale is not None and stale.source == "candle_close"
    last = rows(
        hl_rt,
        "SELECT close FROM hyperliquid_candles WHERE coin='BTC' ORDER BY open_time_ms DESC LIMIT 1",
    )[0]
    assert stale.price == last["close"] and stale.age_ms > 15_000


async def test_subscriptions_are_spread_and_sends_paced(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, autojump_clock: object
) -> None:
    """4 subscriptions, 2 per socket, 3 client messages per minute (pings included)."""
    config = hl_config(
        "ws_subscriptions_per_connection = 2\nws_messages_per_minute = 3\n"
        "ws_ping_interval_s = 20\n",
    )
    async with pipeline(config, venue) as rt, streaming(rt) as stream:
        assert len(stream.connections) == 2
        assert venue.stats.ws_max_open == 2 and venue.stats.ws_max_subscriptions == 4
        await trio.sleep(180)
    assert 0 < venue.stats.ws_max_messages_per_minute <= 3
    assert stream.stats.reconnects == 0  # pacing pings never let a link fall silent
    assert venue.stats.frames_sent["pong"] >= 2
