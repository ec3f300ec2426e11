"""Plain inputs of the snapshot-based features: an L2 book and predicted fundings.

Feature functions take these (and ``events.AssetCtxSnapshot``) rather than the info client's
wire types, so they stay pure and testable with hand-made values; ``convert`` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Book:
    """An L2 book: (price, size) levels, bids best (highest) first, asks best (lowest) first.

    ``max_levels`` is how many levels per side the venue sends at most: a side that has that
    many may go on beyond what is visible.
    """

    coin: str
    time_ms: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    max_levels: int = 20


@dataclass(frozen=True, slots=True)
class PredictedFunding:
    """Predicted next funding of one coin; CEX rates normalised to one hour."""

    hl_rate: float | None
    hl_next_time_ms: int | None
    binance_hourly: float | None
    bybit_hourly: float | None
