"""Candle gaps: which 1-minute bars of a coin may be missing or partial, until healed (pure).

A gap opens when a coin's feed may have missed pushes: at start-up (from the last bar stored),
when a socket is lost or falls silent, when a re-plan moves the coin. It starts at the latest
bar known for the coin (inclusive: that bar may have missed its last pushes) and stays open
(``last_ms`` None) while the link is down. When the link is back, the gap closes at the bar
forming then: from that moment pushes carry each bar's full state again. A closed gap is due
for a ``candleSnapshot`` of ``[first_ms, now]``; it is removed only when such a snapshot
succeeded, retried with capped backoff while ``/info`` fails (``overdue`` once it still fails a
retry budget after the link came back), and dropped only once it has fallen past the backfill
horizon (``max_bars`` 1-minute bars: what the venue still serves).

One gap per coin: a new loss while a gap is pending widens it (earliest ``first_ms``, open
again). A snapshot that succeeds while the gap changed under it (the link was lost again
meanwhile) heals what it covered: the gap then starts at the bar that was forming when the
snapshot was asked. Nothing here does I/O; the stream persists every change (one row per coin
in ``hyperliquid_candle_gaps``) so a restarted process heals what the last one left.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from marketmem.clock import MINUTE_MS


def minute_of(ms: int) -> int:
    return ms - ms % MINUTE_MS


def horizon_ms(now_ms: int, max_bars: int) -> int:
    """The oldest open time a backfill still reaches."""
    return minute_of(now_ms) - max_bars * MINUTE_MS


def retry_delay_s(attempts: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter after ``attempts`` failed tries (>= 1)."""
    return min(max_s, initial_s * 2 ** min(attempts - 1, 30)) * rng.uniform(0.5, 1.0)


@dataclass
class Gap:
    coin: str
    first_ms: int  # first open time that may be missing or partial (inclusive)
    last_ms: int | None  # last such open time; None while the link is down
    reason: str  # start-up | reconnect | resubscribe | re-plan
    detected_at_ms: int
    attempts: int = 0  # failed snapshot attempts
    # When the link came back (the gap closed); None while it is down.
    link_back_ms: int | None = None
    retry_at: float = 0.0  # trio time of the next attempt
    last_error: str | None = None
    # Bumped by every change of coverage, so a snapshot knows whether it healed all of it.
    version: int = 0

    @property
    def closed(self) -> bool:
        return self.last_ms is not None

    def bars(self) -> int | None:
        if self.last_ms is None:
            return None
        return (self.last_ms - self.first_ms) // MINUTE_MS + 1


@dataclass(frozen=True)
class Request:
    """One snapshot to ask for a gap: ``[start_ms, asked_ms]`` (asked_ms is now)."""

    coin: str
    start_ms: int
    asked_ms: int
    version: int


@dataclass
class GapBook:
    max_bars: int
    gaps: dict[str, Gap] = field(default_factory=dict)

    # --- the link -------------------------------------------------------------------------

    def open(self, coin: str, first_ms: int, reason: str, now_ms: int) -> Gap:
        """The coin's feed may miss pushes from bar ``first_ms`` on (the link is down)."""
        first_ms = max(minute_of(first_ms), horizon_ms(now_ms, self.max_bars))
        gap = self.gaps.get(coin)
        if gap is None:
            gap = self.gaps[coin] = Gap(coin, first_ms, None, reason, now_ms)
            return gap
        gap.reason = reason  # the latest cause (a silence that became a reconnect, ...)
        if gap.closed or first_ms < gap.first_ms:
            gap.first_ms = min(gap.first_ms, first_ms)
            gap.last_ms = None
            gap.link_back_ms = None
            gap.version += 1
        return gap

    def link_up(self, coin: str, now_ms: int) -> Gap | None:
        """Pushes carry full bar states again from the bar forming now: the gap closes there."""
        gap = self.gaps.get(coin)
        if gap is None or gap.closed:
            return None
        gap.last_ms = max(gap.first_ms, minute_of(now_ms))
        gap.link_back_ms = now_ms
        return gap

    # --- healing --------------------------------------------------------------------------

    def due(self, now_t: float) -> list[Gap]:
        """Closed gaps whose next attempt is due, oldest first."""
        out = [g for g in self.gaps.values() if g.closed and g.retry_at <= now_t]
        return sorted(out, key=lambda g: (g.first_ms, g.coin))

    def next_retry_at(self) -> float | None:
        waits = [g.retry_at for g in self.gaps.values() if g.closed]
        return min(waits) if waits else None

    def request(self, coin: str, now_ms: int) -> Request | None:
        gap = self.gaps.get(coin)
        if gap is None or not gap.closed:
            return None
        start = max(gap.first_ms, horizon_ms(now_ms, self.max_bars))
        return Request(coin, start, now_ms, gap.version)

    def healed(self, request: Request) -> Gap | None:
        """The snapshot of ``request`` succeeded; returns the gap left (None: healed)."""
        gap = self.gaps.get(request.coin)
        if gap is None:
            return None
        if gap.version == request.version:
            del self.gaps[request.coin]
            return None
        # Lost again while the snapshot was under way: what it covered is final up to the
        # bar that was forming when it was asked.
        gap.first_ms = max(gap.first_ms, minute_of(request.asked_ms))
        if gap.last_ms is not None and gap.last_ms < gap.first_ms:
            del self.gaps[request.coin]
            return None
        gap.attempts = 0
        gap.last_error = None
        return gap

    def failed(self, request: Request, error: str, retry_at: float) -> Gap | None:
        gap = self.gaps.get(request.coin)
        if gap is None:
            return None
        gap.attempts += 1
        gap.last_error = error
        gap.retry_at = retry_at
        return gap

    def expire(self, now_ms: int) -> list[Gap]:
        """Drop gaps that fell past the horizon (the venue serves those bars no more) and clip
        the others to it; returns the dropped ones."""
        horizon = horizon_ms(now_ms, self.max_bars)
        dropped = [g for g in self.gaps.values() if g.last_ms is not None and g.last_ms < horizon]
        for gap in dropped:
            del self.gaps[gap.coin]
        for gap in self.gaps.values():
            # Clipping needs no new snapshot: every request is clipped the same way.
            gap.first_ms = max(gap.first_ms, horizon)
        return dropped

    # --- reporting ------------------------------------------------------------------------

    def pending(self) -> list[Gap]:
        return sorted(self.gaps.values(), key=lambda g: (g.first_ms, g.coin))

    def overdue(self, now_ms: int, budget_ms: int) -> list[Gap]:
        """Gaps still failing ``budget_ms`` after their link came back (retried meanwhile);
        a gap that only waits for its turn (no failed attempt) is not overdue."""
        return [
            g
            for g in self.pending()
            if g.link_back_ms is not None and g.attempts and now_ms - g.link_back_ms >= budget_ms
        ]

    def restore(self, gap: Gap) -> None:
        """A gap read back from the database (a process that stopped with it pending)."""
        held = self.gaps.get(gap.coin)
        if held is None or gap.first_ms < held.first_ms:
            self.gaps[gap.coin] = gap
