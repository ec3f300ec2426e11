"""Pure flow arithmetic: changes over 1 d / 7 d / 30 d from series, percents and observations.

Every function returns None for what cannot be known (a missing point, a null value, a zero
base for a percent); nothing is ever filled with zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DAY_S = 86_400
PERIODS: dict[str, int] = {"1d": DAY_S, "7d": 7 * DAY_S, "30d": 30 * DAY_S}
# A daily series may miss a day; a point up to this far before the target still counts.
SERIES_TOLERANCE_S = DAY_S


@dataclass(frozen=True)
class Change:
    """``current`` at ``to_s`` against ``previous`` at ``from_s`` (unix seconds)."""

    from_s: int | None
    to_s: int | None
    current: float | None
    previous: float | None
    change: float | None
    change_pct: float | None


@dataclass(frozen=True)
class NetFlow:
    """Sums over the days of a period: inflow arrives on the chain, outflow leaves it."""

    from_s: int | None
    to_s: int | None
    inflow: float | None
    outflow: float | None
    net: float | None


def change(current: float | None, previous: float | None) -> tuple[float | None, float | None]:
    """(absolute, percent) change; the percent is None when ``previous`` is 0."""
    if current is None or previous is None:
        return None, None
    absolute = current - previous
    pct = None if previous == 0 else absolute / abs(previous) * 100.0
    return absolute, pct


def make_change(
    current: float | None, previous: float | None, from_s: int | None, to_s: int | None
) -> Change:
    absolute, pct = change(current, previous)
    return Change(from_s, to_s, current, previous, absolute, pct)


def previous_from_percent(current: float | None, pct: float | None) -> float | None:
    """The value a ``pct`` % change led from to ``current``; None at -100 % or unknown."""
    if current is None or pct is None or pct == -100.0:
        return None
    return current / (1.0 + pct / 100.0)


def series_change(
    points: Sequence[tuple[int, float | None]],
    period_s: int,
    tolerance_s: int = SERIES_TOLERANCE_S,
) -> Change:
    """Change between the last point and the last point at or before ``last - period_s``.

    ``points`` are (unix seconds, value) in any order; duplicate dates keep the last one
    given. A previous point older than ``period_s + tolerance_s`` does not count.
    """
    by_date: dict[int, float | None] = {}
    for ts, value in points:
        by_date[ts] = value
    if not by_date:
        return Change(None, None, None, None, None, None)
    dates = sorted(by_date)
    last = dates[-1]
    target = last - period_s
    before = [d for d in dates if d <= target]
    if not before or last - before[-1] > period_s + tolerance_s:
        return make_change(by_date[last], None, None, last)
    prev = before[-1]
    return make_change(by_date[last], by_date[prev], prev, last)


def nearest_observation(
    observations: Sequence[tuple[int, float | None]], target_ms: int, tolerance_ms: int
) -> tuple[int, float | None] | None:
    """The observation (ms, value) closest to ``target_ms`` within ``tolerance_ms``, if any.

    Ties go to the earlier observation.
    """
    best: tuple[int, float | None] | None = None
    for ts, value in observations:
        distance = abs(ts - target_ms)
        if distance > tolerance_ms:
            continue
        if best is None or (distance, ts) < (abs(best[0] - target_ms), best[0]):
            best = (ts, value)
    return best


def window_net_flow(
    days: Sequence[tuple[int, float | None, float | None]], period_s: int
) -> NetFlow:
    """Bridge flows over the days in (last - period_s, last]: (date, outflow, inflow) rows.

    Rows are per day (deposits leave the chain, withdrawals arrive). A null in the window
    makes its sum None; the net is inflow - outflow.
    """
    if not days:
        return NetFlow(None, None, None, None, None)
    by_date: dict[int, tuple[float | None, float | None]] = {}
    for date, out, inn in days:
        by_date[date] = (out, inn)
    last = max(by_date)
    window = sorted(d for d in by_date if d > last - period_s)
    outflow = _sum([by_date[d][0] for d in window])
    inflow = _sum([by_date[d][1] for d in window])
    net = None if inflow is None or outflow is None else inflow - outflow
    return NetFlow(window[0], last, inflow, outflow, net)


def _sum(values: list[float | None]) -> float | None:
    total = 0.0
    for v in values:
        if v is None:
            return None
        total += v
    return total
