"""Volatility estimators and the volatility profile: hand-worked values and edge cases."""

from __future__ import annotations

import math

import pytest

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.features.series import Series, hourly
from marketmem.features.values import FLAT_PRICES, GAP, STALE, TOO_FEW_CANDLES, ZERO_PRICE
from marketmem.features.volatility import (
    COLUMNS,
    DEFAULT_VOLATILITY,
    HOURS_PER_YEAR,
    MINUTES_PER_YEAR,
    RegimeThresholds,
    atr_pct,
    garman_klass,
    parkinson,
    realized_vol,
    regime,
    regime_label,
    volatility_profile,
)

TH = DEFAULT_VOLATILITY.thresholds


def test_realized_vol_hand_worked() -> None:
    # Returns: ln(101/100), ln(99/101), ln(100/99): RMS times sqrt(bars per year).
    opens = [100.0, 101.0, 99.0]
    closes = [101.0, 99.0, 100.0]
    rs = [math.log(101 / 100), math.log(99 / 101), math.log(100 / 99)]
    expected = math.sqrt(sum(r * r for r in rs) / 3 * MINUTES_PER_YEAR)
    assert realized_vol(opens, closes, MINUTES_PER_YEAR) == pytest.approx(expected)


def test_realized_vol_edges() -> None:
    assert realized_vol([5.0] * 10, [5.0] * 10, MINUTES_PER_YEAR) == 0.0
    assert realized_vol([], [], MINUTES_PER_YEAR) == TOO_FEW_CANDLES
    assert realized_vol([1.0, 0.0], [1.0, 0.0], MINUTES_PER_YEAR) == ZERO_PRICE
    # A single bar: its own open-to-close return.
    assert realized_vol([100.0], [110.0], 1.0) == pytest.approx(math.log(1.1))


def test_parkinson_and_garman_klass_hand_worked() -> None:
    e = math.exp(0.01)
    highs, lows = [100.0 * e] * 4, [100.0] * 4
    # ln(H/L) = 0.01 on every bar: variance 0.0001 / (4 ln 2) per bar.
    assert parkinson(highs, lows, HOURS_PER_YEAR) == pytest.approx(
        math.sqrt(0.0001 / (4 * math.log(2)) * HOURS_PER_YEAR)
    )
    # Close = open: Garman-Klass is 0.5 * ln(H/L)^2 per bar.
    gk = garman_klass([100.0] * 4, highs, lows, [100.0] * 4, HOURS_PER_YEAR)
    assert gk == pytest.approx(math.sqrt(0.5 * 0.0001 * HOURS_PER_YEAR))
    # Close = high, open = low: 0.5 a^2 - (2 ln 2 - 1) a^2.
    gk2 = garman_klass(lows, highs, lows, highs, 1.0)
    assert gk2 == pytest.approx(math.sqrt(0.0001 * (0.5 - (2 * math.log(2) - 1))))


def test_estimators_on_flat_and_bad_bars() -> None:
    assert parkinson([3.0] * 5, [3.0] * 5, 1.0) == 0.0
    assert garman_klass([3.0] * 5, [3.0] * 5, [3.0] * 5, [3.0] * 5, 1.0) == 0.0
    assert parkinson([1.0], [0.0], 1.0) == ZERO_PRICE
    assert parkinson([], [], 1.0) == TOO_FEW_CANDLES
    # A close far outside its bar's range makes the GK variance negative: invalid input.
    assert garman_klass([1.0], [1.0001], [1.0], [2.0], 1.0).reason == "invalid_bar"  # type: ignore[union-attr]


def test_atr_pct() -> None:
    assert atr_pct(2.0, 50.0) == 4.0
    assert atr_pct(2.0, 0.0) == ZERO_PRICE
    assert atr_pct(GAP, 50.0) == GAP


def hours(n: int, ranges: list[float] | None = None) -> tuple[list[int], list[float], list[float]]:
    """n consecutive hours; hour i has ln(H/L) = ranges[i] (default 0.01)."""
    rs = ranges or [0.01] * n
    return (
        [i * HOUR_MS for i in range(n)],
        [100.0 * math.exp(r) for r in rs],
        [100.0] * n,
    )


def test_regime_percentile_and_labels() -> None:
    calm = [0.01] * 60
    t, h, lo = hours(64, calm + [0.05] * 4)
    r = regime(t, h, lo, window=4, min_history=48, thresholds=TH)
    assert r.percentile == 1.0 and r.label == "extreme"
    t, h, lo = hours(64, [0.05] * 60 + [0.01] * 4)
    r = regime(t, h, lo, window=4, min_history=48, thresholds=TH)
    assert r.percentile == 0.0 and r.label == "low"
    # Everything alike: the current window sits at the middle rank.
    t, h, lo = hours(64)
    r = regime(t, h, lo, window=4, min_history=48, thresholds=TH)
    assert r.percentile == 0.5 and r.label == "normal"


def test_regime_edges() -> None:
    t, h, lo = hours(20)
    assert regime(t, h, lo, window=4, min_history=48, thresholds=TH).label == TOO_FEW_CANDLES
    t, h, lo = hours(64)
    flat = regime(t, [100.0] * 64, [100.0] * 64, window=4, min_history=48, thresholds=TH)
    assert flat.label == FLAT_PRICES
    t[-2] -= HOUR_MS  # a missing hour inside the current window
    t[-2] = t[-3]
    del t[-3], h[-3], lo[-3]
    assert regime(t, h, lo, window=4, min_history=48, thresholds=TH).label == GAP


def test_regime_label_cutoffs() -> None:
    th = RegimeThresholds(low=0.2, high=0.8, extreme=0.95)
    assert [regime_label(p, th) for p in (0.0, 0.19, 0.2, 0.79, 0.8, 0.94, 0.95, 1.0)] == [
        "low", "low", "normal", "normal", "high", "high", "extreme", "extreme",
    ]  # fmt: skip


def minute_series(n: int, *, start: int = 0, skip: set[int] | None = None) -> Series:
    bars = []
    for i in range(n):
        if skip and i in skip:
            continue
        px = 100.0 + math.sin(i / 7.0)
        bars.append((start + i * MINUTE_MS, px, px * 1.001, px * 0.999, px * 1.0002, 1.0))
    return Series.from_bars(MINUTE_MS, bars)


def hour_series(n: int, *, start: int = 0) -> Series:
    bars = [
        (start + i * HOUR_MS, 100.0, 100.0 * math.exp(0.002 * (1 + i % 5)), 100.0, 100.1, 5.0)
        for i in range(n)
    ]
    return Series.from_bars(HOUR_MS, bars)


def test_profile_with_full_windows() -> None:
    h1 = hour_series(200)
    m1 = minute_series(1500, start=200 * HOUR_MS - 1500 * MINUTE_MS)
    now = m1.end_ms or 0
    cols, start, end = volatility_profile(m1, h1, now)
    v = cols.values
    for name in ("rv_1h", "rv_4h", "rv_24h", "rv_7d", "parkinson_24h", "garman_klass_24h"):
        assert isinstance(v[name], float) and v[name] > 0, name
    last = m1.slice(len(m1) - 60)
    assert v["rv_1h"] == pytest.approx(realized_vol(last.opens, last.closes, MINUTES_PER_YEAR))
    assert v["regime"] in ("low", "normal", "high", "extreme")
    assert cols.reasons == {}
    # The regime ranks against all hourly history, so the window starts at the first hour.
    assert start == h1.times[0] and end == max(m1.end_ms or 0, h1.end_ms or 0)


def test_profile_gaps_short_windows_and_staleness() -> None:
    m1 = minute_series(300, skip={200})  # a gap 100 minutes ago
    cols, _, _ = volatility_profile(m1, Series.empty(HOUR_MS), m1.end_ms or 0)
    assert cols.values["rv_1h"] is not None  # the last 60 bars are complete
    assert cols.reasons["rv_4h"] == "gap"
    assert cols.reasons["rv_24h"] == "gap"
    assert cols.reasons["parkinson_24h"] == "gap"
    assert cols.reasons["rv_7d"] == "too_few_candles"
    short = minute_series(100)
    cols, _, _ = volatility_profile(short, Series.empty(HOUR_MS), short.end_ms or 0)
    assert cols.values["rv_1h"] is not None
    assert cols.reasons["rv_4h"] == "too_few_candles"
    stale_now = (m1.end_ms or 0) + 3_600_000
    cols, _, _ = volatility_profile(m1, Series.empty(HOUR_MS), stale_now, DEFAULT_VOLATILITY)
    assert cols.reasons["rv_1h"] == STALE.reason
    assert cols.values["close"] is None


def test_profile_of_nothing() -> None:
    cols, start, end = volatility_profile(Series.empty(MINUTE_MS), Series.empty(HOUR_MS), 0)
    assert (start, end) == (None, None)
    assert set(cols.reasons.values()) == {"too_few_candles"}
    assert all(v is None for v in cols.values.values())


def minutes_by_hour(ranges: list[float], *, last_hour_minutes: int = 60) -> Series:
    """Minute bars, hour by hour: every minute of hour i has ln(H/L) = ranges[i]; the last
    hour has only its first ``last_hour_minutes`` minutes."""
    bars = []
    for hour, r in enumerate(ranges):
        n = last_hour_minutes if hour == len(ranges) - 1 else 60
        for m in range(n):
            t = hour * HOUR_MS + m * MINUTE_MS
            bars.append((t, 100.0, 100.0 * math.exp(r), 100.0, 100.0, 1.0))
    return Series.from_bars(MINUTE_MS, bars)


def test_regime_ignores_an_hour_cut_short_by_a_feed_stop() -> None:
    # 60 calm hours, then a wild hour whose minutes stop at :50 (the feed stopped).
    m1 = minutes_by_hour([0.001] * 60 + [0.05], last_hour_minutes=50)
    h1 = hourly(m1)
    now = 61 * HOUR_MS + 2 * MINUTE_MS  # past the hour's end, not yet stale (12 min)
    cols, _, _ = volatility_profile(m1, h1, now)
    # The cut hour is not closed: the current window is hours 56-59, as calm as the rest.
    assert cols.values["regime"] == "normal" and cols.values["regime_percentile"] == 0.5
    # Had the hour run to its end, it would be closed and the regime extreme.
    whole = minutes_by_hour([0.001] * 60 + [0.05])
    cols, _, _ = volatility_profile(whole, hourly(whole), 61 * HOUR_MS + 2 * MINUTE_MS)
    assert cols.values["regime"] == "extreme"


@pytest.mark.parametrize("stopped_min", [16, 20, 70])
def test_hour_values_go_stale_with_the_minute_feed(stopped_min: int) -> None:
    m1 = minutes_by_hour([0.001] * 60 + [0.002], last_hour_minutes=1)  # stopped at 60:01
    h1 = hourly(m1)
    now = (m1.end_ms or 0) + stopped_min * MINUTE_MS
    cols, start, end = volatility_profile(m1, h1, now)
    assert set(cols.reasons.values()) == {STALE.reason}
    assert set(cols.reasons) == set(COLUMNS)
    assert (start, end) == (None, None)
    fresh_now = (m1.end_ms or 0) + 15 * MINUTE_MS  # exactly at the threshold
    cols, _, end = volatility_profile(m1, h1, fresh_now)
    assert cols.values["atr_pct_1h"] is not None and cols.values["regime"] is not None
    assert end == m1.end_ms
