"""The stream follows the listing while it runs (``coins = ["*"]``): new perps, delistings."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import trio
from trio_websocket import open_websocket_url

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.planning import replan_connections
from marketmem.venues.hyperliquid import FixtureReplay, HyperliquidVenue
from marketmem.venues.simulator import SimAsset
from tests.conftest import T0_MS, fixture_path, needs_fixtures
from tests.hyperliquid.test_hl_stream import (
    assert_closed_bars_match_venue,
    pipeline,
    rows,
    streaming,
)

NEW = SimAsset("NEWC", 2, 10, Decimal("12.5"), activity=0.9, margin_table_id=51)


def candle(coin: str) -> wire.Subscription:
    return wire.candle_subscription(coin)


def test_replan_connections_moves_only_what_changed() -> None:
    mids = wire.all_mids_subscription()
    current = [[mids, candle("A")], [candle("B"), candle("C")]]
    subs = [mids, candle("A"), candle("C"), candle("D"), candle("E"), candle("F"), candle("G")]
    out = replan_connections(current, subs, per_connection=2, max_connections=3)
    # B leaves its socket, D fills the free place, E and F open a new socket, G is over the cap.
    assert out == [[mids, candle("A")], [candle("C"), candle("D")], [candle("E"), candle("F")]]
    # Every coin of a socket delisted: the socket is left empty (closed).
    assert (
        replan_connections(current, [mids, candle("A")], per_connection=2, max_connections=3)[1]
        == []
    )


async def test_listing_and_delisting_are_followed(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, autojump_clock: object
) -> None:
    config = hl_config("ws_replan_interval_s = 120\n", coins='["*"]')
    async with pipeline(config, venue) as rt, streaming(rt) as stream:
        assert stream.selection is not None and "NEWC" not in stream.selection.coins
        await trio.sleep(30)
        venue.sim.list_asset(NEW)
        venue.sim.delist_asset("DOGE")
        with trio.fail_after(200):
            while stream.replans < 1:
                await trio.sleep(1)
        replanned_ms = venue.clock.now_ms()
        assert stream.selection is not None
        assert "NEWC" in stream.selection.coins and "DOGE" not in stream.selection.coins
        await trio.sleep(4 * 60 + 7)
        # The venue holds exactly the new selection: allMids + 7 coins (DOGE dropped).
        assert venue.stats.ws_subscriptions == 8 and venue.stats.ws_open == 1
        resubscribed = " ".join(key for _, key in venue.stats.subscribe_log[-8:])
        assert "NEWC" in resubscribed and "DOGE" not in resubscribed
    # Re-read every 120 s; only the first one changed anything.
    assert venue.stats.info_requests["meta"] == 4 and stream.replans == 1
    # The new coin: closed candles (backfilled like a start-up, then pushed) and mids.
    assert assert_closed_bars_match_venue(rt, venue, "NEWC") >= 4
    new_mids = rows(rt, "SELECT * FROM hyperliquid_mid_prices WHERE coin='NEWC'")
    assert new_mids and min(r["bucket_ms"] for r in new_mids) >= replanned_ms - 5000
    # The delisted coin: no new bars nor mids once the re-plan applied.
    late = rows(
        rt,
        "SELECT count(*) AS n FROM hyperliquid_candles WHERE coin='DOGE' AND open_time_ms > ?",
        (replanned_ms,),
    )
    assert late[0]["n"] == 0
    late_mids = rows(
        rt,
        "SELECT count(*) AS n FROM hyperliquid_mid_prices WHERE coin='DOGE' AND bucket_ms > ?",
        (replanned_ms,),
    )
    assert late_mids[0]["n"] == 0
    # No gap for the other coins across the reconnect.
    for coin in ("BTC", "ETH", "SOL", "HYPE", "kPEPE"):
        assert_closed_bars_match_venue(rt, venue, coin)
    notes = " ".join(r["error"] or "" for r in rows(rt, "SELECT error FROM ingestion_runs"))
    assert "re-plan: listed NEWC; delisted DOGE" in notes
    assert "backfill after re-plan" in notes


async def test_fixed_coin_list_never_replans(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, autojump_clock: object
) -> None:
    config = hl_config("ws_replan_interval_s = 60\n")
    async with pipeline(config, venue) as rt, streaming(rt) as stream:
        venue.sim.list_asset(NEW)
        await trio.sleep(300)
    assert stream.replans == 0
    assert venue.stats.info_requests["meta"] == 1
    assert stream.stats.reconnects == 0
    assert rows(rt, "SELECT count(*) AS n FROM hyperliquid_candles WHERE coin='NEWC'")[0]["n"] == 0


async def test_venue_acks_unsubscribe(venue: HyperliquidVenue, autojump_clock: object) -> None:
    assert venue.address is not None
    sub = {"type": "candle", "coin": "BTC", "interval": "1m"}
    async with open_websocket_url(venue.address.ws_url) as ws:
        await ws.send_message(json.dumps({"method": "subscribe", "subscription": sub}))
        await ws.send_message(json.dumps({"method": "unsubscribe", "subscription": sub}))
        await ws.send_message(json.dumps({"method": "unsubscribe", "subscription": sub}))
        with trio.fail_after(10):
            frames = [json.loads(await ws.get_message()) for _ in range(3)]
    normalized = {"type": "candle", "interval": "1m", "coin": "BTC"}
    assert frames[1] == {
        "channel": "subscriptionResponse",
        "data": {"method": "unsubscribe", "subscription": normalized},
    }
    assert frames[2] == {
        "channel": "error",
        "data": 'Already unsubscribed: {"type":"candle","interval":"1m","coin":"BTC"}',
    }
    assert venue.stats.ws_subscriptions == 0
    decoded = wire.decode_frame(json.dumps(frames[1]))
    assert isinstance(decoded, wire.SubscriptionResponseFrame)
    assert decoded.data.method == "unsubscribe"


@needs_fixtures("hyperliquid")
async def test_replay_serves_the_recorded_unsubscribe_ack(autojump_clock: object) -> None:
    recorded = fixture_path("hyperliquid", "ws_unsubscribeResponse_l2Book.json")
    v = HyperliquidVenue(
        TrioWallClock(T0_MS), replay=FixtureReplay(recorded.parent), history_minutes=5
    )
    sub = {"type": "l2Book", "coin": "BTC", "nSigFigs": 5}
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: v.run(task_status=task_status))
        assert v.address is not None
        async with open_websocket_url(v.address.ws_url) as ws:
            await ws.send_message(json.dumps({"method": "subscribe", "subscription": sub}))
            await ws.send_message(json.dumps({"method": "unsubscribe", "subscription": sub}))
            with trio.fail_after(10):
                frames = [await ws.get_message() for _ in range(2)]
        nursery.cancel_scope.cancel()
    assert frames[1].encode() == recorded.read_bytes().strip()
