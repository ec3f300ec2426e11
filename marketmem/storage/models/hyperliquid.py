"""Read models of the Hyperliquid tables: assets, categories, candles, mids, execution price.

A stored row read back whole is its event row type (``Candle``, ``MidPrice``, ``CandleGap``
of ``marketmem.events``), the same fields in the same order as its table.
"""

from __future__ import annotations

import msgspec

from marketmem.events import Candle, CandleGap, MidPrice

__all__ = ["Asset", "Bar", "Candle", "CandleGap", "CategoryCount", "ExecutionPrice", "HourCandle"]
__all__ += ["MidPrice", "PriceTimes"]


class Asset(msgspec.Struct, frozen=True):
    """One perp of the registry (``hyperliquid_assets``) with its category ids, sorted."""

    coin: str
    asset_index: int
    sz_decimals: int
    max_leverage: int
    margin_table_id: int | None
    margin_tiers: str | None  # JSON list of {"lower_bound", "max_leverage"}
    is_delisted: bool
    only_isolated: bool
    margin_mode: str | None
    first_seen_ms: int
    last_seen_ms: int
    categories: list[str] = []


class CategoryCount(msgspec.Struct, frozen=True, gc=False):
    """A category of the taxonomy with how many listed coins it holds."""

    category_id: str
    label: str
    description: str
    coins: int


class HourCandle(msgspec.Struct, frozen=True, gc=False):
    """One rolled-up hour (``hyperliquid_candles_1h``); every stored hour is closed."""

    coin: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    minute_count: int
    rolled_up_at_ms: int
    interval: str = "1h"


class Bar(msgspec.Struct, frozen=True, gc=False):
    """One bar of a candle history (1m or 1h) and whether it is closed: a minute as its row
    says, a stored (rolled-up) hour always, an hour aggregated from its minutes once it has
    ended."""

    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    closed: bool


class ExecutionPrice(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The price to execute at: the latest mid, or the close of the latest 1m candle.

    ``at_ms`` is when the price was true; ``source`` is "mid" or "candle_close"."""

    coin: str
    price: float
    source: str
    at_ms: int
    age_ms: int


class PriceTimes(msgspec.Struct, kw_only=True, frozen=True):
    """Per coin, the time of its latest mid bucket and of its latest closed 1m candle."""

    mid: list[int]
    candle_1m: list[int]
