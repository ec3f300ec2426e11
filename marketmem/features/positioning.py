"""Positioning pressure of one coin: open interest and price change over 5 min, 1 h, 24 h.

Both changes are measured between the current asset context and a stored earlier snapshot
near each lookback (the nearest within a tolerance; none is ``no_history``), so price and open
interest always compare the same two instants. The quadrant label reads the pair:

| price | open interest | label |
| --- | --- | --- |
| up | up | long_buildup |
| down | up | short_buildup |
| down | down | long_unwinding |
| up | down | short_covering |

A move smaller than its threshold (percent) on either axis is ``neutral``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from marketmem.events import AssetCtxSnapshot
from marketmem.features.config import FeaturesConfig
from marketmem.features.values import (
    MISSING_INPUT,
    NO_HISTORY,
    ZERO_BASE,
    ZERO_PRICE,
    ZERO_VOLUME,
    Columns,
    Null,
    Num,
    change_pct,
    ratio,
)

# Lookback name -> (lookback ms, tolerance ms around it).
LOOKBACKS: dict[str, tuple[int, int]] = {
    "5m": (300_000, 120_000),
    "1h": (3_600_000, 600_000),
    "24h": (86_400_000, 3_600_000),
}

COLUMNS = (
    "mark_px",
    "open_interest",
    "oi_notional_usd",
    "day_ntl_vlm",
    "oi_to_volume_24h",
    *(f"oi_change_pct_{k}" for k in LOOKBACKS),
    *(f"price_change_pct_{k}" for k in LOOKBACKS),
    *(f"quadrant_{k}" for k in LOOKBACKS),
)


@dataclass(frozen=True, slots=True)
class QuadrantThresholds:
    price_pct: float
    oi_pct: float

    @classmethod
    def of(cls, cfg: FeaturesConfig) -> QuadrantThresholds:
        return cls(price_pct=cfg.quadrant_price_pct, oi_pct=cfg.quadrant_oi_pct)


DEFAULT_QUADRANTS = QuadrantThresholds.of(FeaturesConfig())


def quadrant(price_pct: Num, oi_pct: Num, t: QuadrantThresholds) -> str | Null:
    if isinstance(price_pct, Null):
        return price_pct
    if isinstance(oi_pct, Null):
        return oi_pct
    if abs(price_pct) < t.price_pct or abs(oi_pct) < t.oi_pct:
        return "neutral"
    if oi_pct > 0:
        return "long_buildup" if price_pct > 0 else "short_buildup"
    return "short_covering" if price_pct > 0 else "long_unwinding"


def nearest(
    times: list[int], snapshots: list[AssetCtxSnapshot], target: int, tolerance: int
) -> AssetCtxSnapshot | None:
    """The snapshot closest to ``target`` within ``tolerance`` (``times`` ascending)."""
    i = bisect_left(times, target)
    best: AssetCtxSnapshot | None = None
    best_d = tolerance + 1
    for j in (i - 1, i):
        if 0 <= j < len(times):
            d = abs(times[j] - target)
            if d < best_d:
                best, best_d = snapshots[j], d
    return best


def _num(x: float | None) -> Num:
    return MISSING_INPUT if x is None else x


def positioning_pressure(
    now: AssetCtxSnapshot,
    history: list[AssetCtxSnapshot],
    thresholds: QuadrantThresholds = DEFAULT_QUADRANTS,
) -> tuple[Columns, int]:
    """The columns of one row and the earliest snapshot time used (window start).

    ``history`` holds this coin's earlier snapshots, ascending by ``snapshot_ms``.
    """
    cols = Columns()
    cols.put("mark_px", now.mark_px)
    cols.put("open_interest", now.open_interest)
    notional: Num = MISSING_INPUT
    if now.open_interest is not None and now.mark_px is not None:
        notional = now.open_interest * now.mark_px
    cols.put("oi_notional_usd", notional)
    cols.put("day_ntl_vlm", now.day_ntl_vlm)
    cols.put("oi_to_volume_24h", ratio(notional, _num(now.day_ntl_vlm), zero=ZERO_VOLUME))
    times = [s.snapshot_ms for s in history]
    start = now.snapshot_ms
    for name, (back, tol) in LOOKBACKS.items():
        ref = nearest(times, history, now.snapshot_ms - back, tol)
        if ref is None:
            oi: Num = NO_HISTORY
            px: Num = NO_HISTORY
        else:
            start = min(start, ref.snapshot_ms)
            oi = _change(now.open_interest, ref.open_interest, ZERO_BASE)
            px = _change(now.mark_px, ref.mark_px, ZERO_PRICE)
        cols.put(f"oi_change_pct_{name}", oi)
        cols.put(f"price_change_pct_{name}", px)
        cols.label(f"quadrant_{name}", quadrant(px, oi, thresholds))
    return cols, start


def _change(now: float | None, then: float | None, zero: Null) -> Num:
    if now is None or then is None:
        return MISSING_INPUT
    if then == 0:
        return zero
    return change_pct(now, then)
