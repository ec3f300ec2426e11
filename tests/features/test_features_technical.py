"""The technical indicators row: windows, gaps, staleness and the per-timeframe prefixes."""

from __future__ import annotations

import math

import pytest

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.features import indicators as ind
from marketmem.features.series import Series, hourly
from marketmem.features.technical import COLUMNS, TechnicalSettings, technical_indicators


def series(n: int, step: int, *, skip: set[int] | None = None, start: int = 0) -> Series:
    bars = []
    for i in range(n):
        if skip and i in skip:
            continue
        c = 100 + 5 * math.sin(i / 9) + i * 0.01
        bars.append((start + i * step, c - 0.2, c + 0.5, c - 0.6, c, 1.0 + i % 3))
    return Series.from_bars(step, bars)


SETTINGS = TechnicalSettings(bars_1m=240, bars_1h=72, stale_after_ms=900_000)


def test_full_windows_define_every_column() -> None:
    h1 = series(100, HOUR_MS)
    m1 = series(300, MINUTE_MS, start=100 * HOUR_MS - 300 * MINUTE_MS)
    now = m1.end_ms or 0
    cols, start, end = technical_indicators(m1, h1, now, SETTINGS)
    assert cols.reasons == {}
    assert set(cols.values) == set(COLUMNS)
    w = m1.slice(len(m1) - 240)
    assert cols.values["m1_sma_20"] == pytest.approx(sum(w.closes[-20:]) / 20)
    assert cols.values["m1_ema_50"] == ind.ema(w.closes, 50)
    assert cols.values["m1_rsi_14"] == ind.rsi_wilder(w.closes, 14)
    assert cols.values["m1_vwap"] == ind.vwap(w.highs, w.lows, w.closes, w.volumes)
    assert cols.values["m1_high"] == max(w.highs)
    assert cols.values["h1_close"] == h1.closes[-1]
    assert start == h1.times[-72] and end == h1.end_ms


def test_a_gap_cuts_history_and_voids_the_window_wide_values() -> None:
    m1 = series(300, MINUTE_MS, skip={280})  # 19 bars since the gap
    cols, _, _ = technical_indicators(m1, Series.empty(HOUR_MS), m1.end_ms or 0, SETTINGS)
    v, r = cols.values, cols.reasons
    assert v["m1_close"] == m1.closes[-1]
    assert v["m1_rsi_14"] == ind.rsi_wilder(m1.closes[-19:], 14)  # from the gap-free tail
    assert r["m1_sma_20"] == "gap" and r["m1_macd"] == "gap" and r["m1_vwap"] == "gap"
    assert r["h1_close"] == "too_few_candles"


def test_short_history_is_too_few_candles() -> None:
    m1 = series(30, MINUTE_MS)
    cols, _, _ = technical_indicators(m1, Series.empty(HOUR_MS), m1.end_ms or 0, SETTINGS)
    assert cols.values["m1_sma_20"] is not None
    assert cols.reasons["m1_sma_50"] == "too_few_candles"
    assert cols.reasons["m1_vwap"] == "too_few_candles"


def test_stale_and_empty() -> None:
    m1 = series(300, MINUTE_MS)
    cols, start, end = technical_indicators(
        m1, Series.empty(HOUR_MS), (m1.end_ms or 0) + 901_000, SETTINGS
    )
    assert all(cols.reasons[c] == "stale" for c in COLUMNS if c.startswith("m1_"))
    assert (start, end) == (None, None)
    cols, _, _ = technical_indicators(Series.empty(MINUTE_MS), Series.empty(HOUR_MS), 0)
    assert all(v is None for v in cols.values.values())
    assert cols.reasons_json() is not None


def test_constant_prices_and_zero_volume() -> None:
    bars = [(i * MINUTE_MS, 5.0, 5.0, 5.0, 5.0, 0.0) for i in range(240)]
    m1 = Series.from_bars(MINUTE_MS, bars)
    cols, _, _ = technical_indicators(m1, Series.empty(HOUR_MS), m1.end_ms or 0, SETTINGS)
    v, r = cols.values, cols.reasons
    assert v["m1_sma_50"] == 5.0 and v["m1_atr_14"] == 0.0 and v["m1_macd"] == 0.0
    assert r["m1_rsi_14"] == "flat_prices"
    assert r["m1_bb_pct_b"] == "flat_prices"
    assert r["m1_vwap"] == "zero_volume"
    assert r["m1_range_position"] == "flat_prices"


@pytest.mark.parametrize("stopped_min", [16, 20, 70])
def test_hour_columns_go_stale_with_the_minute_feed(stopped_min: int) -> None:
    # The feed stopped right after the first minute of an hour: that hour bar nominally ends
    # 59 minutes later, but its data is as old as that one minute.
    m1 = series(1500, MINUTE_MS, start=25 * HOUR_MS - 1499 * MINUTE_MS)
    h1 = hourly(m1)
    assert h1.times[-1] == m1.times[-1] == 25 * HOUR_MS
    now = (m1.end_ms or 0) + stopped_min * MINUTE_MS
    cols, start, end = technical_indicators(m1, h1, now, SETTINGS)
    assert {cols.reasons.get(c) for c in COLUMNS} == {"stale"}
    assert (start, end) == (None, None)


def test_hour_columns_stay_while_the_newest_minute_is_fresh() -> None:
    m1 = series(1500, MINUTE_MS, start=25 * HOUR_MS - 1499 * MINUTE_MS)
    h1 = hourly(m1)
    now = (m1.end_ms or 0) + SETTINGS.stale_after_ms  # exactly at the threshold
    cols, _, end = technical_indicators(m1, h1, now, SETTINGS)
    assert cols.values["h1_close"] == m1.closes[-1] and cols.values["m1_close"] is not None
    # The hour window covers data up to its newest minute, not to the hour's end.
    assert end == m1.end_ms
