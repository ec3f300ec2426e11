"""Gap healing: the stream's candle gaps, kept in a ``GapBook``, persisted, filled by snapshot.

The stream tells the healer when a coin's feed may miss pushes (``link_lost``: start-up, a lost
or silent link, a re-plan): the coin's gap opens at the latest bar known. When the link is
acked again (``link_back``) the gap closes at the bar forming then. The healer task, apart from
every socket, fills each closed gap with ``candleSnapshot`` through the process's one
``InfoClient`` (its shared weight budget) and keeps it, retried with capped backoff, for as
long as ``/info`` fails, whatever the sockets do meanwhile. Snapshot rows pass through the
stream's tracker and outbox like pushes.

Every change is published (``CandleGapBatch``, ``CandleGapsHealed``; stored in
``hyperliquid_candle_gaps``), so a process started later heals what an earlier one left
(``restore``). A gap still failing ``backfill_retry_budget_s`` after its link came back fails
the candles channel's windows until it is healed (``overdue``); a gap that fell past the
backfill horizon is dropped and fails the window it fell in.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import trio

from marketmem import metrics
from marketmem.events import CandleGap, CandleGapBatch, CandleGapsHealed
from marketmem.runs import StreamRunWindow, describe_error
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid.candles import CandleTracker
from marketmem.sources.hyperliquid.config import SECTION
from marketmem.sources.hyperliquid.gaps import Gap, GapBook, minute_of, retry_delay_s
from marketmem.sources.hyperliquid.info import InfoClient
from marketmem.sources.hyperliquid.outbox import Outbox

if TYPE_CHECKING:
    from marketmem.sources.hyperliquid.stream import StreamStatistics

log = logging.getLogger(__name__)

BACKFILL_RETRY_INITIAL_S = 1.0
AGE_REPORT_S = 1.0

GAPS_PENDING = metrics.REGISTRY.gauge(
    "marketmem_candle_gaps_pending",
    "Candle gaps waiting for a candleSnapshot backfill, by coin",
    ("coin",),
)
GAP_OLDEST_AGE = metrics.REGISTRY.gauge(
    "marketmem_candle_gap_oldest_age_seconds",
    "Seconds since the oldest pending candle gap was detected (0: none pending)",
)


class GapHealer:
    def __init__(
        self,
        rt: Runtime,
        *,
        info: InfoClient,
        tracker: CandleTracker,
        outbox: Outbox,
        window: StreamRunWindow,
        stats: StreamStatistics,
        rng: random.Random,
        enabled: bool = True,
        on_round: Callable[[], None] = lambda: None,
    ) -> None:
        self.rt = rt
        self.cfg = SECTION.of(rt.config)
        self.info = info
        self.tracker = tracker
        self.outbox = outbox
        self.window = window
        self.stats = stats
        self.rng = rng
        # Off when the stream carries no candles: no gap is ever opened.
        self.enabled = enabled
        # Called after each round of snapshots (the stream's readiness).
        self.on_round = on_round
        self.gaps = GapBook(self.cfg.backfill_max_bars)
        self._changed = trio.Event()

    # --- the links ----------------------------------------------------------------------------

    def _latest_known_ms(self, coin: str) -> int:
        """Open time of the latest bar the tracker knows for ``coin`` (0: none)."""
        bar = self.tracker.open.get(coin)
        return max(bar.open_time_ms if bar else 0, self.tracker.last_closed_ms(coin) or 0)

    async def link_lost(self, coins: list[str], reason: str) -> None:
        """The feed of ``coins`` may miss pushes from now on: open (or widen) their gaps."""
        if not coins or not self.enabled:
            return
        now_ms = self.rt.clock.now_ms()
        for coin in coins:
            self.gaps.open(coin, self._latest_known_ms(coin), reason, now_ms)
        await self._persist(coins)

    async def link_back(self, coins: list[str]) -> None:
        """Acked again: pushes carry full bar states from the bar forming now."""
        now_ms = self.rt.clock.now_ms()
        closed = [c for c in coins if self.gaps.link_up(c, now_ms) is not None]
        if closed:
            await self._persist(closed)
            self._changed.set()

    def restore(self, stored: Iterable[CandleGap], coins: list[str]) -> None:
        """The gaps an earlier process left (stored candle gaps) for ``coins``."""
        wanted = set(coins)
        for g in stored:
            if g.coin in wanted:
                self.gaps.restore(
                    Gap(
                        coin=g.coin,
                        first_ms=g.first_open_ms,
                        last_ms=None,  # the link is down until this process is acked
                        reason=g.reason,
                        detected_at_ms=g.detected_at_ms,
                        attempts=g.attempts,
                        last_error=g.last_error,
                    )
                )

    # --- reporting ----------------------------------------------------------------------------

    def healing(self) -> bool:
        """A closed gap waits for its snapshot."""
        return any(g.closed for g in self.gaps.pending())

    def overdue(self) -> str | None:
        """The candles window's failure while gaps fail past their retry budget."""
        budget_s = self.cfg.backfill_retry_budget_s
        overdue = self.gaps.overdue(self.rt.clock.now_ms(), round(budget_s * 1000))
        if not overdue:
            return None
        shown = "; ".join(
            f"{g.coin} from {_hhmm(g.first_ms)} ({g.attempts} failed attempts, last: "
            f"{g.last_error})"
            for g in overdue[:5]
        )
        more = f"; and {len(overdue) - 5} more" if len(overdue) > 5 else ""
        return (
            f"{len(overdue)} candle gap(s) pending past the retry budget "
            f"({budget_s:g}s): {shown}{more}"
        )

    async def _persist(self, coins: list[str]) -> None:
        now_ms = self.rt.clock.now_ms()
        rows: list[CandleGap] = []
        healed: list[str] = []
        for coin in coins:
            gap = self.gaps.gaps.get(coin)
            GAPS_PENDING.set(0 if gap is None else 1, coin=coin)
            if gap is None:
                healed.append(coin)
                continue
            rows.append(
                CandleGap(
                    coin=coin,
                    first_open_ms=gap.first_ms,
                    last_open_ms=gap.last_ms,
                    reason=gap.reason,
                    detected_at_ms=gap.detected_at_ms,
                    attempts=gap.attempts,
                    last_error=gap.last_error,
                    updated_at_ms=now_ms,
                )
            )
        if rows:
            await self.rt.bus.publish(CandleGapBatch(rows=rows))
        if healed:
            await self.rt.bus.publish(CandleGapsHealed(coins=healed))

    # --- healing ------------------------------------------------------------------------------

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._report_age)
            await self._heal_forever()

    async def _report_age(self) -> None:
        while True:
            await trio.sleep(AGE_REPORT_S)
            now_ms = self.rt.clock.now_ms()
            oldest = min((g.detected_at_ms for g in self.gaps.pending()), default=now_ms)
            GAP_OLDEST_AGE.set(max(0, now_ms - oldest) / 1000)

    async def _heal_forever(self) -> None:
        """Fill every closed gap with ``candleSnapshot``, retrying for as long as it fails."""
        while True:
            dropped = self.gaps.expire(self.rt.clock.now_ms())
            if dropped:
                await self._note_dropped(dropped)
            due = self.gaps.due(trio.current_time())
            if not due:
                changed = self._changed
                wake = self.gaps.next_retry_at()
                with trio.move_on_at(math.inf if wake is None else wake):
                    await changed.wait()
                self._changed = trio.Event()
                continue
            healed: dict[str, list[int]] = {}
            for gap in due:
                reason = gap.reason
                rows = await self._heal(gap.coin)
                if rows is not None:
                    healed.setdefault(reason, []).append(rows)
            for reason, counts in healed.items():
                self.stats.backfills += 1
                self.stats.backfill_rows += sum(counts)
                msg = f"backfill after {reason}: {sum(counts)} row(s) for {len(counts)} coin(s)"
                self.window.note(msg)
                log.info("%s", msg)
            self.on_round()

    async def _heal(self, coin: str) -> int | None:
        """One snapshot for ``coin``'s gap; the rows published, or None when it failed."""
        request = self.gaps.request(coin, self.rt.clock.now_ms())
        if request is None:
            return None
        try:
            bars = await self.info.candle_snapshot(
                coin, self.tracker.interval, request.start_ms, request.asked_ms
            )
        except Exception as exc:
            error = describe_error(exc)
            gap = self.gaps.failed(request, error, 0.0)
            if gap is None:
                return None
            delay = retry_delay_s(
                gap.attempts, BACKFILL_RETRY_INITIAL_S, self.cfg.backfill_retry_max_s, self.rng
            )
            gap.retry_at = trio.current_time() + delay
            log.warning(
                "backfill of %s failed (%s); attempt %d, retry in %.1fs",
                coin,
                error,
                gap.attempts,
                delay,
            )
            if gap.attempts == 1:
                self.window.note(f"backfill of {coin} failed (retrying): {error}")
            await self._persist([coin])
            return None
        rows = self.tracker.on_snapshot(bars, request.asked_ms)
        await self.outbox.publish_candles(rows)
        self.gaps.healed(request)
        await self._persist([coin])
        return len(rows)

    async def _note_dropped(self, dropped: list[Gap]) -> None:
        for gap in dropped:
            msg = (
                f"candle gap of {gap.coin} from {_hhmm(gap.first_ms)} fell past the backfill "
                f"horizon ({self.cfg.backfill_max_bars} bars) and was not healed"
            )
            log.error("%s", msg)
            self.window.fail(msg)
        await self._persist([g.coin for g in dropped])


def _hhmm(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(minute_of(ms) / 1000)) + "Z"
