"""The DefiLlama read route of the HTTP API: ranked subject search with latest metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from marketmem.config import Config
from marketmem.query import OFFSET, Param, has_search_text, limit_param, search_text_param
from marketmem.source import ReadContext, ReadRoute
from marketmem.sources.defillama.subjects import KINDS
from marketmem.storage.models.defillama import Subject
from marketmem.storage.reads import defillama as reads

DEFAULT_LIMIT = 20


class SubjectsSearchResponse(msgspec.Struct, kw_only=True):
    count: int
    limit: int
    offset: int
    subjects: list[Subject]


def _search(ctx: ReadContext, p: dict[str, Any]) -> SubjectsSearchResponse:
    rows: list[Subject] = []
    if has_search_text(p["q"]):
        rows = reads.search_subjects(
            ctx.conn,
            q=p["q"],
            kind=p["kind"],
            asset=p["asset"],
            limit=p["limit"],
            offset=p["offset"],
        )
    return SubjectsSearchResponse(
        count=len(rows),
        limit=p["limit"],
        offset=p["offset"],
        subjects=rows,
    )


def routes(config: Config) -> Sequence[ReadRoute]:
    return (
        ReadRoute(
            "/api/v1/defillama/subjects/search",
            "searchDefillamaSubjects",
            "Ranked DefiLlama subjects with their latest metrics",
            params=(
                search_text_param(),
                Param("kind", "string", "only subjects of this kind", choices=KINDS),
                Param("asset", "string", "only results linked to this asset symbol", max_length=40),
                limit_param(DEFAULT_LIMIT, config.http.max_limit),
                OFFSET,
            ),
            response=SubjectsSearchResponse,
            read=_search,
        ),
    )
