"""Funding, liquidity and positioning features: hand-worked values and edge cases."""

from __future__ import annotations

import math

import msgspec
import pytest

from marketmem.events import AssetCtxSnapshot
from marketmem.features.funding import direction, funding_pressure, zscore
from marketmem.features.inputs import Book, PredictedFunding
from marketmem.features.liquidity import depth_within, impact, liquidity_profile
from marketmem.features.positioning import (
    QuadrantThresholds,
    nearest,
    positioning_pressure,
    quadrant,
)
from marketmem.features.values import (
    BEYOND_VISIBLE_BOOK,
    NO_HISTORY,
    UNAVAILABLE,
    Columns,
    Null,
)


def snap(t: int = 0, **kw: float | None) -> AssetCtxSnapshot:
    base: dict[str, float | None] = {
        "mark_px": 100.0,
        "oracle_px": 100.0,
        "mid_px": 100.0,
        "funding": 0.0000125,
        "premium": 0.0001,
        "open_interest": 1000.0,
        "prev_day_px": 99.0,
        "day_ntl_vlm": 50_000.0,
        "day_base_vlm": 500.0,
        "impact_bid_px": 99.9,
        "impact_ask_px": 100.1,
    }
    base.update(kw)
    return AssetCtxSnapshot(coin="X", snapshot_ms=t, **base)


# --- funding ---------------------------------------------------------------------------------


def test_zscore_hand_worked() -> None:
    z = zscore(5.0, [1.0, 2.0, 3.0, 4.0], min_points=2)
    sd = math.sqrt(((1.5**2) * 2 + 0.5**2 * 2) / 3)  # sample sd of 1..4
    assert z.mean == 2.5 and z.std == pytest.approx(sd) and z.points == 4
    assert z.z == pytest.approx(2.5 / sd)
    assert zscore(1.0, [], 2).z == NO_HISTORY
    assert zscore(1.0, [1.0], 24).z.reason == "too_few_points"  # type: ignore[union-attr]
    assert zscore(1.0, [2.0] * 30, 24).z.reason == "constant_series"  # type: ignore[union-attr]


def test_direction_labels_with_a_neutral_band() -> None:
    band = 0.0000125
    assert direction(0.0001, band) == "longs_paying"
    assert direction(-0.0001, band) == "shorts_paying"
    assert direction(0.0000125, band) == "neutral"
    assert direction(-0.00001, band) == "neutral"
    assert isinstance(direction(None, band), Null)


def test_funding_pressure_row() -> None:
    hour = 3_600_000
    now = 200 * hour
    history = [(now - (i + 1) * hour + 50, 0.00001 * (1 + i % 3)) for i in range(200)]
    ctx = snap(now, funding=0.0001, mark_px=66303.2, oracle_px=66330.3, open_interest=2.0)
    pred = PredictedFunding(
        hl_rate=0.00009, hl_next_time_ms=now + hour, binance_hourly=1e-5, bybit_hourly=None
    )
    cols, start = funding_pressure(ctx, pred, history)
    v = cols.values
    assert v["funding_annualized"] == pytest.approx(0.0001 * 24 * 365)
    assert v["basis_bps"] == pytest.approx((66303.2 - 66330.3) / 66330.3 * 1e4)
    assert v["predicted_funding_rate"] == 0.00009 and v["next_funding_time_ms"] == now + hour
    assert cols.reasons["bybit_funding_hourly"] == "missing_input"
    in_window = [r for t, r in history if t >= now - 7 * 24 * hour]
    assert v["funding_history_points"] == len(in_window) == 168
    mean = sum(in_window) / 168
    assert v["funding_mean_7d"] == pytest.approx(mean)
    assert v["funding_zscore_7d"] > 0
    assert v["oi_notional_usd"] == pytest.approx(2 * 66303.2)
    assert v["funding_x_oi_usd_hourly"] == pytest.approx(0.0001 * 2 * 66303.2)
    assert v["direction"] == "longs_paying"
    assert start == now - 168 * hour + 50


def test_funding_pressure_without_predictions_or_history() -> None:
    cols, start = funding_pressure(snap(premium=None), UNAVAILABLE, UNAVAILABLE)
    assert cols.reasons["predicted_funding_rate"] == "source_unavailable"
    assert cols.reasons["funding_zscore_7d"] == "source_unavailable"
    assert cols.reasons["premium"] == "missing_input"
    assert start is None
    assert cols.values["direction"] == "neutral"


# --- liquidity ---------------------------------------------------------------------------------

BOOK = Book(
    coin="X",
    time_ms=7,
    bids=[(99.0, 1.0), (98.0, 2.0)],
    asks=[(101.0, 1.0), (102.0, 3.0)],
)


def test_book_profile_hand_worked() -> None:
    cols, impacts = liquidity_profile(BOOK, snap(), [200.0])
    v = cols.values
    assert (v["best_bid"], v["best_ask"], v["mid_px"]) == (99.0, 101.0, 100.0)
    assert v["spread_bps"] == pytest.approx(200.0)
    # Within 10 / 25 / 50 bps of 100 there is nothing; within 100 bps: 99 and 101.
    assert v["bid_depth_50bps"] == 0.0 and v["ask_depth_50bps"] == 0.0
    assert v["bid_depth_100bps"] == 99.0 and v["ask_depth_100bps"] == 101.0
    assert v["bid_depth_visible"] == 99.0 + 196.0 and v["ask_depth_visible"] == 101.0 + 306.0
    assert v["bid_reach_bps"] == pytest.approx(200.0) and v["ask_reach_bps"] == pytest.approx(200.0)
    assert v["imbalance_visible"] == pytest.approx((295 - 407) / (295 + 407))
    assert cols.reasons["imbalance_10bps"] == "zero_base"
    assert v["venue_impact_spread_bps"] == pytest.approx(0.2 / 100 * 1e4)
    assert v["day_ntl_vlm"] == 50_000.0
    buy = next(i for i in impacts if i.side == "buy")
    # 101 USD at 101, then 99 USD at 102: size 1 + 99/102.
    size = 1 + 99 / 102
    assert buy.avg_px == pytest.approx(200 / size)
    assert buy.worst_px == 102.0
    assert buy.slippage_bps == pytest.approx((200 / size / 100 - 1) * 1e4)
    sell = next(i for i in impacts if i.side == "sell")
    assert sell.avg_px == pytest.approx(200 / (1 + 101 / 98))
    assert isinstance(sell.slippage_bps, float) and sell.slippage_bps > 0


def test_impact_beyond_the_book() -> None:
    assert impact(BOOK, 100.0, 10_000.0, "sell").avg_px.reason == "insufficient_depth"  # type: ignore[union-attr]
    full = Book(coin="X", time_ms=0, bids=BOOK.bids, asks=BOOK.asks, max_levels=2)
    assert impact(full, 100.0, 10_000.0, "sell").avg_px == BEYOND_VISIBLE_BOOK
    # A full side that ends inside a band cannot tell that band's depth.
    assert depth_within(full.bids, 100.0, 500, bids=True, max_levels=2) == BEYOND_VISIBLE_BOOK
    assert depth_within(BOOK.bids, 100.0, 500, bids=True, max_levels=20) == 99.0 + 196.0


def test_empty_and_crossed_books() -> None:
    empty = Book(coin="MATIC", time_ms=0, bids=[], asks=[])
    cols, impacts = liquidity_profile(empty, UNAVAILABLE, [1000.0])
    assert cols.reasons["best_bid"] == "empty_book_side"
    assert cols.reasons["spread_bps"] == "empty_book_side"
    assert cols.reasons["bid_depth_10bps"] == "empty_book_side"
    assert cols.reasons["venue_impact_bid_px"] == "source_unavailable"
    assert all(isinstance(i.avg_px, Null) for i in impacts)
    one_sided = Book(coin="X", time_ms=0, bids=[(1.0, 1.0)], asks=[])
    cols, _ = liquidity_profile(one_sided, snap(), [])
    assert cols.values["bid_depth_visible"] == 1.0 and cols.reasons["mid_px"] == "empty_book_side"
    crossed = Book(coin="X", time_ms=0, bids=[(2.0, 1.0)], asks=[(1.0, 1.0)])
    cols, _ = liquidity_profile(crossed, snap(), [])
    assert cols.reasons["mid_px"] == "crossed_book"


# --- positioning ---------------------------------------------------------------------------------


def test_quadrant_table() -> None:
    t = QuadrantThresholds(price_pct=0.1, oi_pct=0.1)
    assert quadrant(1.0, 2.0, t) == "long_buildup"
    assert quadrant(-1.0, 2.0, t) == "short_buildup"
    assert quadrant(-1.0, -2.0, t) == "long_unwinding"
    assert quadrant(1.0, -2.0, t) == "short_covering"
    assert quadrant(0.05, 2.0, t) == "neutral"
    assert quadrant(1.0, -0.01, t) == "neutral"
    assert quadrant(NO_HISTORY, 1.0, t) == NO_HISTORY


def test_nearest_snapshot_within_tolerance() -> None:
    snaps = [snap(t) for t in (0, 100, 250)]
    times = [s.snapshot_ms for s in snaps]
    assert nearest(times, snaps, 120, 50) is snaps[1]
    assert nearest(times, snaps, 180, 50) is None
    assert nearest(times, snaps, 240, 50) is snaps[2]
    assert nearest([], [], 5, 50) is None


def test_positioning_row() -> None:
    now = 100_000_000
    history = [
        snap(now - 300_000 + 3_000, mark_px=99.0, open_interest=950.0),
        snap(now - 3_600_000 - 5_000, mark_px=101.0, open_interest=900.0),
    ]
    history.sort(key=lambda s: s.snapshot_ms)
    cols, start = positioning_pressure(snap(now), history)
    v = cols.values
    assert v["oi_change_pct_5m"] == pytest.approx((1000 / 950 - 1) * 100)
    assert v["price_change_pct_5m"] == pytest.approx((100 / 99 - 1) * 100)
    assert v["quadrant_5m"] == "long_buildup"
    assert v["quadrant_1h"] == "short_buildup"
    assert cols.reasons["oi_change_pct_24h"] == "no_history"
    assert cols.reasons["quadrant_24h"] == "no_history"
    assert v["oi_to_volume_24h"] == pytest.approx(1000 * 100 / 50_000)
    assert start == now - 3_600_000 - 5_000


def test_positioning_zero_denominators() -> None:
    cols, _ = positioning_pressure(
        snap(10, day_ntl_vlm=0.0), [snap(10 - 300_000, open_interest=0.0)]
    )
    assert cols.reasons["oi_to_volume_24h"] == "zero_volume"
    assert cols.reasons["oi_change_pct_5m"] == "zero_base"
    assert cols.values["price_change_pct_5m"] == 0.0


def test_columns_never_hold_nan_or_inf() -> None:
    cols = Columns()
    cols.put("a", float("nan"))
    cols.put("b", float("inf"))
    cols.put("c", None)
    cols.put("d", 3)
    assert cols.values == {"a": None, "b": None, "c": None, "d": 3}
    assert msgspec.json.decode(cols.reasons_json() or "") == {
        "a": "non_finite",
        "b": "non_finite",
        "c": "missing_input",
    }
