"""A sliding-window request limiter on trio's clock (client side, below the venue's limits)."""

from __future__ import annotations

from collections import deque

import trio


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions in any ``window_s`` of trio time; callers wait their turn."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a limiter needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()
        self.waited = 0  # acquisitions that had to wait

    async def acquire(self) -> None:
        waited = False
        while True:
            now = trio.current_time()
            while self._times and self._times[0] <= now - self.window_s:
                self._times.popleft()
            if len(self._times) < self.limit:
                self._times.append(now)
                self.waited += waited
                await trio.lowlevel.checkpoint()
                return
            waited = True
            await trio.sleep_until(self._times[0] + self.window_s)
