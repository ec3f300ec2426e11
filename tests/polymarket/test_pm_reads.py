"""Search and context reads, and the writer rules behind them (one table per market).

The writer rules (placements, refreshes) run on both engines (``engines``); search runs on
SQLite (its PostgreSQL engine is another branch's). tests/polymarket/test_pm_context.py
holds the context reads on both engines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import trio
from pm_helpers import bucket_of, open_pm, rows, settle

from marketmem.bus import Bus
from marketmem.config import Config
from marketmem.events import (
    PolymarketAssetLink,
    PolymarketContextMarket,
    PolymarketDiscovered,
    PolymarketEventRow,
    PolymarketMarketRow,
    PolymarketPlacement,
    PolymarketRefreshed,
)
from marketmem.executors import inline_executor
from marketmem.plugins import SOURCES
from marketmem.runs import execute_run
from marketmem.sources.polymarket.classify import CHANNEL_OF
from marketmem.sources.polymarket.config import PolymarketConfig
from marketmem.sources.polymarket.convert import asset_terms
from marketmem.sources.polymarket.jobs import PolymarketShared, discovery_job, refresh_job
from marketmem.sources.polymarket.matching import load_terms
from marketmem.storage import db
from marketmem.storage.models.polymarket import Vocabulary
from marketmem.storage.reads.polymarket import markets_for_asset, search_markets
from marketmem.storage.sqlite.search import SearchGroup, search_groups
from marketmem.storage.writer import StorageWriter

NOW = 1_795_564_800_000
H = 3_600_000


def market(mid: str, question: str, **kw: object) -> PolymarketMarketRow:
    fields: dict[str, object] = {
        "market_id": mid,
        "condition_id": "0x" + mid,
        "event_id": "e" + mid,
        "event_title": kw.pop("title", question),
        "slug": question.lower().replace(" ", "-").strip("?"),
        "question": question,
        "outcomes": ["Yes", "No"],
        "outcome_prices": ["0.6", "0.4"],
        "clob_token_ids": [],
        "volume": 100.0,
        "volume_24h": 10.0,
        "liquidity": 5.0,
        "best_bid": 0.59,
        "best_ask": 0.61,
        "last_trade_price": 0.6,
        "start_ms": NOW - 24 * H,
        "end_ms": NOW + 48 * H,
        "closed_time_ms": None,
        "active": True,
        "closed": False,
        "archived": False,
        "resolution": "open",
        "resolved_outcome": None,
        "tags": ["crypto"],
        "updated_at_ms": NOW,
        "fetched_at_ms": NOW,
    }
    fields.update(kw)
    return PolymarketMarketRow(**fields)  # type: ignore[arg-type]


def link(mid: str, asset: str) -> PolymarketAssetLink:
    return PolymarketAssetLink(
        market_id=mid,
        asset=asset,
        term=asset.lower(),
        field="question",
        score=0.7,
        linked_at_ms=NOW,
    )


def event(eid: str) -> PolymarketEventRow:
    return PolymarketEventRow(
        event_id=eid, slug=eid, title=eid, start_ms=None, end_ms=None, closed_time_ms=None,
        active=True, closed=False, archived=False, volume=0.0, volume_24h=0.0, liquidity=0.0,
        tags=[], updated_at_ms=None, fetched_at_ms=NOW,
    )  # fmt: skip


MARKETS = [
    market("1", "Will Bitcoin reach $150,000 by December 31?", volume=5000.0),
    market("2", "Will Bitcoin dip to $60,000 in December?", volume=9000.0, end_ms=NOW + 2 * H),
    market("3", "Bitcoin Up or Down - March 12", volume=50.0, tags=["crypto", "up-or-down"]),
    market("4", "Will Ethereum reach $5,000?", volume=700.0),
    market(
        "5",
        "Will Bitcoin close above $90,000 yesterday?",
        closed=True,
        end_ms=NOW - 30 * H,
        closed_time_ms=NOW - 29 * H,
        outcome_prices=["0", "1"],
        resolution="resolved",
        resolved_outcome=1,
    ),
    market("6", "Will the Fed cut rates in December?", volume=99999.0, tags=["economy"]),
    market("7", "Who wins?", title="Bitcoin treasury race", volume=10.0, end_ms=NOW - H),
]
LINKS = [link("1", "BTC"), link("2", "BTC"), link("3", "BTC"), link("4", "ETH"), link("5", "BTC"),
         link("7", "BTC")]  # fmt: skip


async def write(path: Path | str, *events: object) -> StorageWriter:
    bus = Bus()
    writer = StorageWriter(path, bus, sources=SOURCES, executor=inline_executor)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        for ev in events:
            await bus.publish(ev)  # type: ignore[arg-type]
        bus.close()
    return writer


# The shipped terms, as discovery stores them for search.
TERMS = asset_terms(load_terms(PolymarketConfig().terms_path()))


@pytest.fixture
async def dbpath(tmp_path: Path) -> Path:
    path = tmp_path / "pm.db"
    await write(
        path,
        PolymarketDiscovered(events=[event("e1")], markets=MARKETS, links=LINKS, terms=TERMS),
    )
    return path


# Markets for ticker search: one linked to BTC by its event slug alone (no BTC word in what
# is indexed), one naming BTC by ticker only, SOL by ticker and name, and a false friend.
TICKER_MARKETS = [
    market("8", "Up or down at noon?", title="Noon window", tags=[], volume=20.0),
    market("9", "BTC above $100k on Friday?", volume=300.0),
    market("10", "Will Sol Campbell manage Arsenal?", tags=["sports"], volume=800.0),
    market("11", "Will SOL reach $300?", volume=40.0),
    market("12", "Will a Solana ETF be approved?", volume=60.0),
    market("13", "Will Binance Coin flip Solana?", volume=5.0),
]
TICKER_LINKS = [link("8", "BTC"), link("9", "BTC"), link("11", "SOL"), link("12", "SOL"),
                link("13", "BNB"), link("13", "SOL")]  # fmt: skip


@pytest.fixture
async def tickers(tmp_path: Path) -> Path:
    path = tmp_path / "tickers.db"
    await write(
        path,
        PolymarketDiscovered(
            events=[],
            markets=MARKETS + TICKER_MARKETS,
            links=LINKS + TICKER_LINKS,
            terms=TERMS,
        ),
    )
    return path


def search(path: Path, **kw: object) -> list[dict]:
    conn = db.open_ro(path)
    try:
        # As the API answers them.
        return msgspec.to_builtins(search_markets(conn, now_ms=NOW, **kw))  # type: ignore[arg-type]
    finally:
        conn.close()


def ids(found: list[dict]) -> list[str]:
    return [m["market_id"] for m in found]


async def test_full_text_relevance_then_volume(dbpath: Path) -> None:
    assert ids(search(dbpath, q="bitcoin reach")) == ["1"]
    got = ids(search(dbpath, q="bitcoin"))
    assert set(got) == {"1", "2", "3", "5", "7"}
    assert got.index("7") > got.index("1")  # a title match ranks below question matches
    assert ids(search(dbpath, q="bitc")) == ids(search(dbpath, q="bitcoin"))  # prefix
    assert ids(search(dbpath, q="up-or-down")) == ["3"]  # tags and slugs are indexed
    assert ids(search(dbpath, q="FED rates")) == ["6"]
    assert search(dbpath, q="dogecoin") == []


async def test_search_by_ticker_finds_what_search_by_name_finds(tickers: Path) -> None:
    by_name = ids(search(tickers, q="bitcoin", limit=100))
    assert {"1", "2", "3", "5", "7", "8", "9"} == set(by_name)  # "8" by its link alone
    assert ids(search(tickers, q="btc", limit=100)) == by_name  # same markets, same order
    assert ids(search(tickers, q="XBT", limit=100)) == by_name
    assert set(ids(search(tickers, q="eth"))) == set(ids(search(tickers, q="ethereum"))) == {"4"}
    assert ids(search(tickers, q="btc reach")) == ids(search(tickers, q="bitcoin reach")) == ["1"]
    assert ids(search(tickers, q="btc", status="closed")) == ids(
        search(tickers, q="bitcoin", status="closed")
    )
    # A ticker that is also a word finds the name's markets, and its own text matches too.
    by_solana = set(ids(search(tickers, q="solana")))
    assert by_solana == {"11", "12", "13"} and by_solana < set(ids(search(tickers, q="sol")))
    assert "10" in ids(search(tickers, q="sol")) and "10" not in by_solana
    assert ids(search(tickers, q="binance coin")) == ids(search(tickers, q="bnb")) == ["13"]


async def test_ticker_search_ranks_linked_then_relevant_then_by_volume(tickers: Path) -> None:
    got = ids(search(tickers, q="sol", limit=100))
    assert got[-1] == "10"  # the text match that is not linked to SOL comes last
    by_btc = ids(search(tickers, q="btc", limit=100))
    assert by_btc[-1] == "8"  # found by its link alone: after every text match
    assert by_btc.index("9") < by_btc.index("7")  # the question outranks a title match
    # Plain words keep relevance then volume; a linked market outranks an unlinked one only
    # when the query names its asset.
    assert ids(search(tickers, q="campbell")) == ["10"]
    assert ids(search(tickers, q="noon")) == ["8"]


async def test_without_stored_terms_search_is_plain_full_text(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    await write(
        path, PolymarketDiscovered(events=[], markets=MARKETS + TICKER_MARKETS, links=LINKS)
    )
    assert ids(search(path, q="btc")) == ["9"]
    assert set(ids(search(path, q="bitcoin"))) == {"1", "2", "3", "5", "7"}


def test_search_groups() -> None:
    vocab = Vocabulary(
        assets_of={
            ("bitcoin",): frozenset({"BTC"}),
            ("btc",): frozenset({"BTC"}),
            ("binance", "coin"): frozenset({"BNB"}),
            ("bnb",): frozenset({"BNB"}),
            ("sol",): frozenset({"SOL"}),
            ("solana",): frozenset({"SOL"}),
        },
        unambiguous={"BTC": (("bitcoin",), ("btc",)), "BNB": (("binance", "coin"), ("bnb",)),
                     "SOL": (("solana",),)},
    )  # fmt: skip
    assert search_groups("BTC price", vocab) == [
        SearchGroup('("BTC" OR "bitcoin")', ("BTC",)),
        SearchGroup('"price"*'),
    ]
    assert search_groups("will Binance coin", vocab) == [
        SearchGroup('"will"'),
        SearchGroup('("Binance coin"* OR "bnb")', ("BNB",)),
    ]
    assert search_groups("sol", vocab) == [SearchGroup('("sol"* OR "solana")', ("SOL",))]
    assert search_groups("solana", vocab) == [SearchGroup('"solana"*', ("SOL",))]
    assert search_groups('btc" OR NEAR(', vocab)[0] == SearchGroup('("btc" OR "bitcoin")', ("BTC",))
    with pytest.raises(ValueError, match="no searchable words"):
        search_groups(" ?! ", vocab)


async def test_without_q_orders_by_volume(dbpath: Path) -> None:
    vols = [m["volume"] for m in search(dbpath)]
    assert vols == sorted(vols, reverse=True) and len(vols) == len(MARKETS)


async def test_filters_by_asset_and_status(dbpath: Path) -> None:
    assert set(ids(search(dbpath, asset="btc"))) == {"1", "2", "3", "5", "7"}
    assert ids(search(dbpath, asset="ETH")) == ["4"]
    assert set(ids(search(dbpath, q="bitcoin", status="open"))) == {"1", "2", "3"}
    assert ids(search(dbpath, q="bitcoin", status="closing_soon")) == ["2"]
    assert set(ids(search(dbpath, status="closed"))) == {"5", "7"}  # 7 is past its end date
    first = next(m for m in search(dbpath, q="bitcoin") if m["market_id"] == "1")
    assert first["assets"] == ["BTC"] and first["outcomes"][0] == {"name": "Yes", "price": 0.6}
    assert first["end_date"].endswith("Z") and first["status"] in ("open", "closing_soon")
    closed = search(dbpath, q="yesterday")[0]
    assert (closed["status"], closed["resolution"], closed["winner"]) == (
        "closed",
        "resolved",
        "No",
    )


async def test_paging(dbpath: Path) -> None:
    every = ids(search(dbpath, q="bitcoin", limit=100))
    pages = [ids(search(dbpath, q="bitcoin", limit=2, offset=o)) for o in (0, 2, 4)]
    assert [x for p in pages for x in p] == every
    assert search(dbpath, q="bitcoin", limit=2, offset=10) == []


@pytest.mark.parametrize(
    "kw",
    [{"status": "soon"}, {"limit": 0}, {"limit": 101}, {"offset": -1}, {"q": "???"}],
)
async def test_bad_arguments(dbpath: Path, kw: dict) -> None:
    with pytest.raises(ValueError):
        search(dbpath, **kw)


def test_search_groups_quote_everything() -> None:
    plain = Vocabulary(assets_of={}, unambiguous={})
    got = [g.fts for g in search_groups('bitcoin "100k" OR NEAR(', plain)]
    assert got == ['"bitcoin"', '"100k"', '"OR"', '"NEAR"*']


@pytest.mark.engines
async def test_placements_keep_a_market_in_one_table(database: Path | str) -> None:
    path = database

    def placed(bucket: str, at: int) -> PolymarketPlacement:
        row = PolymarketContextMarket(
            market_id="1", question="q", slug="s", outcomes=["Yes", "No"], outcome_prices=None,
            best_bid=None, best_ask=None, last_trade_price=None, volume=1.0, volume_24h=0.0,
            liquidity=0.0, end_ms=NOW + H, closed_time_ms=None, resolution="open",
            resolved_outcome=None, refreshed_at_ms=at,
        )  # fmt: skip
        return PolymarketPlacement(
            market_id="1", bucket=bucket, at_ms=at, row=None if bucket == "none" else row
        )

    await write(
        path,
        PolymarketDiscovered(events=[], markets=MARKETS[:1], links=LINKS[:1]),
        PolymarketRefreshed(markets=[], placements=[placed("later", NOW)]),
        PolymarketRefreshed(markets=[], placements=[placed("immediate", NOW + 10)]),
        # Fetched earlier, committed later: it does not win.
        PolymarketRefreshed(markets=[], placements=[placed("later", NOW + 5)]),
    )
    assert bucket_of(path, "1") == ["immediate"]
    await write(
        path, PolymarketRefreshed(markets=[], placements=[placed("recently_closed", NOW + 20)])
    )
    assert bucket_of(path, "1") == ["recently_closed"]
    await write(path, PolymarketRefreshed(markets=[], placements=[placed("none", NOW + 30)]))
    assert bucket_of(path, "1") == []


async def refreshed_after_discovery(path: Path | str) -> None:
    fresh = market("1", "Will Bitcoin reach $150,000 by December 31?", volume=7.0,
                   event_title="", tags=[], fetched_at_ms=NOW + 10)  # fmt: skip
    stale = market("1", "Will Bitcoin reach $150,000 by December 31?", volume=1.0,
                   fetched_at_ms=NOW + 5)  # fmt: skip
    await write(
        path,
        PolymarketDiscovered(events=[], markets=MARKETS[:1], links=LINKS[:1]),
        PolymarketRefreshed(markets=[fresh], placements=[]),
        PolymarketDiscovered(events=[], markets=[stale], links=[]),
    )


@pytest.mark.engines
async def test_refresh_keeps_discovery_fields_and_older_rows_never_win(
    database: Path | str,
) -> None:
    await refreshed_after_discovery(database)
    row = rows(database, "SELECT * FROM polymarket_markets WHERE market_id='1'")[0]
    assert row["volume"] == 7.0 and row["fetched_at_ms"] == NOW + 10
    assert row["event_title"] == MARKETS[0].event_title and row["tags"] == '["crypto"]'


async def test_the_search_index_follows_the_refreshed_row(tmp_path: Path) -> None:
    path = tmp_path / "pm.db"
    await refreshed_after_discovery(path)
    assert ids(search(path, q="december")) == ["1"]


async def test_markets_for_asset_from_a_real_run(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config) as (rt, _sim):
        await execute_run(
            rt, "polymarket", "discovery", discovery_job(PolymarketShared.of(rt.config))
        )
        await settle()
        for bucket, channel in CHANNEL_OF.items():
            await execute_run(
                rt, "polymarket", channel, refresh_job(PolymarketShared.of(rt.config), bucket)
            )
        await settle()
        conn = db.open_ro(rt.database)
        try:
            ctx = msgspec.to_builtins(markets_for_asset(conn, "btc", rt.clock.now_ms()))
            assert set(ctx) == {"immediate", "later", "recently_closed"}
            now = rt.clock.now_ms()
            assert ctx["immediate"] and all(
                0 < m["end_ms"] - now <= 86_400_000 for m in ctx["immediate"]
            )
            ends = [m["end_ms"] for m in ctx["immediate"]]
            assert ends == sorted(ends)
            assert ctx["later"] and all(m["end_ms"] - now > 86_400_000 for m in ctx["later"])
            closed = ctx["recently_closed"]
            assert closed and all(m["resolution"] == "resolved" and m["winner"] for m in closed)
            every = [m["market_id"] for b in ctx.values() for m in b]
            assert len(every) == len(set(every))
            assert msgspec.to_builtins(markets_for_asset(conn, "NOPE", now)) == {
                "immediate": [],
                "later": [],
                "recently_closed": [],
            }
            found = msgspec.to_builtins(
                search_markets(conn, q="bitcoin", asset="BTC", status="closing_soon", now_ms=now)
            )
            assert found and all(m["status"] == "closing_soon" for m in found)
            assert all("BTC" in m["assets"] for m in found)
            assert {m["market_id"] for m in found} == {
                m["market_id"] for m in ctx["immediate"] if "bitcoin" in m["question"].lower()
            }
            by_ticker = msgspec.to_builtins(
                search_markets(conn, q="btc", asset="BTC", status="closing_soon", now_ms=now)
            )
            assert [m["market_id"] for m in by_ticker] == [m["market_id"] for m in found]
        finally:
            conn.close()
