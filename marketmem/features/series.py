"""OHLCV series as parallel lists, and the window rules every candle feature shares.

A ``Series`` holds bars of one interval in ascending open time, one bar per open time (the
windows that build it deduplicate). Features take the last N bars *by time*; the window is
complete when all N bars are there, i.e. when it has no gap. ``hourly`` rolls minute bars up
into hour bars.

Hour bars rolled up from minutes keep the open time of the newest minute under each of them:
data is as old as that minute, not as the hour's nominal end. ``is_stale`` measures the age of
the data under the last bar, and ``closed_hours`` keeps only the hours that really closed.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.features.values import GAP, TOO_FEW_CANDLES, Null


@dataclass(frozen=True, slots=True)
class Series:
    """Bars of one interval; ``times`` are open times (ms), ascending and unique.

    ``newest_minutes`` (bars rolled up from 1-minute bars) is the open time of the newest
    minute under each bar; None when every bar's data reaches the bar's own end.
    """

    interval_ms: int
    times: list[int]
    opens: list[float]
    highs: list[float]
    lows: list[float]
    closes: list[float]
    volumes: list[float]
    newest_minutes: list[int] | None = None

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def empty(cls, interval_ms: int) -> Series:
        return cls(interval_ms, [], [], [], [], [], [])

    @classmethod
    def from_bars(
        cls, interval_ms: int, bars: list[tuple[int, float, float, float, float, float]]
    ) -> Series:
        """From (open_time_ms, open, high, low, close, volume) tuples in any order.

        A repeated open time keeps the last tuple given (a later update of the same bar).
        """
        by_time = {b[0]: b for b in bars}
        ordered = [by_time[t] for t in sorted(by_time)]
        return cls(
            interval_ms,
            [b[0] for b in ordered],
            [b[1] for b in ordered],
            [b[2] for b in ordered],
            [b[3] for b in ordered],
            [b[4] for b in ordered],
            [b[5] for b in ordered],
        )

    def slice(self, start: int, stop: int | None = None) -> Series:
        newest = self.newest_minutes
        return Series(
            self.interval_ms,
            self.times[start:stop],
            self.opens[start:stop],
            self.highs[start:stop],
            self.lows[start:stop],
            self.closes[start:stop],
            self.volumes[start:stop],
            None if newest is None else newest[start:stop],
        )

    def last_bars(self, n: int) -> Series:
        """The bars whose open time falls in the last ``n`` intervals ending at the last bar."""
        if not self.times or n <= 0:
            return Series.empty(self.interval_ms)
        first = self.times[-1] - (n - 1) * self.interval_ms
        return self.slice(bisect_left(self.times, first))

    def until(self, end_ms: int) -> Series:
        """The bars that opened before ``end_ms``."""
        return self.slice(0, bisect_left(self.times, end_ms))

    def is_contiguous(self) -> bool:
        """True when no interval between the first and the last bar is missing."""
        n = len(self.times)
        return n == 0 or self.times[-1] - self.times[0] == (n - 1) * self.interval_ms

    def contiguous_tail(self) -> Series:
        """The longest run of consecutive bars that ends at the last bar."""
        times = self.times
        step = self.interval_ms
        i = len(times) - 1
        while i > 0 and times[i] - times[i - 1] == step:
            i -= 1
        return self.slice(max(i, 0))

    @property
    def end_ms(self) -> int | None:
        """Last millisecond covered (close time of the last bar)."""
        return self.times[-1] + self.interval_ms - 1 if self.times else None

    @property
    def data_end_ms(self) -> int | None:
        """Last millisecond the data under the last bar covers: the close time of the newest
        minute under it, or the bar's own close time when it is not a rollup."""
        if not self.times:
            return None
        if self.newest_minutes is None:
            return self.times[-1] + self.interval_ms - 1
        return self.newest_minutes[-1] + MINUTE_MS - 1


def hourly(minutes: Series) -> Series:
    """Roll minute bars up into hour bars (open of the first, close of the last minute).

    An hour with some minutes missing is still an hour bar (no trades in those minutes); an
    hour with no minute at all is absent, which a feature then sees as a gap.
    """
    out = Series.empty(HOUR_MS)
    newest: list[int] = []
    cur = -1
    for t, o, h, lo, c, v in zip(
        minutes.times,
        minutes.opens,
        minutes.highs,
        minutes.lows,
        minutes.closes,
        minutes.volumes,
        strict=True,
    ):
        hour = t - t % HOUR_MS
        if hour != cur:
            cur = hour
            out.times.append(hour)
            out.opens.append(o)
            out.highs.append(h)
            out.lows.append(lo)
            out.closes.append(c)
            out.volumes.append(v)
            newest.append(t)
        else:
            if h > out.highs[-1]:
                out.highs[-1] = h
            if lo < out.lows[-1]:
                out.lows[-1] = lo
            out.closes[-1] = c
            out.volumes[-1] += v
            newest[-1] = t
    return replace(out, newest_minutes=newest)


def full_window(series: Series, n: int) -> Series | Null:
    """The last ``n`` bars when all of them are there; ``GAP`` / ``TOO_FEW_CANDLES`` otherwise."""
    window = series.last_bars(n)
    if len(window) == n:
        return window
    if len(window) >= 2 and not window.is_contiguous():
        return GAP
    # A window that starts late is too short; one with a missing bar at its start is a gap
    # only if an older bar exists (the series goes on before the window).
    return GAP if len(series) > len(window) and len(window) > 0 else TOO_FEW_CANDLES


def shortfall(window: Series, tail: Series) -> Null:
    """Why the contiguous tail of ``window`` is too short for an indicator."""
    return GAP if len(tail) < len(window) else TOO_FEW_CANDLES


def is_stale(series: Series, now_ms: int, stale_after_ms: int) -> bool:
    """Whether the data under the last bar ended more than ``stale_after_ms`` before now.

    For an hour bar that is the age of its newest minute: with the minute feed stopped, hour
    values go stale when minute values do, not once the forming hour's nominal end is old.
    """
    end = series.data_end_ms
    return end is not None and now_ms - end > stale_after_ms


def has_fresh_data(series: Series, now_ms: int, stale_after_ms: int) -> bool:
    return len(series) > 0 and not is_stale(series, now_ms, stale_after_ms)


def closed_hours(hours: Series, now_ms: int) -> Series:
    """The hour bars that are closed: every bar a later one follows (the next hour has started
    with data), and the last bar only once the clock has passed its end and its minutes reach
    its last minute. An hour interrupted by a feed stop is not closed."""
    if not hours.times:
        return hours
    end = hours.times[-1] + hours.interval_ms
    if now_ms >= end and hours.data_end_ms == end - 1:
        return hours
    return hours.slice(0, len(hours) - 1)
