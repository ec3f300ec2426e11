"""The window keeper: feeds the candle windows from the bus, seeded from the database.

It subscribes to ``CandleBatch`` only (never to what features publish) with a bounded
``DROP_OLDEST`` buffer, so a slow keeper can never hold the candle stream back. A drop would
leave a hole in a window, so ``ensure_fresh`` (called by every candle-based feature run before
it reads the windows) compares the bus's drop count with the one at the last seed and, when
it grew, reseeds from the database; the storage writer is lossless, so the dropped bars are
there. Seeds merge by ``updated_at_ms`` (see ``windows``), so a seed racing bus events is safe.

While the actor is not running (a one-off ``ingest``, or between restarts) nothing feeds the
windows, so a feature run reseeds them itself when the last seed is older than a minute.

``wait_for_input`` lets the first feature pass of a fresh service wait (bounded) until the
stream's first backfill has given every coin a recent bar, instead of failing for want of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from marketmem import metrics
from marketmem.bus import Policy
from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.events import CandleBatch, Event
from marketmem.executors import Executor
from marketmem.features.windows import KEEP_HOURS, KEEP_MINUTES, CandleWindows
from marketmem.runtime import Runtime
from marketmem.storage import engine
from marketmem.storage.models.features import WindowHour, WindowMinute
from marketmem.storage.reads import features as reads

log = logging.getLogger(__name__)

SUBSCRIBER = "features.candle-windows"
BUFFER = 2000
# Without the actor feeding them, windows are reseeded when older than this.
UNFED_RESEED_S = 60.0
DROP_SETTLE_S = 1.0


RESEEDS = metrics.REGISTRY.counter(
    "marketmem_feature_window_seeds_total",
    "Candle windows (re)seeded from the database, by cause",
    ("cause",),
)


class WindowKeeper:
    def __init__(
        self,
        rt: Runtime,
        windows: CandleWindows,
        executor: Executor,
        *,
        buffer: int = BUFFER,
        subscribe: bool = True,
    ) -> None:
        self.rt = rt
        self.windows = windows
        self.executor = executor
        self.buffer = buffer
        # NOTE: subscribed at build time, before any source publishes, and once (a restarted
        # actor keeps the same queue): a bar published before the subscription could be
        # committed only after the seed read and would be missing from its window for a day.
        self._rx: trio.MemoryReceiveChannel[Event] | None = None
        if subscribe:
            self._subscribe()
        self._lock = trio.Lock()
        self._seeded_at: float | None = None
        self._dropped_at_seed = 0
        self.live = False
        self.seeds = 0
        self.applied = 0
        # Set (and renewed) whenever bars reach the windows from the bus.
        self._fed = trio.Event()
        self._input_waited = trio.Event()

    def _subscribe(self) -> trio.MemoryReceiveChannel[Event]:
        if self._rx is None:
            self._rx = self.rt.bus.subscribe(
                SUBSCRIBER, [CandleBatch], buffer=self.buffer, policy=Policy.DROP_OLDEST
            )
        return self._rx

    def _dropped(self) -> int:
        for sub in self.rt.bus.statistics().subscribers:
            if sub.name == SUBSCRIBER:
                return sub.dropped
        return 0

    async def ensure_fresh(self) -> None:
        """Seed the windows if never seeded, if the bus dropped candles, or if nobody feeds
        them and the last seed is old."""
        async with self._lock:
            dropped = self._dropped()
            now = trio.current_time()
            if self._seeded_at is None:
                cause = "start"
            elif dropped > self._dropped_at_seed:
                cause = "drops"
                log.warning(
                    "bus dropped %d candle batch(es) for the feature windows; reseeding",
                    dropped - self._dropped_at_seed,
                )
                # The writer got the dropped batches (it is lossless); give a batch dropped
                # just now the time to be committed before the read.
                await trio.sleep(DROP_SETTLE_S)
            elif not self.live and now - self._seeded_at >= UNFED_RESEED_S:
                cause = "unfed"
            else:
                return
            await self._seed(dropped)
            RESEEDS.inc(cause=cause)

    async def _seed(self, dropped: int) -> None:
        now_ms = self.rt.clock.now_ms()
        minutes_since = now_ms - KEEP_MINUTES * MINUTE_MS
        hours_since = now_ms - now_ms % HOUR_MS - KEEP_HOURS * HOUR_MS
        minute_rows, hour_rows = await self.executor(
            _read_seed, self.rt.database, minutes_since, hours_since
        )
        self.windows.apply_hours(hour_rows)
        self.windows.apply_rows(minute_rows)
        self._seeded_at = trio.current_time()
        self._dropped_at_seed = dropped
        self.seeds += 1
        log.info(
            "feature windows seeded: %d minute bar(s), %d hour bar(s), %d coin(s)",
            len(minute_rows),
            len(hour_rows),
            len(self.windows.coins),
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The actor: seed, then apply every candle batch until the bus closes."""
        rx = self._subscribe()
        self.live = True
        try:
            await self.ensure_fresh()
            task_status.started()
            async for event in rx:
                if isinstance(event, CandleBatch):
                    self.applied += self.windows.apply(event.rows)
                    self._fed.set()
                    self._fed = trio.Event()
        finally:
            self.live = False

    async def wait_for_input(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Once per process, when the actor feeds the windows (it is subscribed, if perhaps
        not started yet): wait up to ``timeout_s`` until ``ready()`` holds (checked whenever
        bars arrive)."""
        if self._input_waited.is_set() or self._rx is None:
            return
        # Every pass that starts before the first wait ended waits too (they run concurrently).
        with trio.move_on_after(timeout_s):
            while not ready():
                await self._fed.wait()
        self._input_waited.set()


def _read_seed(
    path: engine.Location, minutes_since: int, hours_since: int
) -> tuple[list[WindowMinute], list[WindowHour]]:
    conn = engine.open_ro(path)
    try:
        return reads.minute_rows(conn, minutes_since), reads.hour_rows(conn, hours_since)
    finally:
        conn.close()
