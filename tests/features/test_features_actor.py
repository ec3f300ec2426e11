"""The feature channels end to end: the local Hyperliquid venue, the bus, the writer, MockClock.

Candles reach the bus as the stream would publish them (taken from the venue's simulator), the
window keeper feeds the windows, the Hyperliquid context poller fetches the snapshot inputs
and the context feed keeps them, the scheduler runs the five channels every 300 s, and the
rows and ``ingestion_runs`` are read back from SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import Candle, CandleBatch, RunFinished
from marketmem.executors import inline_executor
from marketmem.features.build import build
from marketmem.features.keeper import WindowKeeper
from marketmem.features.state import open_state
from marketmem.features.tables import CHANNEL_TABLES
from marketmem.features.windows import CandleWindows
from marketmem.pipeline import open_pipeline
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.scheduler import Scheduler
from marketmem.sources.hyperliquid.build import CONTEXT_ACTOR
from marketmem.sources.hyperliquid.build import build as build_hyperliquid
from marketmem.sources.hyperliquid.resources import HyperliquidResources, open_resources
from marketmem.storage import engine
from marketmem.storage.models.features import LiquidityProfileRow
from marketmem.storage.reads.features import latest_features
from marketmem.venues.hyperliquid import HyperliquidVenue
from marketmem.venues.simulator import DEFAULT_ASSETS, Bar
from tests.conftest import T0_MS

CHANNELS = tuple(CHANNEL_TABLES)
COINS = ("BTC", "ETH")
ASSETS = tuple(a for a in DEFAULT_ASSETS if a.name in ("BTC", "ETH", "MATIC"))


def context_poller(rt: Runtime, res: HyperliquidResources) -> ActorSpec:
    """The Hyperliquid context poller's spec (the source's other actors are not wanted here)."""
    (spec,) = (
        s
        for s in build_hyperliquid(rt, res)
        if isinstance(s, ActorSpec) and s.name == CONTEXT_ACTOR
    )
    return spec


def candle(bar: Bar, now_ms: int) -> Candle:
    return Candle(
        coin=bar.coin,
        interval="1m",
        open_time_ms=bar.open_ms,
        close_time_ms=bar.close_ms,
        open=float(bar.o),
        high=float(bar.h),
        low=float(bar.low),
        close=float(bar.c),
        volume=float(bar.v),
        trades=bar.n,
        closed=bar.close_ms < now_ms,
        updated_at_ms=now_ms,
    )


async def feed_candles(rt: Runtime, venue: HyperliquidVenue, history_ms: int) -> None:
    """Publish the venue's 1m bars as the candle stream would: history, then every minute."""
    since = rt.clock.now_ms() - history_ms
    while True:
        now = rt.clock.now_ms()
        venue.sim.advance_to(now)
        rows = [candle(b, now) for c in COINS for b in venue.sim.candles(c, "1m", since, now)]
        await rt.bus.publish(CandleBatch(rows=rows))
        since = now - 120_000
        await trio.sleep(60)


@asynccontextmanager
async def service(
    make_config: Callable[..., Config],
    *,
    configure: Callable[[HyperliquidVenue], None] = lambda v: None,
) -> AsyncIterator[tuple[Runtime, HyperliquidVenue]]:
    clock = TrioWallClock(T0_MS)
    venue = HyperliquidVenue(clock, assets=ASSETS, history_minutes=300)
    configure(venue)
    async with trio.open_nursery() as outer:
        addr = await outer.start(venue.run)
        channels = "\n".join(f"{c} = {{ enabled = true, cadence_s = 300 }}" for c in CHANNELS)
        cfg = make_config(
            f'[hyperliquid]\ninfo_url = "{addr.info_url}"\ncoins = ["BTC", "ETH"]\n'
            "info_attempts = 2\n"
            f"[hyperliquid.channels]\n{channels}\n"
        )
        async with (
            open_pipeline(cfg, clock=clock, executor=inline_executor) as rt,
            open_resources(cfg) as res,
        ):
            specs = build(rt)
            polls = [s for s in specs if isinstance(s, ChannelSpec)]
            # NOTE: the feature actors and jobs of one build() share one context feed.
            actors = [s for s in specs if isinstance(s, ActorSpec)] + [context_poller(rt, res)]
            async with trio.open_nursery() as inner:
                inner.start_soon(feed_candles, rt, venue, 300 * 60_000)
                for actor in actors:
                    await inner.start(actor.run)
                await inner.start(Scheduler(rt, polls).run)
                yield rt, venue
                inner.cancel_scope.cancel()
        outer.cancel_scope.cancel()


def read(rt: Runtime, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = engine.open_ro(rt.database)
    try:
        return engine.query(conn, sql, params)
    finally:
        conn.close()


def runs(rt: Runtime) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in CHANNELS}
    for r in read(rt, "SELECT * FROM ingestion_runs ORDER BY started_at_ms"):
        if r["source"] == "hyperliquid" and r["channel"] in out:
            out[r["channel"]].append(r)
    return out


async def test_five_channels_write_rows_every_300_s(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with service(make_config) as (rt, venue):
        await trio.sleep(650)
    by_channel = runs(rt)
    for channel, upsert in CHANNEL_TABLES.items():
        assert [r["status"] for r in by_channel[channel]] == ["ok"] * 3, channel
        assert all(r["rows_written"] >= 2 for r in by_channel[channel]), channel
        rows = read(rt, f"SELECT coin, computed_at_ms FROM {upsert.table}")
        times = sorted({r["computed_at_ms"] for r in rows})
        assert [t - times[0] for t in times] == [0, 300_000, 600_000], channel
        assert {r["coin"] for r in rows} == set(COINS), channel
    last = max(
        r["computed_at_ms"] for r in read(rt, "SELECT * FROM hyperliquid_technical_indicators")
    )
    tech = read(
        rt,
        "SELECT * FROM hyperliquid_technical_indicators WHERE coin='BTC' AND computed_at_ms=?",
        (last,),
    )[0]
    assert tech["m1_close"] is not None and tech["m1_rsi_14"] is not None
    assert tech["window_end_ms"] is not None
    # The forming hour bar ends in the future; the window it covers does not.
    assert tech["window_start_ms"] < tech["window_end_ms"] <= tech["computed_at_ms"] + 1_000
    pos = read(
        rt,
        "SELECT * FROM hyperliquid_positioning_pressure WHERE coin='ETH' ORDER BY computed_at_ms",
    )
    assert pos[0]["oi_change_pct_5m"] is None and "no_history" in pos[0]["null_reasons"]
    assert pos[-1]["oi_change_pct_5m"] is not None and pos[-1]["quadrant_5m"] is not None
    fund = read(rt, "SELECT * FROM hyperliquid_funding_pressure WHERE coin='BTC'")
    assert all(
        f["funding_history_points"] >= 160 and f["funding_zscore_7d"] is not None for f in fund
    )
    liq = read(rt, "SELECT * FROM hyperliquid_liquidity_profiles WHERE coin='BTC'")
    assert all(r["spread_bps"] is not None and r["day_ntl_vlm"] is not None for r in liq)
    impacts = read(rt, "SELECT * FROM hyperliquid_liquidity_impacts")
    assert len(impacts) == 3 * 2 * 3 * 2  # runs x coins x notionals x sides
    snaps = read(rt, "SELECT DISTINCT snapshot_ms FROM hyperliquid_asset_ctx_snapshots")
    assert len(snaps) == 3
    conn = engine.open_ro(rt.database)
    try:
        latest = latest_features(conn, "BTC")
        assert latest_features(conn, "NOPE") == dict.fromkeys(CHANNELS)
    finally:
        conn.close()
    assert set(latest) == set(CHANNELS)
    assert all(row is not None and row.computed_at_ms == last for row in latest.values())
    assert latest["technical_indicators"].m1_close == tech["m1_close"]  # type: ignore[union-attr]
    liq_latest = latest["liquidity_profiles"]
    assert isinstance(liq_latest, LiquidityProfileRow) and len(liq_latest.impacts) == 6
    assert isinstance(latest["positioning_pressure"].null_reasons, dict)  # type: ignore[union-attr]
    # The two l2Book requests of a run are spread out (0.5 s apart), not fired at once.
    assert all(
        r["finished_at_ms"] - r["started_at_ms"] >= 500 for r in by_channel["liquidity_profiles"]
    )
    # One metaAndAssetCtxs answer served the three channels of each tick.
    assert venue.stats.info_requests["metaAndAssetCtxs"] == 3
    assert venue.stats.info_requests["l2Book"] == 3 * 2


@pytest.mark.parametrize(
    ("request_type", "failing"),
    [
        ("metaAndAssetCtxs", {"funding_pressure", "positioning_pressure"}),
        ("l2Book", {"liquidity_profiles"}),
    ],
)
async def test_a_failing_endpoint_fails_only_the_channels_that_need_it(
    make_config: Callable[..., Config],
    autojump_clock: object,
    request_type: str,
    failing: set[str],
) -> None:
    def configure(venue: HyperliquidVenue) -> None:
        venue.faults.info_fail("500", 1000, request_type=request_type)

    async with service(make_config, configure=configure) as (rt, _):
        await trio.sleep(100)
    by_channel = runs(rt)
    for channel in CHANNELS:
        statuses = [r["status"] for r in by_channel[channel]]
        assert statuses == (["failed"] if channel in failing else ["ok"]), channel
        if channel in failing:
            assert "HTTP 500" in (by_channel[channel][0]["error"] or ""), channel
    if request_type == "metaAndAssetCtxs":
        # Liquidity still writes its book columns, with the context ones NULL and a note.
        liq = read(rt, "SELECT * FROM hyperliquid_liquidity_profiles")
        assert len(liq) == 2 and all(r["venue_impact_bid_px"] is None for r in liq)
        assert "source_unavailable" in liq[0]["null_reasons"]
        assert "metaAndAssetCtxs unavailable" in (
            by_channel["liquidity_profiles"][0]["error"] or ""
        )


async def test_one_bad_coin_is_noted_and_the_others_get_rows(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    clock = TrioWallClock(T0_MS)
    venue = HyperliquidVenue(clock, assets=ASSETS, history_minutes=30)
    async with trio.open_nursery() as outer:
        addr = await outer.start(venue.run)
        snapshot_channels = ("funding_pressure", "liquidity_profiles", "positioning_pressure")
        channels = "\n".join(f"{c} = {{ enabled = true }}" for c in snapshot_channels)
        cfg = make_config(
            f'[hyperliquid]\ninfo_url = "{addr.info_url}"\ncoins = ["BTC", "NOPE", "MATIC"]\n'
            f"info_attempts = 1\n[hyperliquid.channels]\n{channels}\n"
        )
        async with (
            open_pipeline(cfg, clock=clock, executor=inline_executor) as rt,
            open_resources(cfg) as res,
        ):
            from marketmem.runs import execute_run

            # The three runs of one tick, as the scheduler starts them, beside the context
            # poller (which ticks with them) and the feature actors.
            specs = build(rt)
            jobs = {s.channel: s.job for s in specs if isinstance(s, ChannelSpec)}
            actors = [s for s in specs if isinstance(s, ActorSpec)] + [context_poller(rt, res)]
            results: dict[str, RunFinished] = {}

            async def one(channel: str) -> None:
                results[channel] = await execute_run(rt, "hyperliquid", channel, jobs[channel])

            async with trio.open_nursery() as inner:
                for actor in actors:
                    await inner.start(actor.run)
                async with trio.open_nursery() as runs_:
                    for c in snapshot_channels:
                        runs_.start_soon(one, c)
                inner.cancel_scope.cancel()
        outer.cancel_scope.cancel()
    for channel, result in results.items():
        assert result.status == "ok", channel
        assert "NOPE" in (result.error or ""), channel
    assert "2 of 3 coin(s) failed" in (results["funding_pressure"].error or "")
    assert "delisted" in (results["funding_pressure"].error or "")
    # The delisted coin's book is empty (rows with NULLs); the unknown coin has none.
    liq = read(rt, "SELECT coin, null_reasons FROM hyperliquid_liquidity_profiles ORDER BY coin")
    assert [r["coin"] for r in liq] == ["BTC", "MATIC"]
    assert "empty_book_side" in liq[1]["null_reasons"]
    assert [r["coin"] for r in read(rt, "SELECT coin FROM hyperliquid_funding_pressure")] == ["BTC"]


async def test_dropped_candle_batches_trigger_a_reseed(
    runtime: Runtime, autojump_clock: object
) -> None:
    windows = CandleWindows()
    keeper = WindowKeeper(runtime, windows, inline_executor, buffer=1)
    batches = [
        CandleBatch(
            rows=[
                Candle(
                    coin="BTC",
                    interval="1m",
                    open_time_ms=T0_MS - (10 - i) * 60_000,
                    close_time_ms=T0_MS - (10 - i) * 60_000 + 59_999,
                    open=1.0,
                    high=2.0,
                    low=0.5,
                    close=1.0 + i,
                    volume=1.0,
                    trades=1,
                    closed=True,
                    updated_at_ms=T0_MS,
                )
            ]
        )
        for i in range(3)
    ]
    await keeper.ensure_fresh()  # the start seed: nothing stored yet
    assert keeper.seeds == 1 and not windows.coins
    for b in batches:
        await runtime.bus.publish(b)  # a buffer of one: two of them are dropped
    await trio.sleep(1)  # the writer commits them (it is lossless)
    keeper.live = True  # as if the actor were running but had fallen behind
    await keeper.ensure_fresh()
    assert keeper.seeds == 2
    assert windows.minutes("BTC").closes == [1.0, 2.0, 3.0]
    await keeper.ensure_fresh()
    assert keeper.seeds == 2  # no new drops: no reseed


async def test_a_job_without_the_actor_seeds_its_windows_itself(
    runtime: Runtime, autojump_clock: object
) -> None:
    bars = [
        Candle(
            coin="BTC",
            interval="1m",
            open_time_ms=T0_MS - (60 - i) * 60_000,
            close_time_ms=T0_MS - (60 - i) * 60_000 + 59_999,
            open=100.0 + i,
            high=101.0 + i,
            low=99.0 + i,
            close=100.5 + i,
            volume=2.0,
            trades=1,
            closed=True,
            updated_at_ms=T0_MS,
        )
        for i in range(60)
    ]
    await runtime.bus.publish(CandleBatch(rows=bars))
    await trio.sleep(1)
    from marketmem.runs import execute_run

    st = open_state(runtime)
    specs = {s.channel: s for s in build(runtime, st) if isinstance(s, ChannelSpec)}
    result = await execute_run(
        runtime, "hyperliquid", "technical_indicators", specs["technical_indicators"].job
    )
    # Of the default coins only BTC has candles: the others' NULL rows are not counted.
    assert result.status == "ok" and result.rows_written == 1
    assert "for 3 of 4 coin(s)" in (result.error or "")
    assert "ETH, SOL, HYPE" in (result.error or "")
    assert st.keeper.seeds == 1 and len(st.windows.minutes("BTC")) == 60
    await trio.sleep(1)
    rows = read(runtime, "SELECT * FROM hyperliquid_technical_indicators WHERE coin='BTC'")
    assert rows[0]["m1_close"] == 159.5 and rows[0]["m1_sma_50"] is not None
    eth = read(runtime, "SELECT * FROM hyperliquid_technical_indicators WHERE coin='ETH'")
    assert eth[0]["m1_close"] is None and "too_few_candles" in eth[0]["null_reasons"]
