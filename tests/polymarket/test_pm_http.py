"""The Polymarket HTTP routes over a real database of each engine (``engines``): unknown
numbers (NULL) come back as null and rank last; search by ticker finds what search by name
finds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from test_pm_reads import LINKS, MARKETS, NOW, TERMS, market

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.events import (
    ApiTokenCreated,
    CloneSaved,
    PolymarketAssetLink,
    PolymarketDiscovered,
    PolymarketPlacement,
    PolymarketRefreshed,
)
from marketmem.executors import inline_executor
from marketmem.http.app import create_app
from marketmem.http.auth import issue_token
from marketmem.pipeline import open_pipeline
from marketmem.sources.polymarket.convert import context_row

pytestmark = pytest.mark.engines

SEARCH = "/api/v1/polymarket/markets/search"
H = 3_600_000
UNKNOWN = {"volume": None, "volume_24h": None, "liquidity": None}
# Markets whose numbers Gamma left out: one soon, one later, both linked to BTC.
NEW = [
    market("20", "Will Bitcoin be above $99,000 tonight?", end_ms=NOW + 3 * H, **UNKNOWN),
    market("21", "Will Bitcoin reach $250,000 in 2027?", end_ms=NOW + 900 * H, **UNKNOWN),
]


def btc_link(mid: str) -> PolymarketAssetLink:
    return PolymarketAssetLink(
        market_id=mid, asset="BTC", term="bitcoin", field="question", score=0.7, linked_at_ms=NOW
    )


@pytest.fixture
async def client(
    make_config: Callable[..., Config],
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    config = make_config()
    token = issue_token()
    placements = [
        PolymarketPlacement(market_id=m.market_id, bucket=b, at_ms=NOW, row=context_row(m, NOW))
        for m, b in (
            (MARKETS[1], "immediate"),
            (NEW[0], "immediate"),
            (NEW[1], "later"),
            (MARKETS[0], "later"),
        )
    ]
    async with open_pipeline(config, executor=inline_executor) as rt:
        for ev in (
            ApiTokenCreated(
                token_id=token.token_id,
                user="alice",
                token_hash=token.token_hash,
                created_at_ms=NOW,
            ),
            CloneSaved(clone_id="c1", owner="alice", symbols=["BTC"], saved_at_ms=NOW),
            PolymarketDiscovered(
                events=[],
                markets=MARKETS + NEW,
                links=[*LINKS, btc_link("20"), btc_link("21")],
                terms=TERMS,
            ),
            PolymarketRefreshed(markets=[], placements=placements),
        ):
            await rt.bus.publish(ev)
    app = create_app(config, FixedClock(NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c, token.token


async def get(client: tuple[httpx.AsyncClient, str], path: str, **params: Any) -> Any:
    c, token = client
    r = await c.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


async def test_search_returns_null_numbers_and_ranks_them_last(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    every = (await get(client, SEARCH, limit=100))["markets"]
    volumes = [m["volume"] for m in every]
    assert volumes[-2:] == [None, None] and None not in volumes[:-2]
    assert volumes[:-2] == sorted(volumes[:-2], reverse=True)
    found = {
        m["market_id"]: m for m in (await get(client, SEARCH, q="bitcoin", limit=100))["markets"]
    }
    assert {"20", "21"} <= set(found)
    assert (found["20"]["volume"], found["20"]["volume_24h"], found["20"]["liquidity"]) == (
        None,
        None,
        None,
    )


async def test_latest_data_carries_null_numbers(client: tuple[httpx.AsyncClient, str]) -> None:
    c, token = client
    forms = {}
    for form, params in (("verbose", {"verbose": "1"}), ("compact", {})):
        r = await c.post(
            "/api/v1/clones/c1/assets/BTC/latest-data",
            params=params,
            json={"include": ["polymarket"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        forms[form] = r.json()["polymarket"]
    markets = forms["verbose"]
    immediate = {m["market_id"]: m for m in markets["immediate"]}
    assert immediate["20"]["volume"] is None and immediate["2"]["volume"] == 9000.0
    later = [m["market_id"] for m in markets["later"]]
    assert later == ["1", "21"]  # known volume first, unknown last
    # The compact answer leaves the unknown volume out.
    compact = {m["market_id"]: m for m in forms["compact"]["immediate"]}
    assert "volume" not in compact["20"] and compact["2"]["volume"] == 9000.0


async def test_search_by_ticker_finds_what_search_by_name_finds(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    by_name = await get(client, SEARCH, q="bitcoin", limit=100)
    by_ticker = await get(client, SEARCH, q="btc", limit=100)
    assert by_ticker["markets"] == by_name["markets"] and by_name["count"] >= 7
    assert all("BTC" in m["assets"] for m in by_ticker["markets"])
    eth = await get(client, SEARCH, q="eth", status="open")
    assert [m["market_id"] for m in eth["markets"]] == ["4"]
