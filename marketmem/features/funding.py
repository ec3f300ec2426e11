"""Funding pressure of one coin: the current rate in context, as a pure function.

Hyperliquid funding is hourly; ``funding_annualized`` is the hourly rate x 24 x 365. The
z-score compares the current rate with the hourly rates settled in the last 7 days (sample
standard deviation). ``funding_x_oi_usd_hourly`` is what longs pay shorts per hour at the
current rate (negative: shorts pay). The direction label has a neutral band of
``neutral_abs_rate`` around zero (by default Hyperliquid's interest-only floor, 0.00125 %/h).

``fundingHistory`` rows are not always hourly (Hyperliquid settled every 8 hours up to
2023-06-08T00:00Z). ``hourly_rates`` divides each settled rate by its interval in hours:

- one row per settlement: times round to the hour; of rows for one hour the last given wins;
- a row's spacing is the hours since the previous settlement (the first row takes the next
  row's interval; a lone row takes the schedule below);
- the interval in force around a row is the spacing held by a strict majority of its
  neighbours (up to 3 spacings before and 3 after), else the venue's schedule (8 h for
  settlements up to 2023-06-08T00:00Z, 1 h after), and never shorter than that schedule;
- a spacing of 2 or more times the interval in force means missed settlements (a 2-hour gap
  in an hourly series): the row's interval is the one in force; any other spacing is the
  row's interval (8 h rows among 8 h rows, the first hourly rows after the 2023 change).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from marketmem.clock import HOUR_MS
from marketmem.events import AssetCtxSnapshot
from marketmem.features.config import FeaturesConfig
from marketmem.features.inputs import PredictedFunding
from marketmem.features.values import (
    CONSTANT_SERIES,
    MISSING_INPUT,
    NO_HISTORY,
    TOO_FEW_POINTS,
    ZERO_PRICE,
    Columns,
    Null,
    Num,
    finite,
)

HOURS_PER_YEAR = 24 * 365
HISTORY_MS = 7 * 24 * HOUR_MS
# The settlement at this hour closed Hyperliquid's last 8-hour funding interval.
HOURLY_AFTER_MS = 1_686_182_400_000  # 2023-06-08T00:00Z
# Spacings on each side of a row that vote on the interval in force.
NEIGHBOURS = 3

COLUMNS = (
    "funding_rate",
    "funding_annualized",
    "premium",
    "mark_px",
    "oracle_px",
    "basis_bps",
    "predicted_funding_rate",
    "next_funding_time_ms",
    "binance_funding_hourly",
    "bybit_funding_hourly",
    "funding_mean_7d",
    "funding_std_7d",
    "funding_zscore_7d",
    "funding_history_points",
    "open_interest",
    "oi_notional_usd",
    "funding_x_oi_usd_hourly",
    "direction",
)


@dataclass(frozen=True, slots=True)
class FundingSettings:
    neutral_abs_rate: float
    zscore_min_points: int

    @classmethod
    def of(cls, cfg: FeaturesConfig) -> FundingSettings:
        return cls(
            neutral_abs_rate=cfg.funding_neutral_rate,
            zscore_min_points=cfg.funding_zscore_min_points,
        )


DEFAULT_FUNDING = FundingSettings.of(FeaturesConfig())


@dataclass(frozen=True, slots=True)
class ZScore:
    mean: Num
    std: Num
    z: Num
    points: int


def scheduled_interval_hours(settled_hour_ms: int) -> int:
    """The venue's funding interval for a settlement at this hour."""
    return 8 if settled_hour_ms <= HOURLY_AFTER_MS else 1


def _majority(spacings: list[int]) -> int | None:
    if not spacings:
        return None
    value, n = Counter(spacings).most_common(1)[0]
    return value if 2 * n > len(spacings) else None


def interval_hours(hours: list[int]) -> list[int]:
    """The funding interval (whole hours) of each settlement; ``hours`` are the settlement
    hours (ms), ascending and unique."""
    if not hours:
        return []
    spacings = [(b - a) // HOUR_MS for a, b in pairwise(hours)]
    out = [scheduled_interval_hours(hours[0])]
    for i, spacing in enumerate(spacings):  # the row after ``spacing`` is hours[i + 1]
        schedule = scheduled_interval_hours(hours[i + 1])
        if spacing < 2 * schedule:
            # No interval in force can be at most half this spacing: not a missed settlement
            # whatever the neighbours vote (the common case, so the vote is skipped).
            out.append(spacing)
            continue
        neighbours = spacings[max(0, i - NEIGHBOURS) : i] + spacings[i + 1 : i + 1 + NEIGHBOURS]
        voted = _majority(neighbours)
        in_force = schedule if voted is None else max(voted, schedule)
        missed = spacing >= 2 * in_force and spacing % in_force == 0
        out.append(in_force if missed else spacing)
    if len(out) > 1:
        out[0] = out[1]
    return out


def hourly_rates(history: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """(time_ms, rate) settlements, any order, as (time_ms, hourly rate), one per settlement in
    ascending time (the rules are in the module docstring)."""
    by_hour: dict[int, tuple[int, float]] = {}
    for t, rate in history:
        by_hour[(t + HOUR_MS // 2) // HOUR_MS * HOUR_MS] = (t, rate)
    hours = sorted(by_hour)
    if hours and hours[0] > HOURLY_AFTER_MS and hours[-1] - hours[0] == (len(hours) - 1) * HOUR_MS:
        # Every hour settled, all under the hourly schedule: every interval is one hour.
        return [by_hour[h] for h in hours]
    return [
        (by_hour[h][0], by_hour[h][1] / n)
        for h, n in zip(hours, interval_hours(hours), strict=True)
    ]


def zscore(current: float | None, history: list[float], min_points: int) -> ZScore:
    """Mean, sample standard deviation and z-score of ``current`` against ``history``."""
    n = len(history)
    if n == 0:
        return ZScore(NO_HISTORY, NO_HISTORY, NO_HISTORY, 0)
    mean = math.fsum(history) / n
    if n < max(2, min_points):
        return ZScore(finite(mean), TOO_FEW_POINTS, TOO_FEW_POINTS, n)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in history) / (n - 1))
    if current is None:
        return ZScore(finite(mean), finite(std), MISSING_INPUT, n)
    if std == 0:
        return ZScore(finite(mean), 0.0, CONSTANT_SERIES, n)
    return ZScore(finite(mean), finite(std), finite((current - mean) / std), n)


def direction(rate: float | None, neutral_abs_rate: float) -> str | Null:
    if rate is None:
        return MISSING_INPUT
    if rate > neutral_abs_rate:
        return "longs_paying"
    if rate < -neutral_abs_rate:
        return "shorts_paying"
    return "neutral"


def funding_pressure(
    ctx: AssetCtxSnapshot,
    predicted: PredictedFunding | Null,
    history: list[tuple[int, float]] | Null,
    settings: FundingSettings = DEFAULT_FUNDING,
) -> tuple[Columns, int | None]:
    """The columns of one row, and the start of the funding history window used.

    ``history`` holds (time_ms, rate) as settled, ending at ``ctx.snapshot_ms``, normalised
    to hourly here (``hourly_rates``) and used for 7 days back (a ``Null`` when it could not
    be fetched); ``predicted`` likewise.
    """
    cols = Columns()
    rate = ctx.funding
    cols.put("funding_rate", rate)
    cols.put("funding_annualized", None if rate is None else rate * HOURS_PER_YEAR)
    cols.put("premium", ctx.premium)
    cols.put("mark_px", ctx.mark_px)
    cols.put("oracle_px", ctx.oracle_px)
    basis: Num = MISSING_INPUT
    if ctx.mark_px is not None and ctx.oracle_px is not None:
        basis = (
            ZERO_PRICE
            if ctx.oracle_px == 0
            else (ctx.mark_px - ctx.oracle_px) / ctx.oracle_px * 10_000.0
        )
    cols.put("basis_bps", basis)

    if isinstance(predicted, Null):
        for name in ("predicted_funding_rate", "binance_funding_hourly", "bybit_funding_hourly"):
            cols.put(name, predicted)
        cols.put("next_funding_time_ms", predicted)
    else:
        cols.put("predicted_funding_rate", predicted.hl_rate)
        cols.put("next_funding_time_ms", predicted.hl_next_time_ms)
        cols.put("binance_funding_hourly", predicted.binance_hourly)
        cols.put("bybit_funding_hourly", predicted.bybit_hourly)

    start: int | None = None
    if isinstance(history, Null):
        for name in ("funding_mean_7d", "funding_std_7d", "funding_zscore_7d"):
            cols.put(name, history)
        cols.put("funding_history_points", history)
    else:
        since = ctx.snapshot_ms - HISTORY_MS
        used = [(t, r) for t, r in hourly_rates(history) if since <= t <= ctx.snapshot_ms]
        rates = [r for _, r in used]
        start = min((t for t, _ in used), default=None)
        z = zscore(rate, rates, settings.zscore_min_points)
        cols.put("funding_mean_7d", z.mean)
        cols.put("funding_std_7d", z.std)
        cols.put("funding_zscore_7d", z.z)
        cols.put("funding_history_points", z.points)

    cols.put("open_interest", ctx.open_interest)
    notional: Num = MISSING_INPUT
    if ctx.open_interest is not None and ctx.mark_px is not None:
        notional = ctx.open_interest * ctx.mark_px
    cols.put("oi_notional_usd", notional)
    paid: Num = notional if isinstance(notional, Null) else MISSING_INPUT
    if rate is not None and not isinstance(notional, Null):
        paid = rate * notional
    cols.put("funding_x_oi_usd_hourly", paid)
    cols.label("direction", direction(rate, settings.neutral_abs_rate))
    return cols, start
