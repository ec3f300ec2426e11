"""Candle pushes are gathered into few batches, in tracker order, behind closes."""

from __future__ import annotations

import msgspec
import trio
import trio.testing

from marketmem.bus import Policy
from marketmem.events import CandleBatch
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid import outbox as outbox_module
from marketmem.sources.hyperliquid.resources import open_resources
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from tests.conftest import minute_candle


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
    async with open_resources(hl_rt.config) as res, trio.open_nursery() as nursery:
        outbox = HyperliquidStream(hl_rt, res).outbox
        nursery.start_soon(outbox.run_flusher)
        pushes = [minute_candle(1, coin="BTC", close=float(i), closed=False) for i in range(10)]
        for row in pushes:
            await outbox.publish_candles([row], push=True)
        assert drain(batches) == []  # held for at most PUSH_GATHER_S
        await trio.sleep(outbox_module.PUSH_GATHER_S * 2)
        got = drain(batches)
        assert [b.rows for b in got] == [pushes]

        # A close goes out at once, after the pushes queued before it.
        queued = minute_candle(1, coin="ETH", close=5.0, closed=False)
        await outbox.publish_candles([queued], push=True)
        closed = msgspec.structs.replace(queued, closed=True)
        await outbox.publish_candles([closed])
        assert [b.rows for b in drain(batches)] == [[queued, closed]]

        # A full batch does not wait for the flusher.
        many = [
            minute_candle(m, coin="SOL", close=1.0, closed=False)
            for m in range(outbox_module.PUSH_BATCH_ROWS)
        ]
        for row in many:
            await outbox.publish_candles([row], push=True)
        assert [len(b.rows) for b in drain(batches)] == [outbox_module.PUSH_BATCH_ROWS]
        nursery.cancel_scope.cancel()
