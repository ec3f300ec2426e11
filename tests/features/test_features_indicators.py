"""Technical indicators against hand-worked values, textbook examples and independent
reference implementations written here, plus the edge cases (empty, constant, short)."""

from __future__ import annotations

import math

import pytest

from marketmem.features import indicators as ind
from marketmem.features.values import FLAT_PRICES, TOO_FEW_CANDLES, ZERO_PRICE, ZERO_VOLUME

# The RSI worked example of StockCharts' "ChartSchool" (14-period Wilder RSI on 33 closes).
# The published sheet rounds the gains/losses to 2 decimals, so the published RSIs sit within
# 0.1 of the exact values.
RSI_CLOSES = [
    44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61,
    46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45, 45.78, 45.35,
    44.03, 44.18, 44.22, 44.57, 43.42, 42.66, 43.13,
]  # fmt: skip
RSI_PUBLISHED = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
    41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def reference_rsi(closes: list[float], n: int) -> list[float]:
    """Wilder's RSI written out step by step: separate gain/loss lists, then smoothing."""
    changes = [closes[i] - closes[i - 1] for i in range(1, len(closes))]
    gains = [c if c > 0 else 0.0 for c in changes]
    losses = [-c if c < 0 else 0.0 for c in changes]
    avg_g = sum(gains[:n]) / n
    avg_l = sum(losses[:n]) / n
    out = [100 - 100 / (1 + avg_g / avg_l)]
    for g, lo in zip(gains[n:], losses[n:], strict=True):
        avg_g = (avg_g * (n - 1) + g) / n
        avg_l = (avg_l * (n - 1) + lo) / n
        out.append(100 - 100 / (1 + avg_g / avg_l))
    return out


def reference_ema(values: list[float], n: int) -> list[float | None]:
    """EMA aligned with ``values`` (None before it is defined), seeded with the SMA."""
    k = 2 / (n + 1)
    out: list[float | None] = [None] * (n - 1)
    prev = sum(values[:n]) / n
    out.append(prev)
    for v in values[n:]:
        prev = v * k + prev * (1 - k)
        out.append(prev)
    return out


def test_sma_hand_worked() -> None:
    assert ind.sma([1, 2, 3, 4, 5], 3) == 4.0
    assert ind.sma([1, 2, 3, 4, 5], 5) == 3.0
    assert ind.sma([1, 2], 3) == TOO_FEW_CANDLES
    assert ind.sma([], 1) == TOO_FEW_CANDLES


def test_ema_hand_worked() -> None:
    # Seed SMA(1, 2, 3) = 2; alpha = 0.5: 4 -> 3, 5 -> 4, 6 -> 5.
    assert ind.ema_series([1, 2, 3, 4, 5, 6], 3) == [2.0, 3.0, 4.0, 5.0]
    assert ind.ema([1, 2, 3, 4, 5, 6], 3) == 5.0
    assert ind.ema([7.0, 7.0, 7.0], 3) == 7.0
    assert ind.ema([1, 2], 3) == TOO_FEW_CANDLES


def test_rsi_matches_the_textbook_example() -> None:
    got = [ind.rsi_wilder(RSI_CLOSES[:k], 14) for k in range(15, len(RSI_CLOSES) + 1)]
    ref = reference_rsi(RSI_CLOSES, 14)
    assert got == pytest.approx(ref, abs=1e-9)
    assert got == pytest.approx(RSI_PUBLISHED, abs=0.1)


def test_rsi_edges() -> None:
    assert ind.rsi_wilder([1.0] * 14, 14) == TOO_FEW_CANDLES
    assert ind.rsi_wilder([5.0] * 30, 14) == FLAT_PRICES
    assert ind.rsi_wilder([float(i) for i in range(20)], 14) == 100.0
    assert ind.rsi_wilder([float(20 - i) for i in range(20)], 14) == 0.0
    # Two periods by hand: +1 then -1 -> avg gain 0.5, avg loss 0.5 -> 50.
    assert ind.rsi_wilder([1.0, 2.0, 1.0], 2) == 50.0


def test_macd_on_a_ramp_is_the_ema_lag_difference() -> None:
    # On a straight line an SMA-seeded EMA(n) lags by exactly (n - 1) / 2 steps, so
    # MACD = (26 - 12) / 2 * slope = 7 * slope, its signal is 7 * slope, the histogram 0.
    closes = [100.0 + 2.0 * i for i in range(60)]
    m = ind.macd(closes)
    assert m.line == pytest.approx(14.0)
    assert m.signal == pytest.approx(14.0)
    assert m.histogram == pytest.approx(0.0, abs=1e-9)


def test_macd_against_reference_emas() -> None:
    closes = [100 + 10 * math.sin(i / 5) + i * 0.3 for i in range(80)]
    fast = reference_ema(closes, 12)
    slow = reference_ema(closes, 26)
    line = [f - s for f, s in zip(fast[25:], slow[25:], strict=True)]  # type: ignore[operator]
    signal = reference_ema(line, 9)
    m = ind.macd(closes)
    assert m.line == pytest.approx(line[-1])
    assert m.signal == pytest.approx(signal[-1])
    assert m.histogram == pytest.approx(line[-1] - signal[-1])  # type: ignore[operator]


def test_macd_needs_slow_plus_signal_minus_one() -> None:
    closes = [float(i) for i in range(33)]
    m = ind.macd(closes)
    assert m.line == pytest.approx(7.0)
    assert m.signal == TOO_FEW_CANDLES
    assert ind.macd([*closes, 33.0]).signal == pytest.approx(7.0)
    assert ind.macd([1.0] * 25).line == TOO_FEW_CANDLES
    flat = ind.macd([3.0] * 40)
    assert (flat.line, flat.signal, flat.histogram) == (0.0, 0.0, 0.0)


def test_bollinger_hand_worked() -> None:
    closes = [float(i) for i in range(1, 21)]
    bb = ind.bollinger(closes, 20, 2.0)
    sd = math.sqrt((20**2 - 1) / 12)  # population sd of 1..20
    assert bb.middle == pytest.approx(10.5)
    assert bb.upper == pytest.approx(10.5 + 2 * sd)
    assert bb.lower == pytest.approx(10.5 - 2 * sd)
    assert bb.pct_b == pytest.approx((20 - (10.5 - 2 * sd)) / (4 * sd))
    assert bb.bandwidth == pytest.approx(4 * sd / 10.5)


def test_bollinger_edges() -> None:
    flat = ind.bollinger([5.0] * 20)
    assert flat.middle == 5.0 and flat.upper == 5.0 and flat.lower == 5.0
    assert flat.pct_b == FLAT_PRICES
    assert flat.bandwidth == 0.0
    assert ind.bollinger([0.0] * 20).bandwidth == ZERO_PRICE
    assert ind.bollinger([1.0] * 19).upper == TOO_FEW_CANDLES


def test_atr_hand_worked() -> None:
    highs = [10.0, 12.0, 11.0, 15.0]
    lows = [8.0, 9.0, 7.0, 12.0]
    closes = [9.0, 11.0, 8.0, 14.0]
    # TR1 = max(3, |12-9|, |9-9|) = 3; TR2 = max(4, 0, 4) = 4; TR3 = max(3, 7, 4) = 7.
    assert ind.true_ranges(highs, lows, closes) == [3.0, 4.0, 7.0]
    # n = 2: first ATR = (3 + 4) / 2 = 3.5; then (3.5 * 1 + 7) / 2 = 5.25.
    assert ind.atr_wilder(highs, lows, closes, 2) == 5.25
    assert ind.atr_wilder(highs, lows, closes, 3) == pytest.approx(14 / 3)
    assert ind.atr_wilder(highs, lows, closes, 4) == TOO_FEW_CANDLES
    assert ind.atr_wilder([5.0] * 20, [5.0] * 20, [5.0] * 20, 14) == 0.0


def test_vwap_hand_worked() -> None:
    # Typical prices 10 and 20, volumes 1 and 3 -> (10 + 60) / 4.
    assert ind.vwap([11.0, 21.0], [9.0, 19.0], [10.0, 20.0], [1.0, 3.0]) == 17.5
    assert ind.vwap([11.0], [9.0], [10.0], [0.0]) == ZERO_VOLUME
    assert ind.vwap([], [], [], []) == TOO_FEW_CANDLES


def test_roc_and_range() -> None:
    closes = [100.0] + [0.0] * 11 + [110.0]
    assert ind.roc(closes, 12) == pytest.approx(10.0)
    assert ind.roc([0.0] * 13, 12) == ZERO_PRICE
    assert ind.roc([1.0] * 12, 12) == TOO_FEW_CANDLES
    r = ind.price_range([12.0, 15.0], [10.0, 11.0], [11.0, 12.5])
    assert (r.high, r.low) == (15.0, 10.0)
    assert r.range_pct == pytest.approx(50.0)
    assert r.position == pytest.approx(0.5)
    flat = ind.price_range([3.0], [3.0], [3.0])
    assert flat.range_pct == 0.0 and flat.position == FLAT_PRICES
    assert ind.price_range([], [], []).high == TOO_FEW_CANDLES


def test_single_candle_defines_only_what_one_bar_can() -> None:
    one = [42.0]
    assert ind.sma(one, 1) == 42.0
    assert ind.sma(one, 20) == TOO_FEW_CANDLES
    assert ind.rsi_wilder(one) == TOO_FEW_CANDLES
    assert ind.atr_wilder(one, one, one) == TOO_FEW_CANDLES
    assert ind.roc(one, 12) == TOO_FEW_CANDLES
    assert ind.vwap([43.0], [41.0], [42.0], [2.0]) == 42.0
