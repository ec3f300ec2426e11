"""The context feed: which of the poller's events a run at T uses, waiting for them, and the
snapshot jobs reading them (the poller is played by hand-made events on the bus)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import trio
import trio.testing

from marketmem.bus import Bus
from marketmem.config import Config
from marketmem.events import (
    AssetContexts,
    AssetCtxSnapshot,
    ContextUnavailable,
    FundingHistory,
    L2Book,
    L2BookSweep,
    OrderBook,
    PredictedFunding,
    PredictedFundings,
    RunFinished,
)
from marketmem.executors import inline_executor
from marketmem.features.build import build
from marketmem.features.feed import BUFFER, NOT_FED, START_GRACE_S, ContextFeed, RunInputs
from marketmem.pipeline import open_pipeline
from marketmem.runs import execute_run
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from tests.conftest import T0_MS
from tests.features.test_features_actor import read

MAX_AGE_MS = 60_000


def snapshot(coin: str, t: int, mark: float = 100.0) -> AssetCtxSnapshot:
    return AssetCtxSnapshot(
        coin=coin,
        snapshot_ms=t,
        mark_px=mark,
        oracle_px=mark,
        mid_px=mark,
        funding=0.0000125,
        premium=0.0,
        open_interest=10.0,
        prev_day_px=mark,
        day_ntl_vlm=1e6,
        day_base_vlm=1e4,
        impact_bid_px=mark - 0.1,
        impact_ask_px=mark + 0.1,
    )


def contexts(t: int, *coins: str) -> AssetContexts:
    return AssetContexts(tick_ms=t, by_coin={c: snapshot(c, t) for c in coins or ("BTC",)})


def failed(t: int, kind: str, coin: str = "") -> ContextUnavailable:
    return ContextUnavailable(tick_ms=t, kind=kind, coin=coin, error=f"HTTP 500 at {t}")


def book(t: int, coin: str) -> L2Book:
    levels = [(100.0, 1.0), (99.0, 2.0)]
    asks = [(101.0, 1.0), (102.0, 2.0)]
    return L2Book(tick_ms=t, book=OrderBook(coin=coin, time_ms=t, bids=levels, asks=asks))


# --- what a run uses (pure reads) ------------------------------------------------------------


def test_a_context_serves_while_younger_than_ctx_max_age() -> None:
    feed = ContextFeed(Bus(), subscribe=False)
    t = T0_MS
    assert feed.asset_contexts(t, MAX_AGE_MS, t - 1000) is None  # nothing yet: wait
    feed.apply(contexts(t))
    assert feed.asset_contexts(t + 59_999, MAX_AGE_MS, t + 58_999) is feed.contexts
    # Exactly ctx_max_age_s old is too old: the run waits for the one of its tick.
    assert feed.asset_contexts(t + 60_000, MAX_AGE_MS, t + 59_000) is None
    # A poller tick a few ms after the run started is the run's own.
    later = contexts(t + 60_003)
    feed.apply(later)
    assert feed.asset_contexts(t + 60_000, MAX_AGE_MS, t + 59_000) is later


def test_only_a_failure_of_the_runs_own_tick_fails_it() -> None:
    feed = ContextFeed(Bus(), subscribe=False)
    t = T0_MS
    feed.apply(contexts(t))
    feed.apply(failed(t + 300_000, "metaAndAssetCtxs"))
    # At 300 s the old context is too old and the failure is this tick's.
    got = feed.asset_contexts(t + 300_000, MAX_AGE_MS, t + 299_000)
    assert isinstance(got, ContextUnavailable) and got.error == f"HTTP 500 at {t + 300_000}"
    # The next tick does not take the previous tick's failure: it waits for its own answer.
    assert feed.asset_contexts(t + 600_000, MAX_AGE_MS, t + 599_000) is None
    # A failure does not hide a context still young enough.
    feed.apply(contexts(t + 600_000))
    feed.apply(failed(t + 630_000, "metaAndAssetCtxs"))
    assert feed.asset_contexts(t + 630_000, MAX_AGE_MS, t + 629_000) is feed.contexts


def test_answers_and_books_are_those_of_the_runs_tick() -> None:
    feed = ContextFeed(Bus(), subscribe=False)
    t = T0_MS
    feed.apply(PredictedFundings(tick_ms=t, by_coin={}))
    feed.apply(L2BookSweep(tick_ms=t, coins=["BTC", "ETH"]))
    feed.apply(book(t, "BTC"))
    feed.apply(failed(t, "l2Book", "ETH"))
    assert feed.answer("predictedFundings", t - 1000) is not None
    assert feed.answer("predictedFundings", t + 299_000) is None  # the next tick's run
    assert feed.answer("fundingHistory", t - 1000) is None
    sweep = feed.answer("l2Book", t - 1000)
    assert isinstance(sweep, L2BookSweep) and sweep.coins == ["BTC", "ETH"]
    assert isinstance(feed.book("BTC", t), L2Book)
    eth = feed.book("ETH", t)
    assert isinstance(eth, ContextUnavailable) and eth.coin == "ETH"
    assert feed.book("SOL", t) is None
    assert feed.book("BTC", t + 300_000) is None  # the next sweep's run waits for its own
    # A skipped sweep (no coin) takes the sweep's place.
    feed.apply(failed(t + 300_000, "l2Book"))
    assert isinstance(feed.answer("l2Book", t + 299_000), ContextUnavailable)


def test_an_unexpected_event_is_logged_not_kept(caplog: pytest.LogCaptureFixture) -> None:
    feed = ContextFeed(Bus(), subscribe=False)
    with caplog.at_level(logging.ERROR):
        feed.apply(failed(T0_MS, "fundingHistory", "BTC"))
    assert "unexpected fundingHistory failure for one coin" in caplog.text
    assert feed.applied == 0 and feed.answer("fundingHistory", 0) is None


# --- waiting -------------------------------------------------------------------------------


async def test_a_run_that_starts_before_the_poller_answered_waits_for_it(
    autojump_clock: object,
) -> None:
    bus = Bus()
    feed = ContextFeed(bus)
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        # The run and the poller tick at the same instant; the run asks first.
        inputs = RunInputs(feed, T0_MS, cadence_s=300, max_age_s=60)
        assert await inputs.fed() is None
        got: list[object] = []

        async def run() -> None:
            got.append(await inputs.asset_contexts())
            got.append(await inputs.answer("predictedFundings"))

        nursery.start_soon(run)
        await trio.sleep(2)  # the poller's request takes a while
        assert got == []
        await bus.publish(contexts(T0_MS))
        await bus.publish(failed(T0_MS, "predictedFundings"))
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    assert isinstance(got[0], AssetContexts)
    assert got[1] == f"HTTP 500 at {T0_MS}"


async def test_an_input_that_never_comes_times_out_with_the_reason(
    autojump_clock: object,
) -> None:
    bus = Bus()
    feed = ContextFeed(bus, buffer=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        t0 = trio.current_time()
        inputs = RunInputs(feed, T0_MS, cadence_s=100, max_age_s=60)
        why = await inputs.asset_contexts()
        assert trio.current_time() - t0 == pytest.approx(90)  # 90% of the cadence
        assert why == "no answer from the hyperliquid context poller within 90 s"
        nursery.cancel_scope.cancel()


async def test_without_the_feed_running_a_run_gives_up_soon(autojump_clock: object) -> None:
    feed = ContextFeed(Bus())
    t0 = trio.current_time()
    assert await RunInputs(feed, T0_MS, cadence_s=300, max_age_s=60).fed() == NOT_FED
    assert trio.current_time() - t0 == pytest.approx(START_GRACE_S)


async def test_a_stalled_feed_never_holds_the_poller_back(autojump_clock: object) -> None:
    bus = Bus()
    feed = ContextFeed(bus)  # subscribed, its actor not draining
    t0 = trio.current_time()
    for i in range(BUFFER + 10):
        await bus.publish(contexts(T0_MS + i))
    assert trio.current_time() == t0
    assert feed.dropped() == 10
    inputs = RunInputs(feed, T0_MS + 10 * 60_000, cadence_s=10, max_age_s=60)
    with trio.move_on_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(feed.run)
            await trio.testing.wait_all_tasks_blocked()
            # The oldest were dropped: the newest is there. A run missing one says why.
            assert isinstance(feed.contexts, AssetContexts)
            assert feed.contexts.tick_ms == T0_MS + BUFFER + 9
            assert "dropped 10 context event(s)" in await inputs.answer("l2Book")  # type: ignore[operator]
            nursery.cancel_scope.cancel()


# --- the snapshot jobs on hand-made events ----------------------------------------------------

SNAPSHOT_CHANNELS = ("funding_pressure", "liquidity_profiles", "positioning_pressure")


async def run_channels(
    make_config: Callable[..., Config], publish: Callable[[Runtime], list[object]]
) -> tuple[Runtime, dict[str, RunFinished]]:
    """Start the feature actors, run the three snapshot channels of one tick at T0 while the
    events ``publish(rt)`` returns are published (as the poller would), return the runs."""
    channels = "\n".join(f"{c} = {{ enabled = true, cadence_s = 300 }}" for c in SNAPSHOT_CHANNELS)
    cfg = make_config(
        f'[hyperliquid]\ncoins = ["BTC", "ETH"]\n[hyperliquid.channels]\n{channels}\n'
    )
    from marketmem.clock import TrioWallClock

    results: dict[str, RunFinished] = {}
    async with open_pipeline(cfg, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        specs = build(rt)
        jobs = {s.channel: s.job for s in specs if isinstance(s, ChannelSpec)}
        async with trio.open_nursery() as nursery:
            for actor in specs:
                if isinstance(actor, ActorSpec):
                    await nursery.start(actor.run)

            async def one(channel: str) -> None:
                results[channel] = await execute_run(rt, "hyperliquid", channel, jobs[channel])

            async with trio.open_nursery() as runs:
                for c in SNAPSHOT_CHANNELS:
                    runs.start_soon(one, c)
                await trio.sleep(1)  # the runs start first: the start-up race
                for event in publish(rt):
                    await rt.bus.publish(event)  # type: ignore[arg-type]
                    await trio.sleep(0.5)
            nursery.cancel_scope.cancel()
    return rt, results


async def test_the_jobs_compute_from_the_events_of_their_tick(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    def events(rt: Runtime) -> list[object]:
        t = rt.clock.now_ms() - 1000  # the tick the runs started at
        pred = PredictedFunding(0.0001, t + 3_600_000, 1e-5, None)
        history = {"BTC": [(t - k * 3_600_000, 1e-5 * (1 + k % 3)) for k in range(48, 0, -1)]}
        return [
            contexts(t, "BTC", "ETH"),
            PredictedFundings(tick_ms=t, by_coin={"BTC": pred}),
            FundingHistory(tick_ms=t, points=history, failures={"ETH": "HTTP 500"}),
            L2BookSweep(tick_ms=t, coins=["BTC", "ETH"]),
            book(t, "BTC"),
            failed(t, "l2Book", "ETH"),
        ]

    rt, results = await run_channels(make_config, events)
    funding = results["funding_pressure"]
    liquidity = results["liquidity_profiles"]
    positioning = results["positioning_pressure"]
    assert funding.status == "ok"
    assert "fundingHistory failed for 1 coin(s): ETH: HTTP 500" in funding.error
    assert positioning.status == "ok" and positioning.error is None
    # Positioning's rows: two pressure rows and the two snapshots it stored.
    assert positioning.rows_written == 4
    assert liquidity.status == "ok"
    assert f"ETH: HTTP 500 at {T0_MS}" in liquidity.error
    fund = read(rt, "SELECT * FROM hyperliquid_funding_pressure ORDER BY coin")
    assert [r["coin"] for r in fund] == ["BTC", "ETH"]
    assert fund[0]["predicted_funding_rate"] == 0.0001 and fund[0]["funding_history_points"] == 48
    assert fund[0]["window_end_ms"] == T0_MS
    assert "source_unavailable" in fund[1]["null_reasons"]  # ETH: its history fetch failed
    liq = read(rt, "SELECT * FROM hyperliquid_liquidity_profiles")
    assert [r["coin"] for r in liq] == ["BTC"] and liq[0]["venue_impact_bid_px"] == 99.9
    snaps = read(rt, "SELECT coin, snapshot_ms FROM hyperliquid_asset_ctx_snapshots ORDER BY coin")
    assert snaps == [{"coin": "BTC", "snapshot_ms": T0_MS}, {"coin": "ETH", "snapshot_ms": T0_MS}]


async def test_the_jobs_fail_with_the_pollers_error(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    def events(rt: Runtime) -> list[object]:
        t = rt.clock.now_ms() - 1000
        return [failed(t, "metaAndAssetCtxs"), failed(t, "l2Book")]

    _, results = await run_channels(make_config, events)
    err = f"HTTP 500 at {T0_MS}"
    fail = "FeatureRunFailed: "
    assert results["funding_pressure"].error == f"{fail}metaAndAssetCtxs unavailable: {err}"
    assert results["positioning_pressure"].error == f"{fail}metaAndAssetCtxs unavailable: {err}"
    liquidity = results["liquidity_profiles"]
    assert liquidity.status == "failed"
    assert liquidity.error == (
        f"{fail}l2Book unavailable: {err}; "
        f"metaAndAssetCtxs unavailable (venue impact and volume NULL): {err}"
    )


async def test_without_the_poller_and_feed_a_one_off_run_fails_soon(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    cfg = make_config('[hyperliquid]\ncoins = ["BTC"]\n')
    from marketmem.clock import TrioWallClock

    async with open_pipeline(cfg, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        jobs = {s.channel: s.job for s in build(rt) if isinstance(s, ChannelSpec)}
        t0 = trio.current_time()
        result = await execute_run(rt, "hyperliquid", "funding_pressure", jobs["funding_pressure"])
        # The grace, then the writer's verdict on the run (not the run's cadence).
        assert trio.current_time() - t0 == pytest.approx(START_GRACE_S, abs=0.5)
    assert result.status == "failed"
    assert result.error == f"FeatureRunFailed: metaAndAssetCtxs unavailable: {NOT_FED}"
