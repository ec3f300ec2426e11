"""Funding history normalised to hourly rates: 8-hourly, mixed, duplicates, missed settlements."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from marketmem.events import AssetCtxSnapshot
from marketmem.features.funding import (
    DEFAULT_FUNDING,
    HOURLY_AFTER_MS,
    funding_pressure,
    hourly_rates,
    interval_hours,
)
from marketmem.features.values import UNAVAILABLE

HOUR = 3_600_000
SWITCH = HOURLY_AFTER_MS  # 2023-06-08T00:00Z
MODERN = 1_789_801_200_000  # 2026-09-19T07:00Z, an hour of the recorded fundingHistory


def settled(
    hours: list[int], *, base: int = MODERN, rate: float = 0.0008
) -> list[tuple[int, float]]:
    """Settlements at ``base`` + each hour, landing 50 ms after the hour, all at ``rate``."""
    return [(base + h * HOUR + 50, rate) for h in hours]


def rates(history: list[tuple[int, float]]) -> list[float]:
    return [r for _, r in hourly_rates(history)]


def test_hourly_points_stay_unchanged() -> None:
    history = [(MODERN + h * HOUR + 50, 1e-5 * (1 + h % 3)) for h in range(48)]
    assert hourly_rates(history) == history


def test_an_8_hourly_history_is_divided_by_8() -> None:
    for base in (SWITCH - 21 * 8 * HOUR, MODERN):  # before the 2023 change, and another venue
        history = settled(list(range(0, 21 * 8, 8)), base=base)
        assert rates(history) == [0.0001] * 21
        assert [t for t, _ in hourly_rates(history)] == [t for t, _ in history]


def test_mixed_8_hourly_then_hourly_across_the_2023_change() -> None:
    # 8-hourly up to the settlement at 2023-06-08T00:00Z, hourly from 01:00 on.
    before = settled(list(range(-8 * 10, 1, 8)), base=SWITCH, rate=0.0008)
    after = settled(list(range(1, 49)), base=SWITCH, rate=0.00002)
    out = hourly_rates(before + after)
    assert [r for _, r in out] == [0.0001] * 11 + [0.00002] * 48
    # Only two 8-hour rows before the change: the schedule says they were 8-hourly.
    short = settled([-8, 0], base=SWITCH) + after
    assert rates(short)[:3] == [0.0001, 0.0001, 0.00002]


def test_a_missed_hourly_settlement_does_not_halve_the_rate() -> None:
    hours = [h for h in range(48) if h not in (10, 20, 21, 30, 31, 32)]  # 2, 3 and 4 h gaps
    assert rates(settled(hours, rate=0.00003)) == [0.00003] * len(hours)
    # At either end of the history too (the first row takes the next row's interval).
    assert rates(settled([0, 2, 3, 4, 5, 7], rate=0.00003)) == [0.00003] * 6
    # A missed settlement in an 8-hourly series: still 8-hourly.
    eight = settled([0, 8, 16, 32, 40, 48], rate=0.0008)
    assert rates(eight) == [0.0001] * 6


def test_irregular_spacing_that_is_not_missed_settlements() -> None:
    # Another convention (4-hourly): the spacing its neighbours agree on is its interval.
    four = settled([0, 4, 8, 12, 16, 20], rate=0.0004)
    assert rates(four) == [0.0001] * 6
    # Not a whole multiple of the interval in force (12 h among 8 h): its own spacing.
    assert interval_hours([h * HOUR for h in (0, 8, 16, 28, 36, 44)]) == [8, 8, 8, 12, 8, 8]


def test_duplicates_one_settlement_each_last_given_wins() -> None:
    history = settled([0, 1, 2, 3])
    repeated = [
        history[2],
        history[0],
        (history[1][0] + 40, 0.5),  # the same settlement, reported again 40 ms later
        history[1],
        history[3],
        history[3],
    ]
    out = hourly_rates(repeated)
    assert out == history
    # Rows of one settlement hour never count as a zero or sub-hour interval.
    assert interval_hours([0, HOUR]) == [1, 1]


def test_single_row_and_empty() -> None:
    assert hourly_rates([]) == []
    assert hourly_rates([(MODERN + 50, 0.00002)]) == [(MODERN + 50, 0.00002)]
    # Before the change a lone row follows the venue's 8-hour schedule.
    assert hourly_rates([(SWITCH - 8 * HOUR + 50, 0.0008)]) == [(SWITCH - 8 * HOUR + 50, 0.0001)]


def test_nan_rates_stay_nan_and_the_statistics_say_non_finite() -> None:
    history = settled(list(range(0, 30 * 8, 8)), rate=0.0008)
    history[25] = (history[25][0], math.nan)
    assert math.isnan(rates(history)[25])
    now = history[-1][0] + HOUR
    cols, _ = funding_pressure(
        ctx(now), UNAVAILABLE, history, replace(DEFAULT_FUNDING, zscore_min_points=5)
    )
    assert cols.reasons["funding_mean_7d"] == "non_finite"


def ctx(t: int, funding: float = 0.0001) -> AssetCtxSnapshot:
    return AssetCtxSnapshot(
        coin="X",
        snapshot_ms=t,
        mark_px=100.0,
        oracle_px=100.0,
        mid_px=100.0,
        funding=funding,
        premium=0.0,
        open_interest=1.0,
        prev_day_px=100.0,
        day_ntl_vlm=1.0,
        day_base_vlm=1.0,
        impact_bid_px=None,
        impact_ask_px=None,
    )


def test_funding_statistics_use_hourly_rates() -> None:
    # A week of 8-hourly settlements alternating 0.0008 / 0.0016 (0.0001 / 0.0002 per hour).
    history = [(MODERN + k * 8 * HOUR + 50, 0.0008 * (1 + k % 2)) for k in range(21)]
    now = history[-1][0] + HOUR
    settings = replace(DEFAULT_FUNDING, zscore_min_points=10)
    cols, start = funding_pressure(ctx(now, funding=0.0002), UNAVAILABLE, history, settings)
    v = cols.values
    hourly = [0.0001 * (1 + k % 2) for k in range(21)]
    mean = sum(hourly) / 21
    sd = math.sqrt(sum((x - mean) ** 2 for x in hourly) / 20)
    assert v["funding_history_points"] == 21 and start == history[0][0]
    assert v["funding_mean_7d"] == pytest.approx(mean)
    assert v["funding_std_7d"] == pytest.approx(sd)
    assert v["funding_zscore_7d"] == pytest.approx((0.0002 - mean) / sd)
    # The same week settled hourly gives the same statistics for the same hourly rates.
    hourly_history = [(MODERN + h * HOUR + 50, 0.0001 * (1 + (h // 8) % 2)) for h in range(168)]
    cols, _ = funding_pressure(
        ctx(hourly_history[-1][0] + HOUR, 0.0002), UNAVAILABLE, hourly_history, settings
    )
    assert cols.values["funding_mean_7d"] == pytest.approx(mean)
