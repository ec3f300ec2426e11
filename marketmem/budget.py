"""Sliding-window rate budgets: at most ``capacity`` weight per window, on trio's clock.

A venue's per-IP limits (request weight per minute, client messages per minute, new
connections per minute) are each one ``WeightBudget`` shared by every caller of one process.
A caller reserves an upper bound of its weight before it sends (``acquire``), holds it while
in flight, and settles it to its real weight when the answer is in (``settle``); the charge
then counts for one window from that moment. Because a charge is timed at the end of its
request (never before the server saw it) and in-flight charges always count, no window of
the server's clock can see more than the capacity. ``spend`` takes a fixed weight at once
(one message sent, one connection opened). Waiters are served first come, first served.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import trio

WINDOW_S = 60.0


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

    def __init__(self, capacity: int, window_s: float = WINDOW_S):
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
