"""Per-IP rate budgets: the info weight limit (1200/min) and the WebSocket message limit.

Hyperliquid counts a weight per ``/info`` request (2, 20 or 60 by request type) plus a
surcharge per items returned (``candleSnapshot`` per 60 candles, ``fundingHistory`` per 20
rows), and at most 2000 client WebSocket messages per minute. ``WeightBudget`` is a sliding
window shared by every caller of one process: a request reserves an upper bound of its weight
before it is sent, holds it while in flight, and settles to its real weight when the answer
is in; the charge then counts for one window from that moment. Because a charge is timed at
the end of its request (never before the server saw it) and in-flight charges always count,
no window of the server's clock can see more than the capacity.

Pure weight arithmetic (``request_weight``, ``candle_items_upper_bound``) lives here too and
is shared with the local venue, which enforces the same rule.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import trio

WINDOW_S = 60.0
INFO_WEIGHT_PER_MINUTE = 1200

# Documented base weights; every other info request costs 20.
_BASE_WEIGHT = {
    "l2Book": 2,
    "allMids": 2,
    "clearinghouseState": 2,
    "orderStatus": 2,
    "spotClearinghouseState": 2,
    "exchangeStatus": 2,
    "userRole": 60,
}
DEFAULT_WEIGHT = 20
# Extra weight: one per this many items returned.
_ITEMS_PER_EXTRA = {
    "candleSnapshot": 60,
    "fundingHistory": 20,
    "recentTrades": 20,
    "userFills": 20,
    "userFillsByTime": 20,
    "userFunding": 20,
    "userNonFundingLedgerUpdates": 20,
    "historicalOrders": 20,
}

INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    # Calendar month; the longest one bounds the estimates.
    "1M": 31 * 86_400_000,
}

# The venue keeps and returns at most this many candles per coin and interval.
MAX_CANDLES = 5000
# Time-range endpoints return at most this many rows per response.
MAX_FUNDING_ROWS = 500


def base_weight(request_type: str) -> int:
    return _BASE_WEIGHT.get(request_type, DEFAULT_WEIGHT)


def request_weight(request_type: str, items: int = 0) -> int:
    """Weight of one info request that returned ``items`` items (surcharge rounded up)."""
    per = _ITEMS_PER_EXTRA.get(request_type)
    extra = math.ceil(items / per) if per and items > 0 else 0
    return base_weight(request_type) + extra


def candle_items_upper_bound(interval: str, start_ms: int, end_ms: int) -> int:
    """Bars overlapping [start_ms, end_ms], capped at what one answer can hold."""
    step = INTERVAL_MS[interval]
    if end_ms < start_ms:
        return 0
    return min(MAX_CANDLES, end_ms // step - start_ms // step + 1)


@dataclass(eq=False)
class Charge:
    """One request's share of a budget; ``at`` is None while it is in flight."""

    weight: int
    at: float | None = None


@dataclass(frozen=True)
class BudgetStatistics:
    capacity: int
    window_s: float
    used: int
    in_flight: int
    charges: int
    total_weight: int
    waits: int
    waited_s: float


class WeightBudget:
    """A sliding-window budget of ``capacity`` per ``window_s`` on trio's clock, FIFO-fair."""

    def __init__(self, capacity: int = INFO_WEIGHT_PER_MINUTE, window_s: float = WINDOW_S):
        if capacity < 1:
            raise ValueError("a budget needs a capacity of at least 1")
        self.capacity = capacity
        self.window_s = window_s
        self._settled: deque[Charge] = deque()
        self._in_flight: list[Charge] = []
        self._lock = trio.Lock()
        self._changed = trio.Event()
        self._charges = 0
        self._total = 0
        self._waits = 0
        self._waited_s = 0.0

    def _expire(self, now: float) -> None:
        while self._settled and self._settled[0].at is not None:
            if self._settled[0].at + self.window_s > now:
                break
            self._settled.popleft()

    def used(self) -> int:
        """Weight counted now: settled charges inside the window plus all in flight."""
        self._expire(trio.current_time())
        return sum(c.weight for c in self._settled) + sum(c.weight for c in self._in_flight)

    async def acquire(self, weight: int) -> Charge:
        """Wait until ``weight`` fits, then reserve it (in flight until ``settle``)."""
        weight = max(0, min(weight, self.capacity))
        async with self._lock:
            started = trio.current_time()
            waited = False
            while self.used() + weight > self.capacity:
                waited = True
                changed = self._changed
                deadline = math.inf
                if self._settled and self._settled[0].at is not None:
                    deadline = self._settled[0].at + self.window_s
                with trio.move_on_at(deadline):
                    await changed.wait()
            if waited:
                self._waits += 1
                self._waited_s += trio.current_time() - started
            charge = Charge(weight)
            self._in_flight.append(charge)
            self._charges += 1
            self._total += weight
            return charge

    def settle(self, charge: Charge, weight: int | None = None) -> None:
        """The request is over: its real ``weight`` counts for one window from now."""
        if charge.at is not None:
            return
        if weight is not None:
            self._total += weight - charge.weight
            charge.weight = weight
        self._in_flight.remove(charge)
        charge.at = trio.current_time()
        self._settled.append(charge)
        self._changed.set()
        self._changed = trio.Event()

    def statistics(self) -> BudgetStatistics:
        used = self.used()
        return BudgetStatistics(
            capacity=self.capacity,
            window_s=self.window_s,
            used=used,
            in_flight=len(self._in_flight),
            charges=self._charges,
            total_weight=self._total,
            waits=self._waits,
            waited_s=self._waited_s,
        )


async def spend(budget: WeightBudget, weight: int = 1) -> None:
    """Take ``weight`` from a budget at once (e.g. one WebSocket message sent)."""
    charge = await budget.acquire(weight)
    budget.settle(charge)
