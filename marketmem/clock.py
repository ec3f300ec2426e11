"""Wall-clock time for event timestamps, injectable so tests can drive it with trio's clock.

Scheduling always uses ``trio.current_time()``/``trio.sleep_until``; stored timestamps need
Unix time, which ``MockClock`` does not fake. ``TrioWallClock`` maps trio time onto a fixed
Unix epoch, so a test under ``MockClock(autojump_threshold=0)`` sees both move together.
"""

from __future__ import annotations

import time
from typing import Protocol

import trio

# Durations in the milliseconds every stored timestamp counts.
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


class WallClock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """Real Unix time."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class TrioWallClock:
    """Unix time = ``start_ms`` + trio time elapsed since construction (for tests and the demo)."""

    def __init__(self, start_ms: int) -> None:
        self._start_ms = start_ms
        self._trio_t0: float | None = None

    def now_ms(self) -> int:
        t = trio.current_time()
        if self._trio_t0 is None:
            self._trio_t0 = t
        return self._start_ms + round((t - self._trio_t0) * 1000)


class FixedClock:
    """A clock that only moves when told to (pure-function and reader tests)."""

    def __init__(self, now_ms: int) -> None:
        self._now_ms = now_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        self._now_ms += ms

    def set(self, now_ms: int) -> None:
        self._now_ms = now_ms
