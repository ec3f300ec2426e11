"""Which candle rows to store, and when a bar is closed (pure state, no I/O).

The venue has no "closed" flag: every push repeats the open bar's full state. A bar is closed
when a push with a later open time arrives for the coin, or once the clock passes its last
millisecond plus a grace period. Neither proves the stored state complete when the link was
down meanwhile: that is what gaps (``gaps``) are for. ``candleSnapshot`` rows (gap backfill)
go through the same tracker: a bar that is over is closed with the venue's final state; the bar
still forming is adopted only when it carries at least as many trades as the state already held
(trade counts only grow within a bar), so an older snapshot never overwrites a newer push. Bars
are never invented: only what the venue sent becomes a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marketmem.events import Candle
from marketmem.sources.hyperliquid.wire import WireCandle


def to_row(c: WireCandle, *, closed: bool, now_ms: int) -> Candle:
    # The wire's prices are already the correctly rounded doubles of the decimals sent (at
    # most 15 significant digits), so the stored REAL prints back as the exact decimal.
    return Candle(
        coin=c.coin,
        interval=c.interval,
        open_time_ms=c.open_time_ms,
        close_time_ms=c.close_time_ms,
        open=c.open,
        high=c.high,
        low=c.low,
        close=c.close,
        volume=c.volume,
        trades=c.trades,
        closed=closed,
        updated_at_ms=now_ms,
    )


@dataclass
class TrackerStatistics:
    pushes: int = 0
    closed_by_rollover: int = 0
    closed_by_clock: int = 0
    snapshot_rows: int = 0
    stale_pushes: int = 0


@dataclass
class CandleTracker:
    """The open bar per coin (for one interval) and the last closed open time per coin."""

    interval: str = "1m"
    grace_ms: int = 5000
    open: dict[str, WireCandle] = field(default_factory=dict)
    last_closed: dict[str, int] = field(default_factory=dict)
    stats: TrackerStatistics = field(default_factory=TrackerStatistics)

    def _close(self, coin: str, now_ms: int) -> Candle:
        bar = self.open.pop(coin)
        self.last_closed[coin] = max(self.last_closed.get(coin, 0), bar.open_time_ms)
        return to_row(bar, closed=True, now_ms=now_ms)

    def on_push(self, c: WireCandle, now_ms: int) -> list[Candle]:
        """Rows for one WebSocket push: the bar it closes (if any) and the bar itself."""
        if c.interval != self.interval:
            return []
        self.stats.pushes += 1
        out: list[Candle] = []
        current = self.open.get(c.coin)
        if current is not None:
            if c.open_time_ms > current.open_time_ms:
                out.append(self._close(c.coin, now_ms))
                self.stats.closed_by_rollover += 1
            elif c.open_time_ms < current.open_time_ms or c.trades < current.trades:
                # An older bar or an older state of this one: never move backwards.
                self.stats.stale_pushes += 1
                return out
        if c.open_time_ms <= self.last_closed.get(c.coin, -1):
            # A late push for a bar already closed (its stored state is final): ignored.
            self.stats.stale_pushes += 1
            return out
        self.open[c.coin] = c
        out.append(to_row(c, closed=False, now_ms=now_ms))
        return out

    def on_clock(self, now_ms: int) -> list[Candle]:
        """Close every open bar whose end plus the grace period has passed."""
        due = [
            coin for coin, bar in self.open.items() if now_ms > bar.close_time_ms + self.grace_ms
        ]
        self.stats.closed_by_clock += len(due)
        return [self._close(coin, now_ms) for coin in due]

    def on_snapshot(self, rows: list[WireCandle], now_ms: int) -> list[Candle]:
        """Rows for a ``candleSnapshot`` answer fetched at ``now_ms`` (ascending)."""
        # A backfill brings hundreds of thousands of rows through here: the loop keeps its
        # lookups local (the same steps as ``on_push`` and ``_close``, not a shortcut).
        out: list[Candle] = []
        append = out.append
        held = self.open
        last_closed = self.last_closed
        interval = self.interval
        seen = 0
        for c in rows:
            if c.interval != interval:
                continue
            seen += 1
            coin = c.coin
            current = held.get(coin)
            if c.close_time_ms < now_ms:
                # Over: final. It replaces any open state of the same bar.
                if current is not None and current.open_time_ms <= c.open_time_ms:
                    del held[coin]
                    if current.open_time_ms < c.open_time_ms:
                        # The held bar is older: it is over too.
                        append(to_row(current, closed=True, now_ms=now_ms))
                if c.open_time_ms > last_closed.get(coin, 0):
                    last_closed[coin] = c.open_time_ms
                append(to_row(c, closed=True, now_ms=now_ms))
                continue
            # Still forming at the time of the snapshot.
            if current is None or c.open_time_ms > current.open_time_ms:
                if current is not None:
                    append(self._close(coin, now_ms))
                held[coin] = c
                append(to_row(c, closed=False, now_ms=now_ms))
            elif c.open_time_ms == current.open_time_ms and c.trades > current.trades:
                held[coin] = c
                append(to_row(c, closed=False, now_ms=now_ms))
        self.stats.snapshot_rows += seen
        return out

    def last_closed_ms(self, coin: str) -> int | None:
        return self.last_closed.get(coin)

    def note_stored_closed(self, coin: str, open_time_ms: int) -> None:
        """The latest closed bar the database holds (read at start-up); the start-up gap
        starts there, since it may have been closed by the clock just before a stop."""
        self.last_closed[coin] = max(self.last_closed.get(coin, 0), open_time_ms)
