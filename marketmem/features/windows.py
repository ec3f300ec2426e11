"""Per-coin candle windows in memory: the last day of 1-minute bars and a week of hour bars.

The feature actor feeds minute bars from ``CandleBatch`` events and from the database (seed and
reseed); both paths go through ``upsert``, where the later ``updated_at_ms`` wins, so the order
in which a bus event and a database read arrive never matters. Hour bars come from the
``hyperliquid_candles_1h`` rollups and from minutes leaving the minute window; the hour series
that features see prefers hours rolled up from the minute window (fresh, including the forming
hour), and falls back to stored hours before it.

Every hour bar knows the open time of its newest minute (features measure staleness by it).
A stored rollup records only how many minutes it was built from, so its newest minute is taken
as ``open + (minutes - 1)`` minutes: exact for a whole hour, never later than the truth.

No I/O here: reading the database is the actor's job.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import replace

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.events import Candle
from marketmem.features.series import Series
from marketmem.storage.models.features import WindowHour, WindowMinute

# Minutes kept: 24 h for the 24 h estimators plus a margin for the window's first hour.
KEEP_MINUTES = 24 * 60 + 90
# Hours kept: 7 days for the 7 d estimators plus a margin.
KEEP_HOURS = 7 * 24 + 3

# (open, high, low, close, volume, minutes in the hour, open time of the newest minute)
HourBar = tuple[float, float, float, float, float, int, int]


class CoinWindow:
    """One coin's minute bars (parallel lists, ascending open time) and stored hour bars."""

    __slots__ = (
        "_hour_cache",
        "closes",
        "highs",
        "hours",
        "lows",
        "opens",
        "times",
        "updated",
        "volumes",
    )

    def __init__(self) -> None:
        self.times: list[int] = []
        self.opens: list[float] = []
        self.highs: list[float] = []
        self.lows: list[float] = []
        self.closes: list[float] = []
        self.volumes: list[float] = []
        self.updated: list[int] = []
        self.hours: dict[int, HourBar] = {}
        # Hours rolled up from minute bars, dropped when one of their minutes changes.
        self._hour_cache: dict[int, HourBar] = {}

    def upsert(
        self, t: int, o: float, h: float, lo: float, c: float, v: float, updated_at_ms: int
    ) -> bool:
        """Insert or update the bar opening at ``t``; an older update than the one held loses."""
        times = self.times
        if times and t > times[-1]:
            i = len(times)
        else:
            i = bisect_left(times, t)
            if i < len(times) and times[i] == t:
                if updated_at_ms < self.updated[i]:
                    return False
                self.opens[i], self.highs[i], self.lows[i] = o, h, lo
                self.closes[i], self.volumes[i], self.updated[i] = c, v, updated_at_ms
                self._hour_cache.pop(t - t % HOUR_MS, None)
                return True
        times.insert(i, t)
        self.opens.insert(i, o)
        self.highs.insert(i, h)
        self.lows.insert(i, lo)
        self.closes.insert(i, c)
        self.volumes.insert(i, v)
        self.updated.insert(i, updated_at_ms)
        self._hour_cache.pop(t - t % HOUR_MS, None)
        return True

    def put_hour(self, hour_ms: int, bar: HourBar) -> None:
        """A stored hour bar; the one covering more minutes wins."""
        held = self.hours.get(hour_ms)
        if held is None or bar[5] >= held[5]:
            self.hours[hour_ms] = bar

    def trim(self) -> None:
        """Drop minutes beyond ``KEEP_MINUTES`` (their whole hours move to ``hours``) and old
        hours beyond ``KEEP_HOURS``."""
        times = self.times
        if not times or times[0] >= times[-1] - (KEEP_MINUTES - 1) * MINUTE_MS:
            return
        cut = bisect_left(times, times[-1] - (KEEP_MINUTES - 1) * MINUTE_MS)
        if cut > 0:
            first_full = _ceil_hour(times[0])
            for hour in range(first_full, _ceil_hour(times[cut]), HOUR_MS):
                bar = self._rolled(hour)
                if bar is not None:
                    self.put_hour(hour, bar)
            for lst in (
                self.times,
                self.opens,
                self.highs,
                self.lows,
                self.closes,
                self.volumes,
                self.updated,
            ):
                del lst[:cut]
            floor = self.times[0] - self.times[0] % HOUR_MS
            for hour in [h for h in self._hour_cache if h < floor]:
                del self._hour_cache[hour]
        oldest = times[-1] - times[-1] % HOUR_MS - (KEEP_HOURS - 1) * HOUR_MS
        for hour in [h for h in self.hours if h < oldest]:
            del self.hours[hour]

    def _rolled(self, hour: int) -> HourBar | None:
        """The hour bar rolled up from this window's minutes (None when it has none)."""
        cached = self._hour_cache.get(hour)
        if cached is not None:
            return cached
        times = self.times
        i = bisect_left(times, hour)
        j = bisect_left(times, hour + HOUR_MS, i)
        if i == j:
            return None
        bar = (
            self.opens[i],
            max(self.highs[i:j]),
            min(self.lows[i:j]),
            self.closes[j - 1],
            sum(self.volumes[i:j]),
            j - i,
            times[j - 1],
        )
        self._hour_cache[hour] = bar
        return bar

    def minutes(self) -> Series:
        """The minute bars as a Series (shares the lists: read it before the next update)."""
        return Series(
            MINUTE_MS, self.times, self.opens, self.highs, self.lows, self.closes, self.volumes
        )

    def hour_series(self) -> Series:
        """Hour bars: rolled up from minutes from the first whole hour of the minute window
        (including the forming hour), stored hours before it and where minutes are missing."""
        out = Series.empty(HOUR_MS)
        newest: list[int] = []
        first_full = _ceil_hour(self.times[0]) if self.times else None
        hours = set(self.hours)
        if first_full is not None:
            last = self.times[-1] - self.times[-1] % HOUR_MS
            hours.update(range(first_full, last + HOUR_MS, HOUR_MS))
        for hour in sorted(hours):
            bar = None
            if first_full is not None and hour >= first_full:
                bar = self._rolled(hour)
            if bar is None:
                bar = self.hours.get(hour)
            if bar is None:
                continue
            out.times.append(hour)
            out.opens.append(bar[0])
            out.highs.append(bar[1])
            out.lows.append(bar[2])
            out.closes.append(bar[3])
            out.volumes.append(bar[4])
            newest.append(bar[6])
        return replace(out, newest_minutes=newest)


def _ceil_hour(t: int) -> int:
    return t if t % HOUR_MS == 0 else t - t % HOUR_MS + HOUR_MS


class CandleWindows:
    """Every coin's window, fed by candle batches and database rows."""

    def __init__(self) -> None:
        self.coins: dict[str, CoinWindow] = {}

    def window(self, coin: str) -> CoinWindow:
        w = self.coins.get(coin)
        if w is None:
            w = self.coins[coin] = CoinWindow()
        return w

    def apply(self, candles: Iterable[Candle]) -> int:
        """Apply 1-minute candles (other intervals are ignored); returns bars changed."""
        changed = 0
        touched: set[str] = set()
        for c in candles:
            if c.interval != "1m":
                continue
            if self.window(c.coin).upsert(
                c.open_time_ms, c.open, c.high, c.low, c.close, c.volume, c.updated_at_ms
            ):
                changed += 1
                touched.add(c.coin)
        for coin in touched:
            self.coins[coin].trim()
        return changed

    def apply_rows(self, rows: Iterable[WindowMinute]) -> None:
        """Minute rows read from the database."""
        touched: set[str] = set()
        for r in rows:
            self.window(r.coin).upsert(
                r.open_time_ms, r.open, r.high, r.low, r.close, r.volume, r.updated_at_ms
            )
            touched.add(r.coin)
        for coin in touched:
            self.coins[coin].trim()

    def apply_hours(self, rows: Iterable[WindowHour]) -> None:
        """Hour rollups read from the database."""
        for r in rows:
            n = r.minute_count
            newest = r.open_time_ms + (max(n, 1) - 1) * MINUTE_MS
            self.window(r.coin).put_hour(
                r.open_time_ms, (r.open, r.high, r.low, r.close, r.volume, n, newest)
            )

    def minutes(self, coin: str) -> Series:
        w = self.coins.get(coin)
        return w.minutes() if w is not None else Series.empty(MINUTE_MS)

    def hours(self, coin: str) -> Series:
        w = self.coins.get(coin)
        return w.hour_series() if w is not None else Series.empty(HOUR_MS)
