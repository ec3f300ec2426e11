"""Read models of the Polymarket tables: search hits, the markets of one asset, the stored
asset terms, and the markets a refresh channel looks at.

Dates are ms since the epoch, and also ISO strings (``end_date``, ``refreshed_at``,
``closed_at``; UTC, to the second).
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from marketmem.events import PolymarketMarketRow

Words = tuple[str, ...]


class Outcome(msgspec.Struct, frozen=True, gc=False):
    name: str
    price: float | None


class MarketHit(msgspec.Struct, kw_only=True, frozen=True):
    """One market found by a search, with its linked assets (best link first).

    ``status``: open, closing_soon (ends within the window asked for) or closed (also a
    market past its end date); ``winner``: the resolved outcome's name."""

    market_id: str
    condition_id: str
    question: str
    slug: str
    event_id: str | None
    event_title: str
    outcomes: list[Outcome]
    volume: float | None
    volume_24h: float | None
    liquidity: float | None
    best_bid: float | None
    best_ask: float | None
    last_trade_price: float | None
    end_date: str | None
    end_ms: int | None
    status: str
    closed: bool
    resolution: str
    winner: str | None
    tags: list[str]
    assets: list[str]


class ContextMarket(msgspec.Struct, kw_only=True, frozen=True):
    """A market of an asset's context, compact: an open one says when it ends
    (``ends_in_s``); a closed one when it closed, how it resolved and its winner. The fields
    of the other case are absent (UNSET), not null."""

    market_id: str
    question: str
    slug: str
    outcomes: list[Outcome]
    best_bid: float | None
    best_ask: float | None
    last_trade_price: float | None
    volume: float | None
    volume_24h: float | None
    end_date: str | None
    end_ms: int | None
    refreshed_at: str | None
    ends_in_s: int | UnsetType | None = UNSET
    closed_at: str | UnsetType | None = UNSET
    resolution: str | UnsetType = UNSET
    winner: str | UnsetType | None = UNSET


class AssetMarkets(msgspec.Struct, kw_only=True, frozen=True):
    """The context of one asset: its immediate, later and recently closed markets."""

    immediate: list[ContextMarket]
    later: list[ContextMarket]
    recently_closed: list[ContextMarket]


class Vocabulary(msgspec.Struct, kw_only=True, frozen=True):
    """The stored asset terms (``polymarket_asset_terms``) as casefolded words: the assets
    each term names, and each asset's unambiguous terms."""

    assets_of: dict[Words, frozenset[str]]
    unambiguous: dict[str, tuple[Words, ...]]


class Candidate(msgspec.Struct, frozen=True):
    """A market a refresh channel looks at: whether it is linked to an asset, and its stored
    row (None when only the channel's own table still holds it)."""

    market_id: str
    linked: bool
    stored: PolymarketMarketRow | None
