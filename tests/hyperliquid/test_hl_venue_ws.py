"""The local venue's WebSocket speaks the recorded protocol: acks, pong, errors, closes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from marketmem.clock import TrioWallClock
from marketmem.sources.hyperliquid import wire
from marketmem.venues.hyperliquid import FixtureReplay, HyperliquidVenue
from tests.conftest import T0_MS, fixture_path, needs_fixtures

CANDLE_BTC = '{"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"1m"}}'
ALL_MIDS = '{"subscription":{"type":"allMids"},"method":"subscribe"}'


def url(venue: HyperliquidVenue) -> str:
    assert venue.address is not None
    return venue.address.ws_url


async def next_json(ws: Any) -> dict[str, Any]:
    with trio.fail_after(30):
        return json.loads(await ws.get_message())  # type: ignore[no-any-return]


async def test_acks_pong_errors_and_data(venue: HyperliquidVenue, autojump_clock: object) -> None:
    async with open_websocket_url(url(venue)) as ws:
        await ws.send_message(CANDLE_BTC)
        ack = await ws.get_message()
        # Normalized echo: keys reordered to type, interval, coin.
        assert ack == (
            '{"channel":"subscriptionResponse","data":{"method":"subscribe",'
            '"subscription":{"type":"candle","interval":"1m","coin":"BTC"}}}'
        )
        await ws.send_message(ALL_MIDS)
        assert (await next_json(ws))["data"]["subscription"] == {"type": "allMids"}
        await ws.send_message('{"method":"ping"}')
        assert await ws.get_message() == '{"channel":"pong"}'  # no data key
        await ws.send_message(CANDLE_BTC)
        err = await next_json(ws)
        assert err == {
            "channel": "error",
            "data": 'Already subscribed: {"type":"candle","interval":"1m","coin":"BTC"}',
        }
        bad = '{"method":"subscribe","subscription":{"type":"bbo","coin":["BTC","ETH"]}}'
        await ws.send_message(bad)
        assert (await next_json(ws))["data"] == (
            "Error parsing JSON into valid websocket request: " + bad
        )
        seen: dict[str, int] = {}
        t0 = trio.current_time()
        while trio.current_time() - t0 < 12:
            frame = wire.decode_frame(await ws.get_message())
            if isinstance(frame, wire.CandleFrame):
                seen["candle"] = seen.get("candle", 0) + 1
                assert frame.data.coin == "BTC" and frame.data.close_time_ms % 60_000 == 59_999
            elif isinstance(frame, wire.AllMidsFrame):
                seen["allMids"] = seen.get("allMids", 0) + 1
                keys = list(frame.data.mids)
                assert keys == sorted(keys) and {"BTC", "@107", "#12090", "MATIC"} <= set(keys)
        assert seen["candle"] >= 5 and 2 <= seen["allMids"] <= 3  # every 5 s


async def test_unknown_coin_closes_silently(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    async with open_websocket_url(url(venue)) as ws:
        await ws.send_message(ALL_MIDS)
        await next_json(ws)
        await ws.send_message(CANDLE_BTC.replace('"BTC"', '"btc"'))  # wrong case
        with pytest.raises(ConnectionClosed) as info:
            while True:
                frame = await next_json(ws)
                assert frame["channel"] != "error"
        assert info.value.reason.code == 1006  # no close frame
    assert venue.stats.ws_dropped_unknown_coin == 1 and venue.stats.ws_subscriptions == 0


async def test_unknown_coin_error_mode(venue: HyperliquidVenue, autojump_clock: object) -> None:
    venue.faults.unknown_coin = "error"
    async with open_websocket_url(url(venue)) as ws:
        await ws.send_message(CANDLE_BTC.replace('"BTC"', '"NOPE"'))
        frame = await next_json(ws)
        assert frame["channel"] == "error" and frame["data"].startswith("Invalid subscription")


async def test_idle_socket_closed_after_60s_unless_pinged(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    async with open_websocket_url(url(venue)) as quiet, open_websocket_url(url(venue)) as busy:
        t0 = trio.current_time()

        async def pinger() -> None:
            while True:
                await busy.send_message('{"method":"ping"}')
                await busy.get_message()
                await trio.sleep(30)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pinger)
            with pytest.raises(ConnectionClosed):
                await quiet.get_message()
            assert 60 <= trio.current_time() - t0 < 61
            await trio.sleep(120)
            assert busy.closed is None
            nursery.cancel_scope.cancel()
    assert venue.stats.ws_dropped_idle == 1


async def test_stall_keeps_socket_open_but_silent(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    async with open_websocket_url(url(venue)) as ws:
        await ws.send_message(CANDLE_BTC)
        await next_json(ws)
        venue.faults.stall = True
        with trio.move_on_after(20) as scope:
            await ws.get_message()
        assert scope.cancelled_caught and ws.closed is None
        venue.faults.stall = False
        frame = await next_json(ws)
        assert frame["channel"] == "candle"


async def test_drop_connections_fault(venue: HyperliquidVenue, autojump_clock: object) -> None:
    async with open_websocket_url(url(venue)) as ws:
        await ws.send_message(CANDLE_BTC)
        await next_json(ws)
        assert await venue.drop_connections() == 1
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await ws.get_message()
        assert info.value.reason.code == 1006


async def test_connection_cap(venue: HyperliquidVenue, autojump_clock: object) -> None:
    venue.max_connections = 2
    async with open_websocket_url(url(venue)), open_websocket_url(url(venue)):
        with pytest.raises(ConnectionRejected):
            async with open_websocket_url(url(venue)):
                pass
    assert venue.stats.ws_rejected == 1 and venue.stats.ws_max_open == 2


@needs_fixtures("hyperliquid")
async def test_replay_sends_recorded_frames(autojump_clock: object) -> None:
    folder = fixture_path("hyperliquid", "ws_candle.json").parent
    v = HyperliquidVenue(TrioWallClock(T0_MS), replay=FixtureReplay(folder), history_minutes=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: v.run(task_status=task_status))
        async with open_websocket_url(url(v)) as ws:
            await ws.send_message(CANDLE_BTC)
            ack = await ws.get_message()
            assert (
                ack.encode()
                == (folder / "ws_subscriptionResponse_candle.json").read_bytes().strip()
            )
            frames = [await ws.get_message() for _ in range(6)]
            recorded = (folder / "ws_candle_same_bar_updates.jsonl").read_text().splitlines()
            assert frames[:3] == recorded
            assert frames[-2:] == (folder / "ws_candle_rollover.jsonl").read_text().splitlines()
        nursery.cancel_scope.cancel()


async def test_close_mid_stream_after_n_frames(
    venue: HyperliquidVenue, autojump_clock: object
) -> None:
    async with open_websocket_url(url(venue)) as ws:
        await ws.send_message(CANDLE_BTC)
        await next_json(ws)
        venue.faults.drop_after_frames = 3
        got = 0
        with pytest.raises(ConnectionClosed):
            while True:
                assert (await next_json(ws))["channel"] == "candle"
                got += 1
        assert got == 3 and venue.faults.drop_after_frames is None
    assert venue.stats.ws_dropped_fault == 1
