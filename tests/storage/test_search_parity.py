"""Search answers the same on SQLite (FTS5, bm25) and PostgreSQL (tsvector, ts_rank_cd).

The same data goes into a SQLite file and a PostgreSQL database, written by the same channels
through the writer: Polymarket discovery from the local Gamma (its simulated catalog and the
recorded fixture events and markets), DefiLlama's capital_base channel over the recorded
payloads (its subjects), and a few markets written here whose text FTS5's tokenizer and
PostgreSQL's parser would split differently unfolded (accents, curly quotes, hyphens,
decimals, an underscore, a host name) or that hold a phrase only across two columns. Then
each query of ``MARKET_QUERIES`` and ``SUBJECT_QUERIES`` (single words, prefixes, several
words, asset terms, folded text, no match, query syntax typed by a user, no words, filters)
runs on both, and:

- the whole answer (up to 100 results) is the same set on both engines, or both refuse the
  query with the same error;
- the top ``N`` are the same in the same order, except for the queries ``SAME_TOP_SET``
  names, whose top ``N`` are compared as sets.

Relevance is computed differently (bm25's k1 and b against the average row length on SQLite;
``ts_rank_cd``'s logarithm of the row's length, saturated, on PostgreSQL; both with the same
column weights and inverse document frequencies), so orders may part where the lengths of
the rows decide: on this data, in the subjects' "polygon" (below), and past the top 5 in the
markets' "bitc", "eth" and "sol" (from the seventh result on).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import PolymarketAssetLink, PolymarketDiscovered, PolymarketMarketRow
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.plugins import parse_config
from marketmem.runs import execute_run
from marketmem.runtime import ChannelSpec
from marketmem.sources.defillama.build import build as build_defillama
from marketmem.sources.polymarket.config import PolymarketConfig
from marketmem.sources.polymarket.convert import asset_terms
from marketmem.sources.polymarket.jobs import PolymarketShared, discovery_job
from marketmem.sources.polymarket.matching import load_terms
from marketmem.storage import engine
from marketmem.storage.reads.defillama import search_subjects
from marketmem.storage.reads.polymarket import search_markets
from marketmem.venues.defillama import DefillamaSimulator, DefillamaVenue, serve_defillama_venue
from marketmem.venues.polymarket import Simulator, serve_polymarket_venue
from tests.conftest import FIXTURES, T0_MS

N = 5
H = 3_600_000


def market(mid: str, question: str, title: str, tags: list[str], volume: float) -> Any:
    return PolymarketMarketRow(
        market_id=mid, condition_id="0x" + mid, event_id="e" + mid, event_title=title,
        slug=question.lower().replace(" ", "-"), question=question, outcomes=["Yes", "No"],
        outcome_prices=["0.5", "0.5"], clob_token_ids=[], volume=volume, volume_24h=1.0,
        liquidity=1.0, best_bid=0.49, best_ask=0.51, last_trade_price=0.5,
        start_ms=T0_MS - 24 * H, end_ms=T0_MS + 72 * H, closed_time_ms=None, active=True,
        closed=False, archived=False, resolution="open", resolved_outcome=None, tags=tags,
        updated_at_ms=T0_MS, fetched_at_ms=T0_MS,
    )  # fmt: skip


# Text that the two engines' parsers would split differently if it were not folded first.
FOLDING = [
    market("f1", "Will Zürich’s “Café Crème” index rise?", "Café prices", ["economy"], 10.0),
    market("f2", "Will GPT-4.5 ship before Ça Va’s release?", "AI models", ["tech"], 20.0),
    market("f3", "Will the Fed funds rate be 4.25% in 2026?", "Fed rate", ["economy"], 30.0),
    market("f4", "Will Pokémon_Go top the app store?", "Pokémon", ["games"], 40.0),
    market("f5", "Will Bitcoin hit $1.5m (BTC/USD) on polymarket.com?", "BTC", ["crypto"], 50.0),
    # "binance coin" (BNB's term) only across the end of the question and the event title
    market("f6", "Will a fine be set for Binance", "Coin toss", ["crypto"], 60.0),
]
FOLDING_LINKS = [
    PolymarketAssetLink(
        market_id="f5", asset="BTC", term="bitcoin", field="question", score=0.9,
        linked_at_ms=T0_MS,
    )
]  # fmt: skip

MARKET_QUERIES: list[dict[str, Any]] = [
    # single words, any case
    {"q": "bitcoin"},
    {"q": "Ethereum"},
    {"q": "fed"},
    {"q": "election"},
    {"q": "manager"},
    # prefixes (the last word)
    {"q": "bitc"},
    {"q": "presid"},
    {"q": "elect"},
    # several words
    {"q": "bitcoin above"},
    {"q": "up or down"},
    {"q": "will the price of solana"},
    {"q": "fed cut rates"},
    {"q": "democratic presidential nomination"},
    # asset terms: a ticker finds what the name finds, and the linked markets
    {"q": "btc"},
    {"q": "BTC up"},
    {"q": "xbt"},
    {"q": "eth"},
    {"q": "sol"},
    {"q": "solana"},
    {"q": "xrp"},
    {"q": "hype"},
    {"q": "btc eth"},
    # folded text
    {"q": "zurich"},
    {"q": "cafe creme"},
    {"q": "ça va"},
    {"q": "gpt 4"},
    {"q": "4.25"},
    {"q": "pokemon go"},
    {"q": "polymarket.com"},
    {"q": "1.5m"},
    # a phrase never spans two columns
    {"q": "binance coin"},
    {"q": "binance"},
    # nothing matches
    {"q": "dogecoinzzz"},
    {"q": "bitcoin qwertyuiop"},
    # user text that is query syntax on either engine
    {"q": "a & b | !c :*"},
    {"q": "bitcoin & !ethereum"},
    {"q": "'bitcoin':* | 'eth'"},
    {"q": '"bitcoin" OR NEAR(ethereum'},
    {"q": "bitcoin' OR 1=1 --"},
    {"q": "(solana) <-> up*"},
    {"q": "\\bitcoin\\"},
    # empty-ish: no words at all
    {"q": " "},
    {"q": ""},
    # with filters
    {"q": "bitcoin", "status": "open"},
    {"q": "btc", "status": "closed"},
    {"q": "up or down", "asset": "ETH"},
    {"q": "will", "status": "closing_soon"},
    {"asset": "SOL"},
]
SUBJECT_QUERIES: list[dict[str, Any]] = [
    # single words and prefixes, over names, symbols and slugs
    {"q": "ethereum"},
    {"q": "eth"},
    {"q": "bitcoin"},
    {"q": "curve"},
    {"q": "usd"},
    {"q": "tether"},
    {"q": "matic"},
    {"q": "polygon"},
    {"q": "uni"},
    {"q": "a"},
    {"q": "c"},
    # several words
    {"q": "polygon bridge"},
    {"q": "convex fin"},
    {"q": "usd coin"},
    {"q": "ethena usde"},
    {"q": "polygon-bridge-&-staking"},
    # nothing matches
    {"q": "dogecoinzzz"},
    {"q": "aave v3"},
    # user text that is query syntax on either engine
    {"q": "a & b | !c :*"},
    {"q": "'eth':* | 'usd'"},
    {"q": '"*'},
    {"q": "AND eth*"},
    # with filters, and no words
    {"q": "eth", "kind": "chain"},
    {"q": "usd", "kind": "stablecoin"},
    {"q": "b", "asset": "BTC"},
    {"asset": "MATIC"},
    {"q": " "},
    {"kind": "protocol"},
]


# Queries whose top N are compared as sets. "polygon": PostgreSQL ranks the protocol Polygon
# Bridge & Staking (two hits in a row of seven words) above the chain Polygon (one hit in two
# words); bm25, comparing each row's length with the average (about three words), puts the
# short row first.
SAME_TOP_SET = {("subjects", "polygon")}


def storage_toml(tmp_path: Path, url: str) -> str:
    return f'[storage]\npath = "{tmp_path / "search.db"}"\nurl = "{url}"\n'


async def fill(storage: str) -> Config:
    """Run discovery and DefiLlama's capital_base against the local venues into ``storage``,
    then write the ``FOLDING`` markets."""
    clock = TrioWallClock(T0_MS)
    clock.now_ms()  # pin the origin: both engines see the same times
    sim = Simulator(clock, fixtures_dir=FIXTURES / "polymarket")
    llama = DefillamaVenue(
        simulator=DefillamaSimulator(7), clock=clock, recorded_dir=FIXTURES / "defillama"
    )
    async with trio.open_nursery() as nursery:
        gamma = await nursery.start(partial(serve_polymarket_venue, sim))
        urls = await nursery.start(partial(serve_defillama_venue, llama))
        config = parse_config(
            storage
            + f'[polymarket]\ngamma_url = "{gamma}"\n'
            + f'[defillama]\napi_url = "{urls.api_url}"\n'
            + f'stablecoins_url = "{urls.stablecoins_url}"\nbridges_url = "{urls.bridges_url}"\n'
            + "cache_ttl_s = 0\n",
            source_path="test.toml",
        )
        async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
            found = await execute_run(
                rt, "polymarket", "discovery", discovery_job(PolymarketShared.of(rt.config))
            )
            assert found.status == "ok", found.error
            (spec,) = [
                s
                for s in build_defillama(rt)
                if isinstance(s, ChannelSpec) and s.channel == "capital_base"
            ]
            based = await execute_run(rt, spec.source, spec.channel, spec.job)
            assert based.status == "ok", based.error
            terms = asset_terms(load_terms(PolymarketConfig().terms_path()))
            await rt.bus.publish(
                PolymarketDiscovered(events=[], markets=FOLDING, links=FOLDING_LINKS, terms=terms)
            )
        nursery.cancel_scope.cancel()
    return config


def answer(location: engine.Location, kind: str, kw: dict[str, Any]) -> list[str] | str:
    """Every result id of one query (up to 100), or the error it raised."""
    conn = engine.open_ro(location)
    try:
        if kind == "markets":
            hits = search_markets(conn, now_ms=T0_MS, limit=100, **kw)
            return [h.market_id for h in hits]
        return [f"{s.kind}:{s.subject_id}" for s in search_subjects(conn, limit=100, **kw)]
    except ValueError as error:
        return f"ValueError: {error}"
    finally:
        conn.close()


def stored(location: engine.Location, sql: str) -> list[dict[str, Any]]:
    conn = engine.open_ro(location)
    try:
        return engine.query(conn, sql)
    finally:
        conn.close()


@pytest.mark.skipif(
    not (FIXTURES / "polymarket").is_dir() or not (FIXTURES / "defillama").is_dir(),
    reason=f"recorded fixtures {FIXTURES} are absent (../shared/fixtures not beside the repo)",
)
async def test_both_engines_find_the_same_top_results(
    tmp_path: Path, pg_database: str, autojump_clock: object
) -> None:
    sqlite = (await fill(storage_toml(tmp_path, ""))).database()
    postgres = (await fill(storage_toml(tmp_path, pg_database))).database()
    assert isinstance(sqlite, Path) and engine.is_postgres(postgres)
    # The same rows on both.
    for sql in (
        "SELECT market_id, question, event_title, slug, volume FROM polymarket_markets "
        "ORDER BY market_id",
        "SELECT market_id, asset FROM polymarket_market_asset_links ORDER BY market_id, asset",
        "SELECT kind, subject_id, name, symbol, slug FROM defillama_subjects "
        "ORDER BY kind, subject_id",
    ):
        assert stored(sqlite, sql) == stored(postgres, sql), sql
    assert len(stored(sqlite, "SELECT market_id FROM polymarket_markets")) > 50

    differences = []
    for kind, queries in (("markets", MARKET_QUERIES), ("subjects", SUBJECT_QUERIES)):
        for kw in queries:
            on_sqlite, on_postgres = answer(sqlite, kind, kw), answer(postgres, kind, kw)
            label = f"{kind} {msgspec.json.encode(kw).decode()}"
            if isinstance(on_sqlite, str) or isinstance(on_postgres, str):
                same = on_sqlite == on_postgres
            elif (kind, kw.get("q")) in SAME_TOP_SET:
                same = set(on_sqlite) == set(on_postgres) and set(on_sqlite[:N]) == set(
                    on_postgres[:N]
                )
            else:
                same = set(on_sqlite) == set(on_postgres) and on_sqlite[:N] == on_postgres[:N]
            if not same:
                differences.append(f"{label}:\n  sqlite   {on_sqlite}\n  postgres {on_postgres}")
    assert not differences, "\n".join(differences)
