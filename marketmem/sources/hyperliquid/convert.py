"""Info answers (wire types) turned into the context poller's typed events, at the boundary.

Pure functions. Decimals become floats here: features are statistics, not accounting. A
context slot whose name is not a listed perp is left to the feature run (it names the coin).
"""

from __future__ import annotations

from decimal import Decimal

from marketmem.events import AssetCtxSnapshot, OrderBook, PredictedFunding
from marketmem.sources.hyperliquid import wire

# Levels per side an ``l2Book`` answer holds at most.
L2_MAX_LEVELS = 20


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


def asset_ctx_snapshots(
    answer: wire.MetaAndAssetCtxs, snapshot_ms: int
) -> tuple[dict[str, AssetCtxSnapshot], set[str]]:
    """Snapshots of every listed perp by coin, and the names of the delisted ones."""
    out: dict[str, AssetCtxSnapshot] = {}
    delisted: set[str] = set()
    for _, meta, ctx in answer.pairs():
        if meta.is_delisted:
            delisted.add(meta.name)
            continue
        impact = ctx.impact_pxs if ctx.impact_pxs is not None and len(ctx.impact_pxs) == 2 else None
        out[meta.name] = AssetCtxSnapshot(
            coin=meta.name,
            snapshot_ms=snapshot_ms,
            mark_px=_f(ctx.mark_px),
            oracle_px=_f(ctx.oracle_px),
            mid_px=_f(ctx.mid_px),
            funding=_f(ctx.funding),
            premium=_f(ctx.premium),
            open_interest=_f(ctx.open_interest),
            prev_day_px=_f(ctx.prev_day_px),
            day_ntl_vlm=_f(ctx.day_ntl_vlm),
            day_base_vlm=_f(ctx.day_base_vlm),
            impact_bid_px=_f(impact[0]) if impact else None,
            impact_ask_px=_f(impact[1]) if impact else None,
        )
    return out, delisted


def book(answer: wire.L2Book, max_levels: int = L2_MAX_LEVELS) -> OrderBook:
    return OrderBook(
        coin=answer.coin,
        time_ms=answer.time,
        bids=[(float(lv.px), float(lv.sz)) for lv in answer.bids],
        asks=[(float(lv.px), float(lv.sz)) for lv in answer.asks],
        max_levels=max_levels,
    )


def _hourly(info: wire.PredictedFunding | None) -> float | None:
    if info is None or not info.funding_interval_hours:
        return None
    return float(info.funding_rate) / info.funding_interval_hours


def predicted_fundings(answer: list[wire.CoinPredictedFundings]) -> dict[str, PredictedFunding]:
    out: dict[str, PredictedFunding] = {}
    for entry in answer:
        hl = entry.venue("HlPerp")
        out[entry.coin] = PredictedFunding(
            hl_rate=None if hl is None else float(hl.funding_rate),
            hl_next_time_ms=None if hl is None else hl.next_funding_time,
            binance_hourly=_hourly(entry.venue("BinPerp")),
            bybit_hourly=_hourly(entry.venue("BybitPerp")),
        )
    return out


def funding_points(rows: list[wire.FundingRecord]) -> list[tuple[int, float]]:
    return [(r.time, float(r.funding_rate)) for r in rows]
