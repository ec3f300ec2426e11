"""Schema migration 2: the Polymarket tables of a version-1 database take NULL numbers, with
every row, the market full-text index and its triggers kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apsw
import msgspec

from marketmem.events import (
    PolymarketAssetLink,
    PolymarketContextMarket,
    PolymarketDiscovered,
    PolymarketEventRow,
    PolymarketMarketRow,
    PolymarketPlacement,
    PolymarketRefreshed,
)
from marketmem.plugins import SOURCES
from marketmem.sources.polymarket import tables
from marketmem.storage import db, schema
from marketmem.storage.reads.polymarket import markets_for_asset, search_markets

NOW = 1_795_564_800_000
H = 3_600_000

# The Polymarket DDL of schema version 1, as shipped before migration 2 (frozen here: the
# module's own DDL now declares the nullable numbers).
_V1_CONTEXT = """
        market_id TEXT PRIMARY KEY,
        question TEXT NOT NULL,
        slug TEXT NOT NULL,
        outcomes TEXT NOT NULL,
        outcome_prices TEXT,
        best_bid REAL,
        best_ask REAL,
        last_trade_price REAL,
        volume REAL NOT NULL,
        volume_24h REAL NOT NULL,
        liquidity REAL NOT NULL,
        end_ms INTEGER,
        closed_time_ms INTEGER,
        resolution TEXT NOT NULL,
        resolved_outcome INTEGER,
        refreshed_at_ms INTEGER NOT NULL
"""
V1_POLYMARKET_DDL = [
    """
    CREATE TABLE IF NOT EXISTS polymarket_events (
        event_id TEXT PRIMARY KEY,
        slug TEXT NOT NULL,
        title TEXT NOT NULL,
        start_ms INTEGER,
        end_ms INTEGER,
        closed_time_ms INTEGER,
        active INTEGER NOT NULL,
        closed INTEGER NOT NULL,
        archived INTEGER NOT NULL,
        volume REAL NOT NULL,
        volume_24h REAL NOT NULL,
        liquidity REAL NOT NULL,
        tags TEXT NOT NULL,
        updated_at_ms INTEGER,
        fetched_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_markets (
        market_id TEXT NOT NULL UNIQUE,
        condition_id TEXT NOT NULL,
        event_id TEXT,
        event_title TEXT NOT NULL,
        slug TEXT NOT NULL,
        question TEXT NOT NULL,
        outcomes TEXT NOT NULL,
        outcome_prices TEXT,
        clob_token_ids TEXT NOT NULL,
        volume REAL NOT NULL,
        volume_24h REAL NOT NULL,
        liquidity REAL NOT NULL,
        best_bid REAL,
        best_ask REAL,
        last_trade_price REAL,
        start_ms INTEGER,
        end_ms INTEGER,
        closed_time_ms INTEGER,
        active INTEGER NOT NULL,
        closed INTEGER NOT NULL,
        archived INTEGER NOT NULL,
        resolution TEXT NOT NULL,
        resolved_outcome INTEGER,
        tags TEXT NOT NULL,
        updated_at_ms INTEGER,
        fetched_at_ms INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS polymarket_markets_by_end ON polymarket_markets (closed, end_ms)",
    "CREATE INDEX IF NOT EXISTS polymarket_markets_by_event ON polymarket_markets (event_id)",
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS polymarket_markets_fts USING fts5(
        question, event_title, slug, tags,
        content='polymarket_markets', content_rowid='rowid', tokenize='unicode61'
    )
    """,
    """
    CREATE TRIGGER IF NOT EXISTS polymarket_markets_fts_ai AFTER INSERT ON polymarket_markets
    BEGIN
        INSERT INTO polymarket_markets_fts (rowid, question, event_title, slug, tags)
        VALUES (new.rowid, new.question, new.event_title, new.slug, new.tags);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS polymarket_markets_fts_ad AFTER DELETE ON polymarket_markets
    BEGIN
        INSERT INTO polymarket_markets_fts (polymarket_markets_fts, rowid, question,
            event_title, slug, tags)
        VALUES ('delete', old.rowid, old.question, old.event_title, old.slug, old.tags);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS polymarket_markets_fts_au
    AFTER UPDATE OF question, event_title, slug, tags ON polymarket_markets
    BEGIN
        INSERT INTO polymarket_markets_fts (polymarket_markets_fts, rowid, question,
            event_title, slug, tags)
        VALUES ('delete', old.rowid, old.question, old.event_title, old.slug, old.tags);
        INSERT INTO polymarket_markets_fts (rowid, question, event_title, slug, tags)
        VALUES (new.rowid, new.question, new.event_title, new.slug, new.tags);
    END
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_market_asset_links (
        market_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        term TEXT NOT NULL,
        field TEXT NOT NULL,
        score REAL NOT NULL,
        linked_at_ms INTEGER NOT NULL,
        PRIMARY KEY (market_id, asset)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS polymarket_market_asset_links_by_asset "
    "ON polymarket_market_asset_links (asset, market_id)",
    *(
        f"CREATE TABLE IF NOT EXISTS {t} ({_V1_CONTEXT}) WITHOUT ROWID"
        for t in (
            "polymarket_immediate_markets",
            "polymarket_later_markets",
            "polymarket_recently_closed_markets",
        )
    ),
]
REBUILT = (
    "polymarket_events",
    "polymarket_markets",
    "polymarket_immediate_markets",
    "polymarket_later_markets",
    "polymarket_recently_closed_markets",
)
NUMBERS = ("volume", "volume_24h", "liquidity")


def market(mid: str, question: str, **kw: Any) -> PolymarketMarketRow:
    fields: dict[str, Any] = {
        "market_id": mid, "condition_id": "0x" + mid, "event_id": "e1", "event_title": "Event",
        "slug": f"slug-{mid}", "question": question, "outcomes": ["Yes", "No"],
        "outcome_prices": ["0.6", "0.4"], "clob_token_ids": ["1", "2"], "volume": 100.0 + int(mid),
        "volume_24h": 10.0, "liquidity": 5.0, "best_bid": 0.59, "best_ask": 0.61,
        "last_trade_price": 0.6, "start_ms": NOW - H, "end_ms": NOW + 48 * H,
        "closed_time_ms": None, "active": True, "closed": False, "archived": False,
        "resolution": "open", "resolved_outcome": None, "tags": ["crypto"],
        "updated_at_ms": NOW, "fetched_at_ms": NOW,
    }  # fmt: skip
    fields.update(kw)
    return PolymarketMarketRow(**fields)


def event(eid: str, **kw: Any) -> PolymarketEventRow:
    fields: dict[str, Any] = {
        "event_id": eid, "slug": eid, "title": "Event", "start_ms": None, "end_ms": None,
        "closed_time_ms": None, "active": True, "closed": False, "archived": False,
        "volume": 300.0, "volume_24h": 30.0, "liquidity": 15.0, "tags": ["crypto"],
        "updated_at_ms": None, "fetched_at_ms": NOW,
    }  # fmt: skip
    fields.update(kw)
    return PolymarketEventRow(**fields)


def link(mid: str, asset: str) -> PolymarketAssetLink:
    return PolymarketAssetLink(
        market_id=mid, asset=asset, term=asset.lower(), field="question", score=0.7,
        linked_at_ms=NOW,
    )  # fmt: skip


def placement(m: PolymarketMarketRow, bucket: str) -> PolymarketPlacement:
    row = PolymarketContextMarket(
        market_id=m.market_id, question=m.question, slug=m.slug, outcomes=m.outcomes,
        outcome_prices=m.outcome_prices, best_bid=m.best_bid, best_ask=m.best_ask,
        last_trade_price=m.last_trade_price, volume=m.volume, volume_24h=m.volume_24h,
        liquidity=m.liquidity, end_ms=m.end_ms, closed_time_ms=m.closed_time_ms,
        resolution=m.resolution, resolved_outcome=m.resolved_outcome, refreshed_at_ms=NOW,
    )  # fmt: skip
    return PolymarketPlacement(market_id=m.market_id, bucket=bucket, at_ms=NOW, row=row)


OLD_MARKETS = [
    market("1", "Will Bitcoin reach $150,000 by December 31?"),
    market("2", "Will Ethereum reach $5,000?", end_ms=NOW + 2 * H),
    market("3", "Will the Fed cut rates in December?", tags=["economy"]),
]


def version_1_database(path: Path) -> None:
    """A database as version 1 left it: every table, the v1 Polymarket DDL, rows in each."""
    conn = db.open_rw(path)
    with conn:
        for declared in schema.table_sets(SOURCES):
            if declared.ddl is not tables.DDL:
                for stmt in declared.ddl:
                    conn.execute(stmt)
        for stmt in V1_POLYMARKET_DDL:
            conn.execute(stmt)
        conn.execute("PRAGMA user_version=1")
        tables.write_discovered(
            conn,
            PolymarketDiscovered(
                events=[event("e1")],
                markets=OLD_MARKETS,
                links=[link("1", "BTC"), link("2", "ETH")],
            ),
        )
        # A deleted and an updated market: FTS rowids must survive the rebuild.
        tables.write_discovered(
            conn, PolymarketDiscovered(events=[], markets=[market("4", "Gone soon")], links=[])
        )
        conn.execute("DELETE FROM polymarket_markets WHERE market_id='4'")
        tables.write_refreshed(
            conn,
            PolymarketRefreshed(
                markets=[],
                placements=[
                    placement(OLD_MARKETS[0], "later"),
                    placement(OLD_MARKETS[1], "immediate"),
                ],
            ),
        )
    conn.close()


def dump(conn: apsw.Connection) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in (*REBUILT, "polymarket_market_asset_links"):
        rowid = "rowid, " if table == "polymarket_markets" else ""
        out[table] = list(conn.execute(f"SELECT {rowid}* FROM {table} ORDER BY 1"))
    return out


def not_null(conn: apsw.Connection, table: str) -> dict[str, bool]:
    return {r[1]: bool(r[3]) for r in conn.execute(f"PRAGMA table_info({table})")}


def schema_objects(conn: apsw.Connection) -> set[tuple[str, str]]:
    return {
        (r[0], r[1])
        for r in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name LIKE 'polymarket%' AND sql NOT NULL"
        )
    }


def test_a_version_1_database_upgrades_in_place_and_takes_nulls(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    version_1_database(path)
    conn = db.open_rw(path)
    before, objects = dump(conn), schema_objects(conn)
    assert all(not_null(conn, t)["volume"] for t in REBUILT)

    assert schema.migrate(conn, SOURCES) == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION >= 2
    assert dump(conn) == before  # every row, every rowid
    # Indexes, triggers and the FTS table are back; the search terms table is new.
    assert schema_objects(conn) == objects | {("table", "polymarket_asset_terms")}
    for table in REBUILT:
        flags = not_null(conn, table)
        assert not any(flags[c] for c in NUMBERS), table
        assert flags["fetched_at_ms" if table in REBUILT[:2] else "refreshed_at_ms"]
    conn.execute(
        "INSERT INTO polymarket_markets_fts(polymarket_markets_fts) VALUES('integrity-check')"
    )
    assert [r["market_id"] for r in search(conn, q="bitcoin")] == ["1"]

    # NULL numbers go in; the triggers index new and updated markets.
    unknown = {"volume": None, "volume_24h": None, "liquidity": None}
    with conn:
        tables.write_discovered(
            conn,
            PolymarketDiscovered(
                events=[event("e2", **unknown)],
                markets=[
                    market("5", "Will Solana reach $300?", **unknown),
                    market("3", "Will the Fed hold rates in December?", fetched_at_ms=NOW + 1),
                ],
                links=[link("5", "SOL")],
            ),
        )
        tables.write_refreshed(
            conn,
            PolymarketRefreshed(
                markets=[],
                placements=[placement(market("5", "Will Solana reach $300?", **unknown), "later")],
            ),
        )
    got = db.query(
        conn, "SELECT volume, volume_24h, liquidity FROM polymarket_markets WHERE market_id='5'"
    )
    assert got == [unknown]
    assert db.query(conn, "SELECT volume FROM polymarket_events WHERE event_id='e2'") == [
        {"volume": None}
    ]
    assert [r["market_id"] for r in search(conn, q="solana")] == ["5"]
    assert [r["market_id"] for r in search(conn, q="hold rates")] == ["3"]
    assert search(conn, q="cut rates") == []
    later = msgspec.to_builtins(markets_for_asset(conn, "SOL", NOW))["later"]
    assert [(m["market_id"], m["volume"], m["volume_24h"]) for m in later] == [("5", None, None)]
    conn.execute(
        "INSERT INTO polymarket_markets_fts(polymarket_markets_fts) VALUES('integrity-check')"
    )
    conn.close()


def test_a_fresh_database_has_the_same_polymarket_schema_as_an_upgraded_one(tmp_path: Path) -> None:
    version_1_database(tmp_path / "v1.db")
    upgraded = db.open_rw(tmp_path / "v1.db")
    schema.migrate(upgraded, SOURCES)
    fresh = db.open_rw(tmp_path / "fresh.db")
    assert schema.migrate(fresh, SOURCES) == 0
    for table in (*REBUILT, "polymarket_market_asset_links"):
        info = list(fresh.execute(f"PRAGMA table_info({table})"))
        assert list(upgraded.execute(f"PRAGMA table_info({table})")) == info, table
    assert schema_objects(upgraded) == schema_objects(fresh)
    upgraded.close()
    fresh.close()


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    version_1_database(path)
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    once = dump(conn)
    assert schema.migrate(conn, SOURCES) == schema.SCHEMA_VERSION
    assert dump(conn) == once
    conn.close()


def search(conn: apsw.Connection, **kw: Any) -> list[dict[str, Any]]:
    return msgspec.to_builtins(search_markets(conn, now_ms=NOW, **kw))
