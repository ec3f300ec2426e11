"""Recorded info payloads turned into the context poller's typed events, and features computed
from them."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from marketmem.events import PredictedFunding
from marketmem.features.liquidity import liquidity_profile
from marketmem.features.values import UNAVAILABLE
from marketmem.sources.hyperliquid import convert, wire
from tests.conftest import fixture_path


def load(name: str, type_: object) -> object:
    return msgspec.json.decode(fixture_path("hyperliquid", name).read_bytes(), type=type_)


def test_asset_contexts_skip_delisted_and_keep_values() -> None:
    answer = load("info_metaAndAssetCtxs.json", wire.MetaAndAssetCtxs)
    assert isinstance(answer, wire.MetaAndAssetCtxs)
    by_coin, delisted = convert.asset_ctx_snapshots(answer, 123)
    assert len(by_coin) + len(delisted) == 232
    assert len(delisted) == 55 and "MATIC" in delisted and "MATIC" not in by_coin
    btc = by_coin["BTC"]
    assert btc.snapshot_ms == 123
    assert (btc.mark_px, btc.oracle_px, btc.funding) == (66303.2, 66330.3, 0.0000125)
    assert (btc.impact_bid_px, btc.impact_ask_px) == (66305.0, 66306.0)
    assert btc.open_interest == pytest.approx(36368.34814)


def test_predicted_fundings_normalise_cex_rates_to_an_hour() -> None:
    answer = load("info_predictedFundings.json", wire.PredictedFundings)
    assert isinstance(answer, list)
    pred = convert.predicted_fundings(answer)
    zg = pred["0G"]
    assert zg.hl_rate == pytest.approx(0.0001606131)
    assert zg.hl_next_time_ms == 1789822800000
    assert zg.binance_hourly == pytest.approx(0.00005 / 4)
    assert zg.bybit_hourly == pytest.approx(0.00005 / 4)


def test_recorded_book_profile() -> None:
    answer = load("info_l2Book.json", wire.L2Book)
    assert isinstance(answer, wire.L2Book)
    book = convert.book(answer)
    assert len(book.bids) == 20 and book.bids[0] == (77243.0, 3.58729)
    cols, impacts = liquidity_profile(book, UNAVAILABLE, [10_000.0])
    v = cols.values
    assert v["mid_px"] == pytest.approx((77243.0 + book.asks[0][0]) / 2)
    assert v["bid_depth_visible"] == pytest.approx(sum(p * s for p, s in book.bids))
    # 20 one-dollar levels reach a few bps: the wider bands are beyond the visible book.
    reach = v["bid_reach_bps"]
    assert reach is not None and reach < 100
    assert cols.reasons["bid_depth_100bps"] == "beyond_visible_book"
    assert impacts[0].avg_px is not None


def test_delisted_book_has_empty_sides() -> None:
    answer = load("info_l2Book_delisted.json", wire.L2Book)
    assert isinstance(answer, wire.L2Book)
    cols, _ = liquidity_profile(convert.book(answer), UNAVAILABLE, [])
    assert cols.reasons["best_bid"] == "empty_book_side"


def test_hand_made_edge_cases() -> None:
    meta = wire.Meta(universe=[wire.AssetMeta(name="X", sz_decimals=1, max_leverage=3)])
    ctx = wire.AssetCtx(
        funding=Decimal("0.0001"),
        open_interest=Decimal("2"),
        prev_day_px=Decimal("1"),
        day_ntl_vlm=Decimal("0"),
        oracle_px=Decimal("1.5"),
        mark_px=Decimal("1.25"),
        impact_pxs=[Decimal("1.2")],  # not a pair: no impact prices
    )
    by_coin, delisted = convert.asset_ctx_snapshots(wire.MetaAndAssetCtxs(meta, [ctx]), 9)
    x = by_coin["X"]
    assert delisted == set() and (x.impact_bid_px, x.impact_ask_px) == (None, None)
    assert (x.mid_px, x.premium, x.day_base_vlm, x.mark_px) == (None, None, None, 1.25)
    with pytest.raises(ValueError, match="1 assets but 0 contexts"):
        convert.asset_ctx_snapshots(wire.MetaAndAssetCtxs(meta, []), 9)
    # A venue without info, and an interval of 0 or none, give no hourly rate.
    no_interval = wire.PredictedFunding(funding_rate=Decimal("0.01"), next_funding_time=5)
    zero = wire.PredictedFunding(
        funding_rate=Decimal("0.01"), next_funding_time=5, funding_interval_hours=0
    )
    entry = wire.CoinPredictedFundings(
        coin="X",
        venues=[wire.VenueFunding("BinPerp", no_interval), wire.VenueFunding("BybitPerp", zero)],
    )
    pred = convert.predicted_fundings([entry])["X"]
    assert pred == PredictedFunding(None, None, None, None)
    empty = convert.book(wire.L2Book(coin="X", time=3, levels=[]))
    assert (empty.bids, empty.asks, empty.time_ms, empty.max_levels) == ([], [], 3, 20)
    rows = [wire.FundingRecord(coin="X", funding_rate=Decimal("-0.5"), time=7)]
    assert convert.funding_points(rows) == [(7, -0.5)]
