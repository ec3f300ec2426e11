"""The Hyperliquid read routes of the HTTP API: the asset registry with categories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from marketmem.config import Config
from marketmem.query import Param
from marketmem.source import ReadContext, ReadRoute
from marketmem.storage.models.hyperliquid import Asset
from marketmem.storage.reads import hyperliquid as reads


class AssetsResponse(msgspec.Struct, kw_only=True):
    count: int
    assets: list[Asset]


def _list_assets(ctx: ReadContext, p: dict[str, Any]) -> AssetsResponse:
    rows = reads.list_assets(
        ctx.conn, category=p["category"], include_delisted=p["include_delisted"]
    )
    return AssetsResponse(count=len(rows), assets=rows)


def routes(config: Config) -> Sequence[ReadRoute]:
    return (
        ReadRoute(
            "/api/v1/assets",
            "listAssets",
            "Asset registry with categories",
            params=(
                Param("category", "string", "only assets of this category", max_length=80),
                Param("include_delisted", "boolean", "include delisted assets", default=False),
            ),
            response=AssetsResponse,
            read=_list_assets,
        ),
    )
