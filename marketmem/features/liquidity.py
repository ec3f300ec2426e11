"""Liquidity profile of one coin from its L2 book, as pure functions.

Depth is notional (price x size, USD) resting within N bps of the mid on each side. The venue
sends at most ``Book.max_levels`` levels a side; when a full side ends inside a band, the depth
of that band is unknown (``beyond_visible_book``) rather than understated. ``*_reach_bps`` says
how far from the mid each side's visible levels go.

Impact: walking one side for a notional gives the average fill price (notional / size),
the worst level touched and the slippage of the average against the mid, in bps (positive =
worse than mid for either side).
"""

from __future__ import annotations

from dataclasses import dataclass

from marketmem.events import AssetCtxSnapshot
from marketmem.features.inputs import Book
from marketmem.features.values import (
    BEYOND_VISIBLE_BOOK,
    CROSSED_BOOK,
    EMPTY_BOOK_SIDE,
    INSUFFICIENT_DEPTH,
    MISSING_INPUT,
    ZERO_BASE,
    ZERO_PRICE,
    Columns,
    Null,
    Num,
    finite,
    ratio,
)

BANDS_BPS = (10, 25, 50, 100)

COLUMNS = (
    "best_bid",
    "best_ask",
    "mid_px",
    "spread_bps",
    *(f"{side}_depth_{b}bps" for b in BANDS_BPS for side in ("bid", "ask")),
    "bid_depth_visible",
    "ask_depth_visible",
    "bid_reach_bps",
    "ask_reach_bps",
    "imbalance_10bps",
    "imbalance_visible",
    "venue_impact_bid_px",
    "venue_impact_ask_px",
    "venue_impact_spread_bps",
    "day_ntl_vlm",
)


def depth_within(
    levels: list[tuple[float, float]], mid: float, bps: float, *, bids: bool, max_levels: int
) -> Num:
    """Notional of the levels within ``bps`` of ``mid`` on one side."""
    if not levels:
        return EMPTY_BOOK_SIDE
    limit = mid * (1 - bps / 10_000.0) if bids else mid * (1 + bps / 10_000.0)
    total = 0.0
    for px, sz in levels:
        if (px < limit) if bids else (px > limit):
            return finite(total)
        total += px * sz
    # Every visible level is inside the band: complete only if the side is not cut off.
    return BEYOND_VISIBLE_BOOK if len(levels) >= max_levels else finite(total)


def reach_bps(levels: list[tuple[float, float]], mid: float, *, bids: bool) -> Num:
    if not levels:
        return EMPTY_BOOK_SIDE
    far = levels[-1][0]
    return finite(((mid - far) if bids else (far - mid)) / mid * 10_000.0)


def imbalance(bid: Num, ask: Num) -> Num:
    """(bid - ask) / (bid + ask): +1 all bids, -1 all asks."""
    if isinstance(bid, Null):
        return bid
    if isinstance(ask, Null):
        return ask
    total = bid + ask
    return ZERO_BASE if total <= 0 else finite((bid - ask) / total)


@dataclass(frozen=True, slots=True)
class Impact:
    notional_usd: float
    side: str
    avg_px: Num
    worst_px: Num
    slippage_bps: Num


def impact(book: Book, mid: Num, notional: float, side: str) -> Impact:
    """Fill ``notional`` USD by walking the asks (``buy``) or the bids (``sell``)."""
    levels = book.asks if side == "buy" else book.bids
    if isinstance(mid, Null):
        return Impact(notional, side, mid, mid, mid)
    if not levels:
        return Impact(notional, side, EMPTY_BOOK_SIDE, EMPTY_BOOK_SIDE, EMPTY_BOOK_SIDE)
    need = notional
    size = 0.0
    for px, sz in levels:
        level_ntl = px * sz
        if level_ntl >= need:
            size += need / px
            avg = notional / size
            slip = (avg / mid - 1.0) if side == "buy" else (1.0 - avg / mid)
            return Impact(notional, side, finite(avg), px, finite(slip * 10_000.0))
        need -= level_ntl
        size += sz
    short = BEYOND_VISIBLE_BOOK if len(levels) >= book.max_levels else INSUFFICIENT_DEPTH
    return Impact(notional, side, short, short, short)


def liquidity_profile(
    book: Book, ctx: AssetCtxSnapshot | Null, notionals: tuple[float, ...] | list[float]
) -> tuple[Columns, list[Impact]]:
    cols = Columns()
    best_bid: Num = book.bids[0][0] if book.bids else EMPTY_BOOK_SIDE
    best_ask: Num = book.asks[0][0] if book.asks else EMPTY_BOOK_SIDE
    cols.put("best_bid", best_bid)
    cols.put("best_ask", best_ask)
    mid: Num
    if isinstance(best_bid, Null):
        mid = best_bid
    elif isinstance(best_ask, Null):
        mid = best_ask
    elif best_bid <= 0 or best_ask <= 0:
        mid = ZERO_PRICE
    elif best_bid >= best_ask:
        mid = CROSSED_BOOK
    else:
        mid = (best_bid + best_ask) / 2.0
    cols.put("mid_px", mid)
    if isinstance(mid, Null):
        cols.put("spread_bps", mid)
        for b in BANDS_BPS:
            cols.put(f"bid_depth_{b}bps", mid)
            cols.put(f"ask_depth_{b}bps", mid)
        for name in ("bid_reach_bps", "ask_reach_bps", "imbalance_10bps"):
            cols.put(name, mid)
    else:
        assert not isinstance(best_bid, Null) and not isinstance(best_ask, Null)
        cols.put("spread_bps", (best_ask - best_bid) / mid * 10_000.0)
        depths: dict[str, Num] = {}
        for b in BANDS_BPS:
            for side, levels in (("bid", book.bids), ("ask", book.asks)):
                name = f"{side}_depth_{b}bps"
                depths[name] = depth_within(
                    levels, mid, b, bids=side == "bid", max_levels=book.max_levels
                )
                cols.put(name, depths[name])
        cols.put("bid_reach_bps", reach_bps(book.bids, mid, bids=True))
        cols.put("ask_reach_bps", reach_bps(book.asks, mid, bids=False))
        cols.put("imbalance_10bps", imbalance(depths["bid_depth_10bps"], depths["ask_depth_10bps"]))
    bid_vis: Num = sum(px * sz for px, sz in book.bids) if book.bids else EMPTY_BOOK_SIDE
    ask_vis: Num = sum(px * sz for px, sz in book.asks) if book.asks else EMPTY_BOOK_SIDE
    cols.put("bid_depth_visible", bid_vis)
    cols.put("ask_depth_visible", ask_vis)
    cols.put("imbalance_visible", imbalance(bid_vis, ask_vis))

    if isinstance(ctx, Null):
        for name in ("venue_impact_bid_px", "venue_impact_ask_px", "venue_impact_spread_bps"):
            cols.put(name, ctx)
        cols.put("day_ntl_vlm", ctx)
    else:
        cols.put("venue_impact_bid_px", ctx.impact_bid_px)
        cols.put("venue_impact_ask_px", ctx.impact_ask_px)
        spread: Num = MISSING_INPUT
        if ctx.impact_bid_px is not None and ctx.impact_ask_px is not None:
            spread = ratio(
                ctx.impact_ask_px - ctx.impact_bid_px,
                (ctx.impact_ask_px + ctx.impact_bid_px) / 2.0,
            )
            if not isinstance(spread, Null):
                spread *= 10_000.0
        cols.put("venue_impact_spread_bps", spread)
        cols.put("day_ntl_vlm", ctx.day_ntl_vlm)
    impacts = [impact(book, mid, n, side) for n in notionals for side in ("buy", "sell")]
    return cols, impacts
