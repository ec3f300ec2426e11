"""The Polymarket read route of the HTTP API: ranked market search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from marketmem.config import Config
from marketmem.query import OFFSET, Param, has_search_text, limit_param, search_text_param
from marketmem.source import ReadContext, ReadRoute
from marketmem.storage.models.polymarket import MarketHit
from marketmem.storage.reads import polymarket as reads

DEFAULT_LIMIT = 20


class MarketsSearchResponse(msgspec.Struct, kw_only=True):
    count: int
    limit: int
    offset: int
    markets: list[MarketHit]


def _search(ctx: ReadContext, p: dict[str, Any]) -> MarketsSearchResponse:
    rows: list[MarketHit] = []
    if has_search_text(p["q"]):
        rows = reads.search_markets(
            ctx.conn,
            q=p["q"],
            asset=p["asset"],
            status=None if p["status"] == "all" else p["status"],
            limit=p["limit"],
            offset=p["offset"],
            now_ms=ctx.now_ms,
        )
    return MarketsSearchResponse(
        count=len(rows), limit=p["limit"], offset=p["offset"], markets=rows
    )


def routes(config: Config) -> Sequence[ReadRoute]:
    return (
        ReadRoute(
            "/api/v1/polymarket/markets/search",
            "searchPolymarketMarkets",
            "Ranked Polymarket markets with prices, volume, end date and linked assets",
            params=(
                search_text_param(),
                Param("asset", "string", "only results linked to this asset symbol", max_length=40),
                Param(
                    "status",
                    "string",
                    "market status (closing_soon: open and ending within a day)",
                    choices=("open", "closing_soon", "closed", "all"),
                    default="all",
                ),
                limit_param(DEFAULT_LIMIT, config.http.max_limit),
                OFFSET,
            ),
            response=MarketsSearchResponse,
            read=_search,
        ),
    )
