"""The context poller: its schedule, funding-history refresh, and what it fetches and publishes
on each tick, against a fake info client on MockClock."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
import trio

from marketmem.bus import Bus
from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import (
    CONTEXT_EVENTS,
    AssetContexts,
    ContextUnavailable,
    ContextWanted,
    Event,
    FundingHistory,
    L2Book,
    L2BookSweep,
    PredictedFundings,
)
from marketmem.httpclient import TransportFailed
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.config import HyperliquidConfig
from marketmem.sources.hyperliquid.context import (
    ContextPoller,
    ContextSchedule,
    FundingHistories,
    sweep_spacing,
    tracked_coins,
)
from tests.conftest import T0_MS

HOUR = 3_600_000
NOW = 1_000 * HOUR


class FakeClient:
    """The reads the poller makes, recorded with the trio time they were made at."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, int, int | None]] = []
        self.fail = fail or set()
        self.ctx_calls: list[float] = []
        self.ctx_fail = False
        self.predicted_calls = 0
        self.book_calls: list[tuple[float, str]] = []
        self.book_fail: set[str] = set()
        self.book_delay_s = 0.0

    async def funding_history(
        self, coin: str, start_ms: int, end_ms: int | None = None
    ) -> list[wire.FundingRecord]:
        self.calls.append((coin, start_ms, end_ms))
        if coin in self.fail:
            raise TransportFailed("gave up after 4 attempt(s): HTTP 500")
        end = end_ms or NOW
        hours = range(start_ms // HOUR + 1, end // HOUR + 1)
        return [
            wire.FundingRecord(coin=coin, funding_rate=Decimal("0.00001"), time=h * HOUR + 50)
            for h in hours
            if start_ms <= h * HOUR + 50 <= end
        ]

    async def meta_and_asset_ctxs(self) -> wire.MetaAndAssetCtxs:
        self.ctx_calls.append(trio.current_time())
        if self.ctx_fail:
            raise TransportFailed("gave up after 2 attempt(s): HTTP 500")
        names = [("BTC", False), ("ETH", False), ("MATIC", True)]
        meta = wire.Meta(
            universe=[
                wire.AssetMeta(name=n, sz_decimals=5, max_leverage=40, is_delisted=d)
                for n, d in names
            ]
        )
        ctx = wire.AssetCtx(
            funding=Decimal("0.0000125"),
            open_interest=Decimal("10"),
            prev_day_px=Decimal("1"),
            day_ntl_vlm=Decimal("5"),
            oracle_px=Decimal("2"),
            mark_px=Decimal("2"),
        )
        return wire.MetaAndAssetCtxs(meta=meta, ctxs=[ctx] * len(names))

    async def predicted_fundings(self) -> list[wire.CoinPredictedFundings]:
        self.predicted_calls += 1
        hl = wire.PredictedFunding(funding_rate=Decimal("0.0001"), next_funding_time=NOW)
        return [wire.CoinPredictedFundings(coin="BTC", venues=[wire.VenueFunding("HlPerp", hl)])]

    async def l2_book(self, coin: str) -> wire.L2Book | None:
        self.book_calls.append((trio.current_time(), coin))
        await trio.sleep(self.book_delay_s)
        if coin in self.book_fail:
            raise TransportFailed("gave up after 2 attempt(s): HTTP 500")
        if coin == "NOPE":
            return None
        level = wire.L2Level(px=Decimal("2"), sz=Decimal("1"), n=1)
        return wire.L2Book(coin=coin, time=T0_MS, levels=[[level], [level]])


# --- pure parts ------------------------------------------------------------------------------


def test_schedule_ticks_fall_on_each_cadence_and_coincide_as_one_tick() -> None:
    s = ContextSchedule({"funding_pressure": 300.0, "positioning_pressure": 60.0})
    origin = 1000.0
    assert s.next_tick(origin, origin - 5) == (origin, frozenset(s.cadences))
    # Strictly after: the tick at `after` itself does not come back.
    assert s.next_tick(origin, origin) == (origin + 60, frozenset({"positioning_pressure"}))
    t, due = origin, frozenset[str]()
    seen = []
    for _ in range(5):
        t, due = s.next_tick(origin, t)
        seen.append((t - origin, sorted(due)))
    assert seen[3:] == [(240, ["positioning_pressure"]), (300, sorted(s.cadences))]


def test_schedule_skips_missed_ticks_and_does_not_drift() -> None:
    s = ContextSchedule({"liquidity_profiles": 0.1})
    origin = 5.0
    t = origin
    for _ in range(1000):
        t2, _ = s.next_tick(origin, t)
        assert t2 > t
        t = t2
    assert t == pytest.approx(origin + 100.0, abs=1e-9)  # origin + k * cadence, not a sum
    # Woken late (a suspended machine): the next tick is the first one after now.
    assert s.next_tick(origin, origin + 10.05)[0] == pytest.approx(origin + 10.1)
    with pytest.raises(ValueError):
        ContextSchedule({}).next_tick(0, 0)


def test_sweep_spacing_fits_the_requests_in_80_percent_of_the_cadence() -> None:
    assert sweep_spacing(0.5, 300, 2) == 0.5
    assert sweep_spacing(0.5, 300, 1000) == pytest.approx(0.24)
    assert sweep_spacing(0.5, 4, 0) == 0.5


def test_tracked_coins() -> None:
    cfg = HyperliquidConfig(coins=["BTC", "ETH"], local_coins=["A", "B", "C", "D"])
    assert tracked_coins(cfg, local=False) == ["BTC", "ETH"]
    assert tracked_coins(cfg, local=True) == ["A", "B", "C"]
    assert tracked_coins(HyperliquidConfig(coins=["*"]), local=False) is None


# --- funding history -------------------------------------------------------------------------


async def test_first_fetch_covers_seven_days_then_only_new_hours() -> None:
    client = FakeClient()
    h = FundingHistories()
    assert await h.refresh(client, ["BTC"], NOW, 10) == {}  # type: ignore[arg-type]
    assert client.calls == [("BTC", NOW - 168 * HOUR, NOW)]
    # Settlements land just after each hour: the one of the current hour is not there yet.
    assert len(h.history("BTC") or []) == 167
    assert h.due(["BTC"], NOW + 60_000) == []  # just fetched
    # The settlement of NOW's hour has landed since: fetch only what is new.
    later = NOW + 30 * 60_000
    assert h.due(["BTC"], later) == ["BTC"]
    await h.refresh(client, ["BTC"], later, 10)  # type: ignore[arg-type]
    assert client.calls[-1] == ("BTC", NOW - HOUR + 50 + 1, later)
    pts = h.history("BTC") or []
    assert len(pts) == 168 and pts[-1][0] == NOW + 50
    # Up to date until the next hour has settled.
    assert h.due(["BTC"], NOW + 50 * 60_000) == []
    assert h.due(["BTC"], NOW + HOUR + 3 * 60_000) == ["BTC"]


async def test_coins_without_history_go_first_and_the_cap_holds() -> None:
    client = FakeClient()
    h = FundingHistories()
    await h.refresh(client, ["A"], NOW - 3 * HOUR, 10)  # type: ignore[arg-type]
    assert h.due(["A", "B", "C"], NOW) == ["B", "C", "A"]
    await h.refresh(client, ["A", "B", "C"], NOW, 2)  # type: ignore[arg-type]
    assert [c for c, _, _ in client.calls[1:]] == ["B", "C"]


async def test_failures_are_reported_retried_later_and_stop_a_refresh() -> None:
    client = FakeClient(fail={"A", "B", "C", "D"})
    h = FundingHistories()
    failures = await h.refresh(client, ["A", "B", "C", "D", "E"], NOW, 10)  # type: ignore[arg-type]
    assert set(failures) == {"A", "B", "C"} and "HTTP 500" in failures["A"]
    assert [c for c, _, _ in client.calls] == ["A", "B", "C"]  # stopped after 3 in a row
    assert h.history("A") is None
    assert h.due(["A"], NOW + 60_000) == []  # not retried at once
    assert h.due(["A"], NOW + 11 * 60_000) == ["A"]


# --- the actor -------------------------------------------------------------------------------


def poller_runtime(make_config: Callable[..., Config], channels: dict[str, float]) -> Runtime:
    lines = "\n".join(f"{c} = {{ enabled = true, cadence_s = {s} }}" for c, s in channels.items())
    cfg = make_config(
        '[hyperliquid]\ncoins = ["BTC", "ETH"]\n'
        f"[hyperliquid.features]\nl2_max_consecutive_failures = 2\n"
        f"[hyperliquid.channels]\n{lines}\n"
    )
    return Runtime(config=cfg, bus=Bus(), clock=TrioWallClock(T0_MS))


class Poller:
    """A poller on a fake client, and everything it published."""

    def __init__(self, rt: Runtime, client: FakeClient) -> None:
        self.rt = rt
        self.client = client
        self.poller = ContextPoller(rt, info=client)  # type: ignore[arg-type]
        self.rx = rt.bus.subscribe("test", CONTEXT_EVENTS, buffer=10_000)
        self.events: list[Event] = []

    def drain(self) -> list[Event]:
        while True:
            try:
                self.events.append(self.rx.receive_nowait())
            except trio.WouldBlock:
                return self.events

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.drain() if isinstance(e, kind)]


ALL_THREE = {"funding_pressure": 300, "liquidity_profiles": 300, "positioning_pressure": 300}


async def test_a_tick_fetches_each_input_once_and_publishes_typed_events(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    p = Poller(poller_runtime(make_config, ALL_THREE), FakeClient())
    async with trio.open_nursery() as nursery:
        t0 = trio.current_time()
        await nursery.start(p.poller.run)
        await trio.sleep(650)
        nursery.cancel_scope.cancel()
    # Ticks at 0, 300 and 600: one metaAndAssetCtxs serves the three channels of each.
    assert [t - t0 for t in p.client.ctx_calls] == [0, 300, 600]
    ctxs = p.of(AssetContexts)
    assert [e.tick_ms - T0_MS for e in ctxs] == [0, 300_000, 600_000]  # type: ignore[attr-defined]
    first = ctxs[0]
    assert isinstance(first, AssetContexts)
    assert sorted(first.by_coin) == ["BTC", "ETH"] and first.delisted == {"MATIC"}
    assert first.by_coin["BTC"].snapshot_ms == first.tick_ms
    assert first.by_coin["BTC"].mark_px == 2.0
    assert p.client.predicted_calls == 3
    pred = p.of(PredictedFundings)[0]
    assert isinstance(pred, PredictedFundings) and pred.by_coin["BTC"].hl_rate == 0.0001
    # The first refresh fetches 7 days for both coins; the next is due once a newer hour
    # should have settled and 10 minutes have passed, and asks only for what is new.
    hist = p.of(FundingHistory)
    assert len(hist) == 3
    assert isinstance(hist[0], FundingHistory) and hist[0].failures == {}
    assert sorted(hist[0].points) == ["BTC", "ETH"] and len(hist[0].points["BTC"]) == 167
    assert [(c, s - T0_MS, e - T0_MS) for c, s, e in p.client.calls] == [  # type: ignore[operator]
        ("BTC", -168 * HOUR, 0),
        ("ETH", -168 * HOUR, 0),
        ("BTC", -HOUR + 51, 600_000),
        ("ETH", -HOUR + 51, 600_000),
    ]
    # The sweep names its coins, then one book each, 0.5 s apart (never at once).
    sweeps = p.of(L2BookSweep)
    assert [s.coins for s in sweeps] == [["BTC", "ETH"]] * 3  # type: ignore[attr-defined]
    books = [e for e in p.of(L2Book) if e.tick_ms == T0_MS]  # type: ignore[attr-defined]
    assert [b.book.coin for b in books] == ["BTC", "ETH"]  # type: ignore[attr-defined]
    times = [t - t0 for t, _ in p.client.book_calls]
    assert times[:2] == [0, 0.5] and times[2] == 300
    assert p.of(ContextUnavailable) == []
    # None of it belongs to a recorded run.
    assert all(e.run_id == "" for e in p.drain())


async def test_a_context_younger_than_ctx_max_age_serves_the_next_ticks(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    rt = poller_runtime(make_config, {"funding_pressure": 300, "positioning_pressure": 30})
    p = Poller(rt, FakeClient())
    async with trio.open_nursery() as nursery:
        t0 = trio.current_time()
        await nursery.start(p.poller.run)
        await trio.sleep(310)
        nursery.cancel_scope.cancel()
    # Positioning ticks every 30 s; a context is asked for again once 60 s old.
    assert [t - t0 for t in p.client.ctx_calls] == [0, 60, 120, 180, 240, 300]
    assert p.poller.stats.ctx_reused == 5
    assert p.client.predicted_calls == 2  # funding ticks only
    assert p.client.book_calls == []  # liquidity is not enabled


async def test_a_failed_context_is_published_and_asked_for_again(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    client = FakeClient()
    client.ctx_fail = True
    p = Poller(poller_runtime(make_config, ALL_THREE), client)
    async with trio.open_nursery() as nursery:
        await nursery.start(p.poller.run)
        await trio.sleep(10)
        failed = p.of(ContextUnavailable)
        client.ctx_fail = False
        await trio.sleep(300)
        nursery.cancel_scope.cancel()
    assert len(failed) == 1
    fail = failed[0]
    assert isinstance(fail, ContextUnavailable)
    assert (fail.kind, fail.coin, fail.tick_ms) == ("metaAndAssetCtxs", "", T0_MS)
    assert "HTTP 500" in fail.error
    # Funding needs the context: nothing else was fetched for it; the sweep went on.
    assert client.predicted_calls == 1 and len(client.calls) == 2  # the second tick only
    assert [c for _, c in client.book_calls][:2] == ["BTC", "ETH"]
    assert len(client.ctx_calls) == 2 and len(p.of(AssetContexts)) == 1


async def test_a_sweep_stops_after_the_first_failures_in_a_row(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    rt = poller_runtime(make_config, {"liquidity_profiles": 300})
    client = FakeClient()
    client.book_fail = {"BTC", "ETH", "SOL"}
    p = Poller(rt, client)
    p.poller.coins = ["BTC", "ETH", "SOL", "HYPE"]
    async with trio.open_nursery() as nursery:
        await nursery.start(p.poller.run)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    # l2_max_consecutive_failures = 2: no third request.
    assert [c for _, c in client.book_calls] == ["BTC", "ETH"]
    fails = p.of(ContextUnavailable)
    assert [(f.kind, f.coin) for f in fails] == [("l2Book", "BTC"), ("l2Book", "ETH")]  # type: ignore[attr-defined]


async def test_a_sweep_still_going_at_the_next_tick_makes_it_a_published_skip(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    rt = poller_runtime(make_config, {"liquidity_profiles": 4})
    client = FakeClient()
    client.book_delay_s = 3.0  # two books take 6 s: longer than the cadence
    p = Poller(rt, client)
    async with trio.open_nursery() as nursery:
        await nursery.start(p.poller.run)
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    skip = p.of(ContextUnavailable)
    assert len(skip) == 1 and isinstance(skip[0], ContextUnavailable)
    assert (skip[0].kind, skip[0].coin, skip[0].tick_ms) == ("l2Book", "", T0_MS + 4000)
    assert "still going" in skip[0].error
    assert p.poller.stats.skipped == 1


async def test_a_restarted_poller_keeps_in_step_with_its_first_start(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    rt = poller_runtime(make_config, {"positioning_pressure": 100})
    p = Poller(rt, FakeClient())
    t0 = trio.current_time()
    with trio.move_on_after(150):
        await p.poller.run()
    await trio.sleep(20)  # down for a while, as after a crash and backoff
    with trio.move_on_after(100):
        await p.poller.run()
    assert [t - t0 for t in p.client.ctx_calls] == [0, 100, 200]


async def test_with_every_perp_the_sweep_covers_the_contexts_listed(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    rt = poller_runtime(make_config, {"liquidity_profiles": 300})
    p = Poller(rt, FakeClient())
    p.poller.coins = None  # coins = ["*"]
    with trio.move_on_after(5):
        await p.poller.run()
    (sweep,) = p.of(L2BookSweep)
    assert isinstance(sweep, L2BookSweep) and sweep.coins == ["BTC", "ETH"]


async def test_a_run_beside_the_schedule_gets_its_inputs_fetched_on_demand(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    # Funding is not even enabled: a one-off `ingest` of it asks all the same.
    p = Poller(poller_runtime(make_config, {"positioning_pressure": 300}), FakeClient())
    async with trio.open_nursery() as nursery:
        t0 = trio.current_time()
        await nursery.start(p.poller.run)
        await trio.sleep(100)
        now = p.poller.rt.clock.now_ms()
        await p.poller.rt.bus.publish(ContextWanted(channel="funding_pressure", run_ms=now))
        await trio.sleep(1)
        # Asked again within a second of its tick: not fetched twice.
        await p.poller.rt.bus.publish(ContextWanted(channel="funding_pressure", run_ms=now))
        # A run at the scheduled tick asks too; the schedule has it covered.
        await trio.sleep(199)
        await p.poller.rt.bus.publish(
            ContextWanted(channel="positioning_pressure", run_ms=p.poller.rt.clock.now_ms())
        )
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert [t - t0 for t in p.client.ctx_calls] == [0, 100, 300]
    assert p.client.predicted_calls == 1
    funding = p.of(FundingHistory)
    assert [e.tick_ms - T0_MS for e in funding] == [100_000]  # type: ignore[attr-defined]
