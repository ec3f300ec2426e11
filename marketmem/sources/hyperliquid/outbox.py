"""The stream's rows on their way to the bus: candle rows gathered in tracker order, mids.

Candle rows of pushes wait up to ``PUSH_GATHER_S`` (or until ``PUSH_BATCH_ROWS`` are queued) to
share one ``CandleBatch``: an event per push cost more than decoding it. Other candle rows
(bars closed by the clock, snapshot rows) go out at once behind every row queued before them,
so the bus sees candle rows in the tracker's order. The clock closer asks the tracker every
``CLOSE_CHECK_S`` for the bars whose time is over. Mid rows go out as one ``MidBatch`` per
``allMids`` frame. Each batch carries its channel window's run id; the window and the stream's
statistics count its rows. Stopped, the outbox hands what it holds to the bus without waiting.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from marketmem.events import Candle, CandleBatch, MidBatch, MidPrice
from marketmem.runs import StreamRunWindow
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid.candles import CandleTracker

if TYPE_CHECKING:
    from marketmem.sources.hyperliquid.stream import StreamStatistics

log = logging.getLogger(__name__)

# Rows of candle pushes are published together: at most this late, or once this many.
PUSH_GATHER_S = 0.002
PUSH_BATCH_ROWS = 1000
CLOSE_CHECK_S = 1.0


class Outbox:
    def __init__(
        self,
        rt: Runtime,
        tracker: CandleTracker,
        *,
        candles: StreamRunWindow,
        mids: StreamRunWindow,
        stats: StreamStatistics,
    ) -> None:
        self.rt = rt
        self.tracker = tracker
        self.candles = candles
        self.mids = mids
        self.stats = stats
        # Candle rows not yet published, in tracker order; the flusher publishes pushes.
        self._rows: list[Candle] = []
        self._due = trio.Event()

    async def publish_candles(self, rows: list[Candle], *, push: bool = False) -> None:
        """Queue rows behind those not yet published; pushes wait for the flusher (or a full
        batch), other rows (closes, snapshots) go out at once with everything before them."""
        if not rows:
            return
        self.stats.candle_rows += len(rows)
        self.candles.add(len(rows))
        self._rows.extend(rows)
        if push and len(self._rows) < PUSH_BATCH_ROWS:
            self._due.set()
            return
        await self.flush()

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            # Concurrent flushes reach the bus in the order they took their rows (its
            # subscribers' channels queue blocked senders first come, first served).
            await self.rt.bus.publish(CandleBatch(rows=rows, run_id=self.candles.run_id))

    async def publish_mids(self, rows: list[MidPrice]) -> None:
        if not rows:
            return
        self.stats.mid_rows += len(rows)
        self.mids.add(len(rows))
        await self.rt.bus.publish(MidBatch(rows=rows, run_id=self.mids.run_id))

    async def run_flusher(self) -> None:
        try:
            while True:
                await self._due.wait()
                await trio.sleep(PUSH_GATHER_S)
                self._due = trio.Event()
                await self.flush()
        finally:
            if self._rows and not self.rt.bus.closed:
                # Stopped: hand over what is queued without waiting (a cancelled publish
                # would be lost the same way); say so if the writer's queue is full.
                try:
                    self.rt.bus.publish_nowait(
                        CandleBatch(rows=self._rows, run_id=self.candles.run_id)
                    )
                    self._rows = []
                except trio.WouldBlock:
                    log.warning("stream stopped: %d candle row(s) not published", len(self._rows))

    async def run_closer(self) -> None:
        """Close the bars whose end plus the grace period has passed, every second."""
        while True:
            await trio.sleep(CLOSE_CHECK_S)
            await self.publish_candles(self.tracker.on_clock(self.rt.clock.now_ms()))
