"""Candle pushes are gathered into few batches, in tracker order, behind closes."""

from __future__ import annotations

import msgspec
import trio
import trio.testing

from marketmem.bus import Policy
from marketmem.events import Candle, CandleBatch
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid import stream as stream_module
from marketmem.sources.hyperliquid.stream import HyperliquidStream


def bar(coin: str, minute: int, close: float) -> Candle:
    return Candle(
        coin=coin,
        interval="1m",
        open_time_ms=minute * 60_000,
        close_time_ms=minute * 60_000 + 59_999,
        open=1.0,
        high=2.0,
        low=0.5,
        close=close,
        volume=1.0,
        trades=1,
        closed=False,
        updated_at_ms=minute,
    )


def drain(rx: trio.MemoryReceiveChannel) -> list[CandleBatch]:
    out = []
    while True:
        try:
            out.append(rx.receive_nowait())
        except trio.WouldBlock:
            return out


async def test_pushes_share_a_batch_and_closes_flush_in_order(
    hl_rt: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    batches = hl_rt.bus.subscribe("t", [CandleBatch], buffer=100, policy=Policy.LOSSLESS)
    stream = HyperliquidStream(hl_rt)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream._push_flusher)
        pushes = [bar("BTC", 1, float(i)) for i in range(10)]
        for row in pushes:
            await stream._publish_candles([row], push=True)
        assert drain(batches) == []  # held for at most PUSH_GATHER_S
        await trio.sleep(stream_module.PUSH_GATHER_S * 2)
        got = drain(batches)
        assert [b.rows for b in got] == [pushes]

        # A close goes out at once, after the pushes queued before it.
        queued = bar("ETH", 1, 5.0)
        await stream._publish_candles([queued], push=True)
        closed = msgspec.structs.replace(queued, closed=True)
        await stream._publish_candles([closed])
        assert [b.rows for b in drain(batches)] == [[queued, closed]]

        # A full batch does not wait for the flusher.
        many = [bar("SOL", m, 1.0) for m in range(stream_module.PUSH_BATCH_ROWS)]
        for row in many:
            await stream._publish_candles([row], push=True)
        assert [len(b.rows) for b in drain(batches)] == [stream_module.PUSH_BATCH_ROWS]
        nursery.cancel_scope.cancel()
