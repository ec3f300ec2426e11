"""Volatility estimators as pure functions, annualised for a market that trades all year.

- Realised volatility: root mean square of log returns (zero-mean convention), times
  ``sqrt(bars per year)``. N bars give N returns: the first is ln(close / open) of the first
  bar, the others close to close, so the estimate covers exactly the N bars' time.
- Parkinson: variance ``sum(ln(H/L)^2) / (4 N ln 2)`` per bar.
- Garman-Klass: variance ``mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2)`` per bar.
- Regime: where the coin's recent hourly range volatility (Parkinson, mean over the last
  ``window`` closed hours) ranks among the same measure over its own hourly history; the
  percentile (mid-rank) maps to low / normal / high / extreme through configured cut-offs.
  An hour is closed when a later hour has data, or when the clock has passed its end and its
  minutes reach its last minute (``series.closed_hours``): an hour cut short by a feed stop
  is not.

Hour-based values (7 d estimators, ``atr_pct_1h``, the regime) are ``stale`` by the age of the
newest minute under the latest hour bar, like the minute-based ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from marketmem.features.config import FeaturesConfig
from marketmem.features.indicators import atr_wilder
from marketmem.features.series import Series, closed_hours, full_window, is_stale, shortfall
from marketmem.features.values import (
    FLAT_PRICES,
    GAP,
    INVALID_BAR,
    STALE,
    TOO_FEW_CANDLES,
    ZERO_PRICE,
    Columns,
    Null,
    Num,
    finite,
)

MINUTES_PER_YEAR = 365 * 24 * 60
HOURS_PER_YEAR = 365 * 24
_LN2 = math.log(2.0)
_PARKINSON_K = 1.0 / (4.0 * _LN2)
_GK_K = 2.0 * _LN2 - 1.0

_log = math.log


def _positive(*lists: list[float]) -> bool:
    return all(min(xs) > 0 for xs in lists if xs)


def realized_vol(opens: list[float], closes: list[float], bars_per_year: float) -> Num:
    n = len(closes)
    if n == 0:
        return TOO_FEW_CANDLES
    if not _positive(opens[:1], closes):
        return ZERO_PRICE
    first = _log(closes[0] / opens[0])
    total = first * first
    prev = closes[0]
    for c in closes[1:]:
        r = _log(c / prev)
        total += r * r
        prev = c
    return finite(math.sqrt(total / n * bars_per_year))


def parkinson(highs: list[float], lows: list[float], bars_per_year: float) -> Num:
    n = len(highs)
    if n == 0:
        return TOO_FEW_CANDLES
    if not _positive(highs, lows):
        return ZERO_PRICE
    total = 0.0
    for h, lo in zip(highs, lows, strict=True):
        x = _log(h / lo)
        total += x * x
    return finite(math.sqrt(total * _PARKINSON_K / n * bars_per_year))


def garman_klass(
    opens: list[float],
    highs: list[float],
    lows: list[float],
    closes: list[float],
    bars_per_year: float,
) -> Num:
    n = len(closes)
    if n == 0:
        return TOO_FEW_CANDLES
    if not _positive(opens, highs, lows, closes):
        return ZERO_PRICE
    total = 0.0
    for o, h, lo, c in zip(opens, highs, lows, closes, strict=True):
        hl = _log(h / lo)
        co = _log(c / o)
        total += 0.5 * hl * hl - _GK_K * co * co
    if total < 0:
        # Only possible with bars whose close lies outside their high/low: bad input.
        return INVALID_BAR
    return finite(math.sqrt(total / n * bars_per_year))


def atr_pct(atr: Num, close: float) -> Num:
    if isinstance(atr, Null):
        return atr
    if close <= 0:
        return ZERO_PRICE
    return finite(atr / close * 100.0)


@dataclass(frozen=True, slots=True)
class RegimeThresholds:
    """Percentile cut-offs: below ``low`` is low, from ``extreme`` up is extreme."""

    low: float
    high: float
    extreme: float


@dataclass(frozen=True, slots=True)
class Regime:
    percentile: Num
    label: str | Null


def regime(
    hour_times: list[int],
    highs: list[float],
    lows: list[float],
    *,
    window: int,
    min_history: int,
    thresholds: RegimeThresholds,
    hour_ms: int = 3_600_000,
) -> Regime:
    """Rank the last ``window`` closed hours' Parkinson variance among the earlier windows.

    Only windows of ``window`` consecutive hours count; the current one must be consecutive
    (``GAP`` otherwise), and at least ``min_history`` earlier windows are needed.
    """
    n = len(highs)
    if n < window:
        return Regime(TOO_FEW_CANDLES, TOO_FEW_CANDLES)
    if not _positive(highs, lows):
        return Regime(ZERO_PRICE, ZERO_PRICE)
    per_hour = [_log(h / lo) ** 2 for h, lo in zip(highs, lows, strict=True)]
    span = (window - 1) * hour_ms
    rolling: list[float] = []
    for i in range(window - 1, n):
        if hour_times[i] - hour_times[i - window + 1] == span:
            rolling.append(math.fsum(per_hour[i - window + 1 : i + 1]))
        elif i == n - 1:
            return Regime(GAP, GAP)
    current = rolling[-1]
    history = rolling[:-1]
    if len(history) < min_history:
        return Regime(TOO_FEW_CANDLES, TOO_FEW_CANDLES)
    if current == 0 and max(history) == 0:
        return Regime(FLAT_PRICES, FLAT_PRICES)
    below = sum(1 for x in history if x < current)
    equal = sum(1 for x in history if x == current)
    pct = (below + 0.5 * equal) / len(history)
    return Regime(pct, regime_label(pct, thresholds))


def regime_label(pct: float, t: RegimeThresholds) -> str:
    if pct < t.low:
        return "low"
    if pct < t.high:
        return "normal"
    if pct < t.extreme:
        return "high"
    return "extreme"


COLUMNS = (
    "close",
    "rv_1h",
    "rv_4h",
    "rv_24h",
    "rv_7d",
    "parkinson_24h",
    "garman_klass_24h",
    "parkinson_7d",
    "garman_klass_7d",
    "atr_pct_1m",
    "atr_pct_1h",
    "regime_percentile",
    "regime",
)
_M1_COLUMNS = (
    "close",
    "rv_1h",
    "rv_4h",
    "rv_24h",
    "parkinson_24h",
    "garman_klass_24h",
    "atr_pct_1m",
)
_H1_COLUMNS = (
    "rv_7d",
    "parkinson_7d",
    "garman_klass_7d",
    "atr_pct_1h",
    "regime_percentile",
    "regime",
)


@dataclass(frozen=True, slots=True)
class VolatilitySettings:
    stale_after_ms: int
    regime_window_hours: int
    regime_min_history: int
    # ATR (Wilder, 14) is smoothed over this many bars before being divided by the close.
    atr_lookback_1m: int
    atr_lookback_1h: int
    thresholds: RegimeThresholds

    @classmethod
    def of(cls, cfg: FeaturesConfig) -> VolatilitySettings:
        return cls(
            stale_after_ms=int(cfg.candle_stale_s * 1000),
            regime_window_hours=cfg.regime_window_hours,
            regime_min_history=cfg.regime_min_history,
            atr_lookback_1m=cfg.technical_bars_1m,
            atr_lookback_1h=cfg.technical_bars_1h,
            thresholds=RegimeThresholds(
                low=cfg.regime_low_pct, high=cfg.regime_high_pct, extreme=cfg.regime_extreme_pct
            ),
        )


DEFAULT_VOLATILITY = VolatilitySettings.of(FeaturesConfig())


def volatility_profile(
    m1: Series, h1: Series, now_ms: int, settings: VolatilitySettings = DEFAULT_VOLATILITY
) -> tuple[Columns, int | None, int | None]:
    """The row's columns and the window it covers (None when no bar was used).

    1 h / 4 h / 24 h estimators use the last 60 / 240 / 1440 one-minute bars, 7 d ones the
    last 168 hour bars; each needs its whole window (``gap`` / ``too_few_candles``).
    """
    cols = Columns()
    starts: list[int] = []
    ends: list[int] = []
    if len(m1) == 0 or is_stale(m1, now_ms, settings.stale_after_ms):
        cols.null_all(_M1_COLUMNS, TOO_FEW_CANDLES if len(m1) == 0 else STALE)
    else:
        cols.put("close", m1.closes[-1])
        for name, n in (("rv_1h", 60), ("rv_4h", 240), ("rv_24h", 1440)):
            w = full_window(m1, n)
            if isinstance(w, Null):
                cols.put(name, w)
                continue
            starts.append(w.times[0])
            cols.put(name, realized_vol(w.opens, w.closes, MINUTES_PER_YEAR))
            if n == 1440:
                cols.put("parkinson_24h", parkinson(w.highs, w.lows, MINUTES_PER_YEAR))
                cols.put(
                    "garman_klass_24h",
                    garman_klass(w.opens, w.highs, w.lows, w.closes, MINUTES_PER_YEAR),
                )
        if "rv_24h" in cols.reasons:
            reason = Null(cols.reasons["rv_24h"])
            cols.put("parkinson_24h", reason)
            cols.put("garman_klass_24h", reason)
        cols.put("atr_pct_1m", _atr_pct(m1, settings.atr_lookback_1m))
        end = m1.end_ms
        assert end is not None
        ends.append(end)
        starts.append(m1.last_bars(settings.atr_lookback_1m).times[0])
    if len(h1) == 0 or is_stale(h1, now_ms, settings.stale_after_ms):
        cols.null_all(_H1_COLUMNS, TOO_FEW_CANDLES if len(h1) == 0 else STALE)
    else:
        w7 = full_window(h1, 168)
        if isinstance(w7, Null):
            cols.null_all(("rv_7d", "parkinson_7d", "garman_klass_7d"), w7)
        else:
            starts.append(w7.times[0])
            cols.put("rv_7d", realized_vol(w7.opens, w7.closes, HOURS_PER_YEAR))
            cols.put("parkinson_7d", parkinson(w7.highs, w7.lows, HOURS_PER_YEAR))
            cols.put(
                "garman_klass_7d",
                garman_klass(w7.opens, w7.highs, w7.lows, w7.closes, HOURS_PER_YEAR),
            )
        cols.put("atr_pct_1h", _atr_pct(h1, settings.atr_lookback_1h))
        closed = closed_hours(h1, now_ms)
        r = regime(
            closed.times,
            closed.highs,
            closed.lows,
            window=settings.regime_window_hours,
            min_history=settings.regime_min_history,
            thresholds=settings.thresholds,
            hour_ms=h1.interval_ms,
        )
        cols.put("regime_percentile", r.percentile)
        cols.label("regime", r.label)
        if closed.times:
            starts.append(closed.times[0])
        end = h1.data_end_ms
        assert end is not None
        ends.append(end)
    if not ends:
        return cols, None, None
    return cols, min(starts), max(ends)


def _atr_pct(series: Series, lookback: int) -> Num:
    window = series.last_bars(lookback)
    tail = window.contiguous_tail()
    atr = atr_wilder(tail.highs, tail.lows, tail.closes, 14)
    if atr == TOO_FEW_CANDLES:
        atr = shortfall(window, tail)
    return atr_pct(atr, tail.closes[-1])
