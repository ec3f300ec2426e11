"""The info client against the local venue: every read, errors, retries, the weight budget."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import msgspec
import pytest
import trio

from marketmem.budget import WeightBudget
from marketmem.httpclient import HttpStatusError, PayloadError, RetryPolicy, TransportFailed
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.info import InfoClient
from marketmem.venues.hyperliquid import FixtureReplay, HyperliquidVenue
from tests.conftest import FIXTURES, T0_MS, fixture_path, needs_fixtures

M = 60_000


def client(venue: HyperliquidVenue, budget: WeightBudget | None = None, **kw: object) -> InfoClient:
    assert venue.address is not None
    return InfoClient(venue.address.info_url, budget=budget, **kw)  # type: ignore[arg-type]


async def test_every_read_decodes_from_the_simulator(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    c = client(venue)
    meta = await c.meta()
    names = [a.name for a in meta.universe]
    assert names[:4] == ["BTC", "ETH", "ATOM", "MATIC"] and meta.universe[3].is_delisted
    mc = await c.meta_and_asset_ctxs()
    pairs = mc.pairs()
    assert pairs[3][2].mid_px is None and pairs[0][2].mark_px > 0
    book = await c.l2_book("BTC")
    assert book is not None and len(book.bids) == 20 and book.bids[0].px < book.asks[0].px
    assert await c.l2_book("NOPE") is None
    bars = await c.candle_snapshot("BTC", "1m", T0_MS - 10 * M, T0_MS)
    assert [b.open_time_ms for b in bars] == [T0_MS - k * M for k in range(10, -1, -1)]
    assert all(b.close_time_ms == b.open_time_ms + M - 1 for b in bars)
    funding = await c.funding_history("ETH", T0_MS - 5 * 3_600_000, T0_MS - 1)
    assert len(funding) == 5 and all(r.time % 3_600_000 > 0 for r in funding)
    predicted = await c.predicted_fundings()
    assert {p.coin for p in predicted} >= {"BTC", "ETH"} and "MATIC" not in {
        p.coin for p in predicted
    }
    mids = await c.all_mids()
    assert {"BTC", "@107", "#12090", "MATIC"} <= set(mids) and isinstance(mids["BTC"], Decimal)
    stats = c.budget.statistics()
    assert stats.in_flight == 0 and stats.used == venue.stats.max_window_weight
    await c.aclose()


async def test_candle_snapshot_pages_without_duplicates(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    c = client(venue)
    orig = c.candle_snapshot_page
    calls: list[tuple[int, int]] = []

    async def small_pages(coin: str, interval: str, start: int, end: int) -> list[wire.WireCandle]:
        calls.append((start, end))
        return (await orig(coin, interval, start, end))[:7]

    c.candle_snapshot_page = small_pages  # type: ignore[method-assign]
    bars = await c.candle_snapshot("BTC", "1m", T0_MS - 20 * M, T0_MS)
    opens = [b.open_time_ms for b in bars]
    assert opens == sorted(set(opens)) and opens[0] == T0_MS - 20 * M and opens[-1] == T0_MS
    assert len(calls) == 3 and calls[1][0] == T0_MS - 13 * M
    await c.aclose()


async def test_weight_budget_never_exceeded_under_a_burst(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    """150 concurrent 31-bar snapshots (21 weight each, 3150 in all) need three windows."""
    c = client(venue)
    start = trio.current_time()

    async def one() -> None:
        await c.candle_snapshot_page("BTC", "1m", T0_MS - 30 * M, T0_MS)

    async with trio.open_nursery() as nursery:
        for _ in range(150):
            nursery.start_soon(one)
    assert venue.stats.rate_limited == 0
    assert 0 < venue.stats.max_window_weight <= 1200
    assert c.budget.statistics().waits > 0
    assert trio.current_time() - start >= 120  # paced over several windows, not refused
    await c.aclose()


async def test_two_clients_sharing_one_budget_stay_within_it(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    budget = WeightBudget(1200)
    a, b = client(venue, budget), client(venue, budget)
    async with trio.open_nursery() as nursery:
        for cl in (a, b):
            for _ in range(40):
                nursery.start_soon(cl.meta)
    assert venue.stats.rate_limited == 0 and venue.stats.max_window_weight <= 1200
    await a.aclose()
    await b.aclose()


async def test_venue_refuses_beyond_the_limit(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    """Without a shared budget the venue answers 429 (and the client backs off)."""
    clients = [client(venue, WeightBudget(1200), policy=RetryPolicy(attempts=1)) for _ in range(2)]
    outcomes: list[str] = []

    async def one(cl: InfoClient) -> None:
        try:
            await cl.meta()
            outcomes.append("ok")
        except TransportFailed as exc:
            assert "HTTP 429" in str(exc)
            outcomes.append("429")

    async with trio.open_nursery() as nursery:
        for cl in clients:
            for _ in range(60):
                nursery.start_soon(one, cl)
    assert outcomes.count("ok") == 60 and outcomes.count("429") == 60
    assert venue.stats.max_window_weight == 1200
    for cl in clients:
        await cl.aclose()


async def test_429_and_500_back_off_then_succeed(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    c = client(venue, policy=RetryPolicy(attempts=4, initial_s=1.0))
    venue.faults.info_fail("429", retry_after="7")
    venue.faults.info_fail("500")
    t0 = trio.current_time()
    meta = await c.meta()
    assert meta.universe[0].name == "BTC"
    assert trio.current_time() - t0 >= 7  # Retry-After honoured
    assert venue.stats.info_statuses[429] == 1 and venue.stats.info_statuses[500] == 1
    # Each attempt drew its weight from the budget.
    assert c.budget.statistics().charges == 3 and c.budget.statistics().total_weight == 60
    await c.aclose()


async def test_hang_times_out_and_retries(venue: HyperliquidVenue, autojump_clock: object) -> None:
    c = client(venue, timeout_s=2.0, policy=RetryPolicy(attempts=2, initial_s=0.1))
    venue.faults.info_fail("hang", request_type="allMids")
    mids = await c.all_mids()
    assert "BTC" in mids
    await c.aclose()


async def test_4xx_fails_with_the_response_text(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    c = client(venue)
    with pytest.raises(HttpStatusError) as info:
        await c.post({"type": "nonsense"}, object)
    assert info.value.status == 422
    assert "Failed to deserialize the JSON body into the target type" in str(info.value)
    with pytest.raises(HttpStatusError, match="422"):
        await c.post({"type": "fundingHistory", "coin": "ETH"}, object)  # no startTime
    with pytest.raises(HttpStatusError, match="422"):
        await c.candle_snapshot_page("BTC", "1m", -5, T0_MS)
    assert c.requests == 3  # not retried
    await c.aclose()


@pytest.mark.parametrize("kind", ["malformed", "truncated", "missing_field"])
async def test_bad_payloads_fail_naming_the_problem(
    venue: HyperliquidVenue, kind: str, autojump_clock: object
) -> None:
    c = client(venue)
    venue.faults.info_fail(kind, request_type="candleSnapshot")
    with pytest.raises(PayloadError, match="candleSnapshot"):
        await c.candle_snapshot_page("BTC", "1m", T0_MS - 5 * M, T0_MS)
    await c.aclose()


async def test_extra_fields_are_ignored(venue: HyperliquidVenue, autojump_clock: object) -> None:
    c = client(venue)
    venue.faults.info_fail("extra_field", request_type="meta")
    assert (await c.meta()).universe[0].name == "BTC"
    await c.aclose()


async def test_unknown_funding_coin_is_a_500_null(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    c = client(venue, policy=RetryPolicy(attempts=2, initial_s=0.1))
    with pytest.raises(TransportFailed, match="HTTP 500"):
        await c.funding_history("NOPE", T0_MS - 3_600_000)
    await c.aclose()


async def test_venue_http_error_shapes(venue: HyperliquidVenue, autojump_clock: object) -> None:
    assert venue.address is not None
    url = venue.address.info_url + "/info"
    async with httpx.AsyncClient() as http:
        r = await http.get(url)
        assert (r.status_code, r.content) == (405, b"")
        r = await http.post(url, content=b"{", headers={"content-type": "application/json"})
        assert (r.status_code, r.text) == (400, "Failed to parse the request body as JSON")
        r = await http.post(url, content=b'{"type":"meta"}', headers={"content-type": "text/plain"})
        assert r.status_code == 415 and "Content-Type: application/json" in r.text
        r = await http.post(url, json={"type": "meta", "extra": 1})
        assert r.status_code == 200
        r = await http.post(url, json={"type": "l2Book", "coin": "nope"})
        assert (r.status_code, r.content) == (200, b"null")
        r = await http.post(url, json={"type": "bogus"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/plain")
    if (FIXTURES / "hyperliquid" / "info_error_422.txt").exists():
        assert r.content == fixture_path("hyperliquid", "info_error_422.txt").read_bytes()


@needs_fixtures("hyperliquid")
async def test_replay_serves_recorded_payloads_verbatim(autojump_clock: object) -> None:
    folder = fixture_path("hyperliquid", "info_meta.json").parent
    from marketmem.clock import TrioWallClock

    v = HyperliquidVenue(TrioWallClock(T0_MS), replay=FixtureReplay(folder), history_minutes=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: v.run(task_status=task_status))
        c = client(v)
        mc = await c.meta_and_asset_ctxs()
        assert len(mc.pairs()) == 232
        recorded = (folder / "info_candleSnapshot.json").read_bytes()
        raw = json.loads(recorded)
        rows = await c.candle_snapshot_page("ETH", "1m", raw[0]["t"], raw[-1]["T"])
        assert rows == msgspec.json.decode(
            recorded, type=wire.CandleSnapshot, strict=wire.STRICT_CANDLES
        )
        assert v.address is not None
        async with httpx.AsyncClient() as http:
            req = {
                "coin": "ETH",
                "interval": "1m",
                "startTime": raw[0]["t"],
                "endTime": raw[-1]["T"],
            }
            r = await http.post(c.url, json={"type": "candleSnapshot", "req": req})
        assert (r.status_code, r.content) == (200, recorded)
        assert (await c.l2_book("MATIC")) is not None
        assert len(await c.funding_history("ETH", 0)) == 6
        assert len(await c.predicted_fundings()) == 3
        assert (await c.all_mids())["kPEPE"] == Decimal("0.001565")
        # Requests with no recording fall through to the simulator.
        assert (await c.l2_book("SOL")) is not None
        await c.aclose()
        nursery.cancel_scope.cancel()
