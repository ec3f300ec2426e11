"""Candle channel runs with stale or absent input: what they write and how they are recorded.

Candles go through the bus and the writer as the stream would publish them; the window keeper
feeds the windows; runs are executed one by one and read back from ``ingestion_runs``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import CandleBatch, RunFinished
from marketmem.executors import inline_executor
from marketmem.features.jobs import JOBS, NO_CANDLES
from marketmem.features.state import FeatureState, open_state
from marketmem.features.technical import COLUMNS as TECHNICAL_COLUMNS
from marketmem.pipeline import open_pipeline
from marketmem.runs import RunContext, execute_run
from marketmem.runtime import Runtime
from marketmem.storage import engine
from marketmem.storage.reads.features import latest_features
from tests.conftest import T0_MS, minute_candle
from tests.features.test_features_actor import read

MINUTE_MS = 60_000
T0_MIN = T0_MS // MINUTE_MS  # an hour boundary
CANDLE_CHANNELS = ("technical_indicators", "volatility_profiles")
HOUR_VOLATILITY = ("rv_7d", "parkinson_7d", "garman_klass_7d", "atr_pct_1h", "regime")


@asynccontextmanager
async def pipeline(
    make_config: Callable[..., Config], coins: list[str]
) -> AsyncIterator[tuple[Runtime, FeatureState]]:
    """A pipeline tracking ``coins``, with the feature state's window keeper running."""
    cfg = make_config(f"[hyperliquid]\ncoins = {json.dumps(coins)}\n")
    clock = TrioWallClock(T0_MS)
    async with (
        open_pipeline(cfg, clock=clock, executor=inline_executor) as rt,
        trio.open_nursery() as nursery,
    ):
        st = open_state(rt)
        await nursery.start(st.keeper.run)
        yield rt, st
        nursery.cancel_scope.cancel()


async def publish_minutes(rt: Runtime, coin: str, first: int, last: int) -> None:
    """Minutes ``first``..``last`` (minutes since the epoch), the forming one not closed."""
    now = rt.clock.now_ms()
    rows = [
        minute_candle(m, coin=coin, close=1.5 + (m % 7) / 10, closed=(m + 1) * MINUTE_MS <= now)
        for m in range(first, last + 1)
    ]
    await rt.bus.publish(CandleBatch(rows=rows))
    await trio.sleep(1)  # committed, and applied by the keeper


async def sleep_until_ms(rt: Runtime, wall_ms: int) -> None:
    await trio.sleep(max(0, wall_ms - rt.clock.now_ms()) / 1000)


async def run_candle_channel(rt: Runtime, st: FeatureState, channel: str) -> RunFinished:
    async def job(ctx: RunContext) -> None:
        await JOBS[channel](ctx, st)

    return await execute_run(rt, "hyperliquid", channel, job)


async def run_candle_channels(rt: Runtime, st: FeatureState) -> dict[str, RunFinished]:
    return {c: await run_candle_channel(rt, st, c) for c in CANDLE_CHANNELS}


def stored_runs(rt: Runtime, channel: str) -> list[dict[str, Any]]:
    return read(
        rt,
        "SELECT status, rows_written, error FROM ingestion_runs "
        "WHERE source='hyperliquid' AND channel=? ORDER BY started_at_ms",
        (channel,),
    )


def latest_row(rt: Runtime, table: str, coin: str) -> dict[str, Any]:
    rows = read(
        rt, f"SELECT * FROM {table} WHERE coin=? ORDER BY computed_at_ms DESC LIMIT 1", (coin,)
    )
    assert rows, (table, coin)
    row = rows[0]
    row["null_reasons"] = json.loads(row["null_reasons"] or "{}")
    return row


@pytest.mark.parametrize("stopped_min", [20, 70])
async def test_hour_values_go_stale_when_the_minute_feed_stops(
    make_config: Callable[..., Config], autojump_clock: object, stopped_min: int
) -> None:
    async with pipeline(make_config, ["BTC", "ETH"]) as (rt, st):
        # A day of minutes for both coins; the last one is the first minute of an hour.
        await publish_minutes(rt, "BTC", T0_MIN - 1499, T0_MIN)
        await publish_minutes(rt, "ETH", T0_MIN - 1499, T0_MIN)
        await trio.sleep(4 * 60)
        fresh = await run_candle_channels(rt, st)
        # BTC's feed stops after that minute (it closes at T0_MIN + 1); ETH's goes on.
        await sleep_until_ms(rt, (T0_MIN + 1 + stopped_min) * MINUTE_MS)
        await publish_minutes(rt, "ETH", T0_MIN + 1, rt.clock.now_ms() // MINUTE_MS)
        stopped = await run_candle_channels(rt, st)
        assert stopped_min * MINUTE_MS < rt.clock.now_ms() - (T0_MIN + 1) * MINUTE_MS
    for channel in CANDLE_CHANNELS:
        assert (fresh[channel].status, fresh[channel].rows_written) == ("ok", 2), channel
        # Only ETH had input: BTC's row is written (NULLs and reasons) but not counted.
        assert (stopped[channel].status, stopped[channel].rows_written) == ("ok", 1), channel
        assert "for 1 of 2 coin(s)" in (stopped[channel].error or "") and "BTC" in (
            stopped[channel].error or ""
        )
        assert [r["rows_written"] for r in stored_runs(rt, channel)] == [2, 1]
    first = read(
        rt,
        "SELECT h1_close, m1_close FROM hyperliquid_technical_indicators WHERE coin='BTC' "
        "ORDER BY computed_at_ms LIMIT 1",
    )[0]
    assert first["h1_close"] is not None and first["m1_close"] is not None  # before the stop
    tech = latest_row(rt, "hyperliquid_technical_indicators", "BTC")
    hour_columns = [c for c in TECHNICAL_COLUMNS if c.startswith("h1_")]
    assert all(tech[c] is None and tech["null_reasons"][c] == "stale" for c in hour_columns)
    assert all(tech["null_reasons"][c] == "stale" for c in TECHNICAL_COLUMNS)
    vol = latest_row(rt, "hyperliquid_volatility_profiles", "BTC")
    assert all(vol[c] is None and vol["null_reasons"][c] == "stale" for c in HOUR_VOLATILITY)
    eth = latest_row(rt, "hyperliquid_technical_indicators", "ETH")
    assert eth["h1_close"] is not None and eth["m1_close"] is not None


async def test_an_empty_database_fails_the_candle_channels(
    runtime: Runtime, autojump_clock: object
) -> None:
    # As with every venue unreachable: no candle for any of the default coins.
    results = await run_candle_channels(runtime, open_state(runtime))
    await trio.sleep(1)
    for channel, result in results.items():
        assert result.status == "failed", channel
        # The recorder names the exception type before the message, as for every failed run.
        error = "FeatureRunFailed: no input: hyperliquid/candles has no data"
        assert (result.error, result.rows_written) == (error, 0), channel
        assert stored_runs(runtime, channel) == [
            {"status": "failed", "rows_written": 0, "error": error}
        ]
    # The NULL rows are there all the same, with their reasons, for the latest data.
    conn = engine.open_ro(runtime.database)
    try:
        latest = latest_features(conn, "BTC")
    finally:
        conn.close()
    for channel in CANDLE_CHANNELS:
        row = latest[channel]
        assert row is not None, channel
        assert set(row.null_reasons.values()) == {"too_few_candles"}, channel
    rows = read(runtime, "SELECT coin FROM hyperliquid_technical_indicators ORDER BY coin")
    assert [r["coin"] for r in rows] == ["BTC", "ETH", "HYPE", "SOL"]


async def test_a_coin_without_candles_is_noted_and_not_counted(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with pipeline(make_config, ["BTC", "ETH"]) as (rt, st):
        await publish_minutes(rt, "BTC", T0_MIN - 120, T0_MIN)
        results = await run_candle_channels(rt, st)
    for channel, result in results.items():
        assert (result.status, result.rows_written) == ("ok", 1), channel
        assert "for 1 of 2 coin(s)" in (result.error or ""), channel
        assert result.error is not None and result.error.endswith(": ETH"), channel
        assert stored_runs(rt, channel) == [
            {"status": "ok", "rows_written": 1, "error": result.error}
        ]
    eth = latest_row(rt, "hyperliquid_technical_indicators", "ETH")
    assert eth["m1_close"] is None and eth["null_reasons"]["m1_close"] == "too_few_candles"
    btc = latest_row(rt, "hyperliquid_technical_indicators", "BTC")
    assert btc["m1_close"] is not None


async def test_only_stale_candles_fail_the_run(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with pipeline(make_config, ["BTC", "ETH"]) as (rt, st):
        await publish_minutes(rt, "BTC", T0_MIN - 120, T0_MIN)
        await trio.sleep(16 * 60)
        results = await run_candle_channels(rt, st)
    for channel, result in results.items():
        assert result.status == "failed" and result.rows_written == 0, channel
        assert result.error == f"FeatureRunFailed: {NO_CANDLES} newer than 900 s", channel
        assert stored_runs(rt, channel)[0]["rows_written"] == 0
    btc = latest_row(rt, "hyperliquid_volatility_profiles", "BTC")
    assert btc["null_reasons"]["close"] == "stale"


async def test_the_first_pass_waits_for_the_streams_first_backfill(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with pipeline(make_config, ["BTC", "ETH"]) as (rt, st):
        t0 = trio.current_time()
        async with trio.open_nursery() as nursery:
            results: dict[str, RunFinished] = {}

            async def run(channel: str) -> None:
                results[channel] = await run_candle_channel(rt, st, channel)

            for channel in CANDLE_CHANNELS:
                nursery.start_soon(run, channel)
            await trio.sleep(5)  # the backfill arrives coin by coin
            await publish_minutes(rt, "BTC", T0_MIN - 300, T0_MIN + 5)
            await trio.sleep(3)
            await publish_minutes(rt, "ETH", T0_MIN - 300, T0_MIN + 8)
        assert trio.current_time() - t0 < 15  # waited for the bars, not the whole timeout
        for channel, result in results.items():
            assert (result.status, result.rows_written, result.error) == ("ok", 2, None), channel
        # Later passes never wait: with the feed gone for good they fail at once.
        await trio.sleep(3600)
        t1 = trio.current_time()
        late = await run_candle_channel(rt, st, "technical_indicators")
        assert trio.current_time() - t1 < 1
        assert late.status == "failed"
