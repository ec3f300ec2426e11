"""Technical indicators as pure functions over lists of floats (oldest first).

Each returns ``Num``: a float, or ``TOO_FEW_CANDLES`` when the input is shorter than the
indicator needs, ``FLAT_PRICES`` when it is undefined on a constant series, ``ZERO_VOLUME`` /
``ZERO_PRICE`` for a zero denominator. Conventions (tests check them by hand):

- EMA(n) is seeded with the SMA of the first n values, then ``alpha = 2 / (n + 1)``.
- RSI and ATR use Wilder's smoothing: the first average is a simple mean of n changes (true
  ranges), then ``avg = (avg * (n - 1) + x) / n``. RSI needs n + 1 closes, ATR n + 1 bars
  (the true range needs the previous close).
- MACD(12, 26, 9): EMA12 - EMA26 of closes, signal = EMA9 of that line, histogram = the
  difference; needs 26 + 9 - 1 closes.
- Bollinger(20, 2) uses the population standard deviation of the last 20 closes;
  %B = (close - lower) / (upper - lower); bandwidth = (upper - lower) / middle.
- VWAP weights the typical price (high + low + close) / 3 by volume.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from marketmem.features.values import (
    FLAT_PRICES,
    TOO_FEW_CANDLES,
    ZERO_PRICE,
    ZERO_VOLUME,
    Null,
    Num,
    finite,
)


def sma(values: list[float], n: int) -> Num:
    if n <= 0 or len(values) < n:
        return TOO_FEW_CANDLES
    return finite(math.fsum(values[-n:]) / n)


def ema_series(values: list[float], n: int) -> list[float]:
    """EMA(n) at every index from n - 1 on (empty when there are fewer than n values)."""
    if n <= 0 or len(values) < n:
        return []
    alpha = 2.0 / (n + 1)
    keep = 1.0 - alpha
    e = math.fsum(values[:n]) / n
    out = [e]
    append = out.append
    for x in values[n:]:
        e = alpha * x + keep * e
        append(e)
    return out


def ema(values: list[float], n: int) -> Num:
    s = ema_series(values, n)
    return finite(s[-1]) if s else TOO_FEW_CANDLES


def rsi_wilder(closes: list[float], n: int = 14) -> Num:
    if n <= 0 or len(closes) < n + 1:
        return TOO_FEW_CANDLES
    gain = loss = 0.0
    for prev, cur in itertools.pairwise(closes[: n + 1]):
        d = cur - prev
        if d > 0:
            gain += d
        else:
            loss -= d
    avg_gain = gain / n
    avg_loss = loss / n
    keep = n - 1
    for prev, cur in itertools.pairwise(closes[n:]):
        d = cur - prev
        if d > 0:
            avg_gain = (avg_gain * keep + d) / n
            avg_loss = avg_loss * keep / n
        else:
            avg_gain = avg_gain * keep / n
            avg_loss = (avg_loss * keep - d) / n
    if avg_loss == 0.0:
        return FLAT_PRICES if avg_gain == 0.0 else 100.0
    return finite(100.0 - 100.0 / (1.0 + avg_gain / avg_loss))


@dataclass(frozen=True, slots=True)
class Macd:
    line: Num
    signal: Num
    histogram: Num


def macd(closes: list[float], fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    if len(closes) < slow:
        return Macd(TOO_FEW_CANDLES, TOO_FEW_CANDLES, TOO_FEW_CANDLES)
    fast_s = ema_series(closes, fast)
    slow_s = ema_series(closes, slow)
    # Align: slow_s[0] is at index slow - 1, fast_s[0] at index fast - 1.
    offset = slow - fast
    line = [f - s for f, s in zip(fast_s[offset:], slow_s, strict=True)]
    sig = ema_series(line, signal)
    last = finite(line[-1])
    if not sig:
        return Macd(last, TOO_FEW_CANDLES, TOO_FEW_CANDLES)
    s = finite(sig[-1])
    hist: Num = TOO_FEW_CANDLES
    if not isinstance(last, Null) and not isinstance(s, Null):
        hist = finite(last - s)
    return Macd(last, s, hist)


@dataclass(frozen=True, slots=True)
class Bollinger:
    upper: Num
    middle: Num
    lower: Num
    pct_b: Num
    bandwidth: Num


def bollinger(closes: list[float], n: int = 20, k: float = 2.0) -> Bollinger:
    if n <= 0 or len(closes) < n:
        t = TOO_FEW_CANDLES
        return Bollinger(t, t, t, t, t)
    window = closes[-n:]
    mid = math.fsum(window) / n
    var = math.fsum((x - mid) ** 2 for x in window) / n
    sd = math.sqrt(var)
    upper = mid + k * sd
    lower = mid - k * sd
    width = upper - lower
    pct_b: Num = FLAT_PRICES if width == 0 else finite((closes[-1] - lower) / width)
    bandwidth: Num = ZERO_PRICE if mid == 0 else finite(width / mid)
    return Bollinger(finite(upper), finite(mid), finite(lower), pct_b, bandwidth)


def true_ranges(highs: list[float], lows: list[float], closes: list[float]) -> list[float]:
    """True range of every bar but the first (which has no previous close)."""
    out = []
    for h, lo, pc in zip(highs[1:], lows[1:], closes, strict=False):
        out.append(max(h - lo, abs(h - pc), abs(lo - pc)))
    return out


def atr_wilder(highs: list[float], lows: list[float], closes: list[float], n: int = 14) -> Num:
    if n <= 0 or len(closes) < n + 1:
        return TOO_FEW_CANDLES
    tr = true_ranges(highs, lows, closes)
    atr = math.fsum(tr[:n]) / n
    keep = n - 1
    for x in tr[n:]:
        atr = (atr * keep + x) / n
    return finite(atr)


def vwap(highs: list[float], lows: list[float], closes: list[float], volumes: list[float]) -> Num:
    if not closes:
        return TOO_FEW_CANDLES
    vol = math.fsum(volumes)
    if vol <= 0:
        return ZERO_VOLUME
    pv = math.fsum(
        (h + lo + c) * v for h, lo, c, v in zip(highs, lows, closes, volumes, strict=True)
    )
    return finite(pv / 3.0 / vol)


def roc(closes: list[float], n: int) -> Num:
    """Rate of change in percent over ``n`` bars: (close / close n bars ago - 1) * 100."""
    if n <= 0 or len(closes) < n + 1:
        return TOO_FEW_CANDLES
    then = closes[-n - 1]
    if then == 0:
        return ZERO_PRICE
    return finite((closes[-1] / then - 1.0) * 100.0)


@dataclass(frozen=True, slots=True)
class PriceRange:
    high: Num
    low: Num
    range_pct: Num  # (high - low) / low * 100
    position: Num  # where the last close sits: 0 at the low, 1 at the high


def price_range(highs: list[float], lows: list[float], closes: list[float]) -> PriceRange:
    if not closes:
        t = TOO_FEW_CANDLES
        return PriceRange(t, t, t, t)
    hi = max(highs)
    lo = min(lows)
    span = hi - lo
    range_pct: Num = ZERO_PRICE if lo <= 0 else finite(span / lo * 100.0)
    position: Num = FLAT_PRICES if span == 0 else finite((closes[-1] - lo) / span)
    return PriceRange(hi, lo, range_pct, position)
