"""Polymarket tables, the market full-text index, and how discovery and refresh events land.

List columns (outcomes, prices, token ids, tags) are stored as JSON text. Events and markets
are upserted by id, and a row fetched earlier never overwrites one fetched later. The three
context tables (immediate / later / recently closed) hold each market at most once between
them: a placement deletes the market from all three and inserts it into its own, inside the
writer's transaction. Markets are searched by question, event title, slug and tags (on
SQLite ``polymarket_markets_fts``, FTS5 with external content kept in step by triggers).
Volume, 24 h volume and liquidity are NULL when Gamma left them out (nullable since schema
migration 2). ``polymarket_asset_terms`` holds the terms file the links were made with, for
search; each discovery replaces it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from marketmem.events import (
    PolymarketAssetLink,
    PolymarketAssetTerm,
    PolymarketContextMarket,
    PolymarketDiscovered,
    PolymarketEventRow,
    PolymarketMarketRow,
    PolymarketRefreshed,
    Row,
)
from marketmem.source import Tables
from marketmem.sources.polymarket.classify import BUCKETS, TABLE_OF
from marketmem.storage.declare import TEXT, Column, Index, Search, Table, row_columns
from marketmem.storage.engine import Connection
from marketmem.storage.tables import (
    Upsert,
    WriteFn,
    delete_all,
    delete_rows,
    greater,
    stored_value,
)

EVENT_TABLE = Table("polymarket_events", row_columns(PolymarketEventRow), primary_key=("event_id",))
# Keyed by a unique market_id, not a primary key: its row id is the FTS5 content rowid.
MARKET_TABLE = Table(
    "polymarket_markets",
    row_columns(PolymarketMarketRow, market_id=Column("market_id", TEXT, unique=True)),
    indexes=(
        Index("polymarket_markets_by_end", ("closed", "end_ms")),
        Index("polymarket_markets_by_event", ("event_id",)),
    ),
    search=Search(("question", "event_title", "slug", "tags"), tokenizer="unicode61"),
    clustered=False,
)
LINK_TABLE = Table(
    "polymarket_market_asset_links",
    row_columns(PolymarketAssetLink),
    primary_key=("market_id", "asset"),
    indexes=(Index("polymarket_market_asset_links_by_asset", ("asset", "market_id")),),
)
# The terms of the terms file the links were made with (replaced by each discovery).
TERM_TABLE = Table(
    "polymarket_asset_terms", row_columns(PolymarketAssetTerm), primary_key=("term", "asset")
)
CONTEXT_TABLES = tuple(
    Table(TABLE_OF[b], row_columns(PolymarketContextMarket), primary_key=("market_id",))
    for b in BUCKETS
)

_JSON_COLUMNS = frozenset({"outcomes", "outcome_prices", "clob_token_ids", "tags"})
_encode = msgspec.json.Encoder()


def _newer_wins(table: str, row_type: type[Row], key: tuple[str, ...], stamp: str) -> Upsert:
    """An upsert where a row fetched earlier (by ``stamp``) never overwrites a later one."""
    cols = [c for c in row_type.__struct_fields__ if c not in key]
    update = {
        c: f"CASE WHEN excluded.{stamp} >= {table}.{stamp} THEN excluded.{c} ELSE {table}.{c} END"
        for c in cols
        if c != stamp
    }
    update[stamp] = greater(f"excluded.{stamp}", f"{table}.{stamp}")
    return Upsert(table, row_type, key=key, update=update)


EVENTS = _newer_wins("polymarket_events", PolymarketEventRow, ("event_id",), "fetched_at_ms")
MARKETS = _newer_wins("polymarket_markets", PolymarketMarketRow, ("market_id",), "fetched_at_ms")
# A refresh from /markets knows prices and state; the event link and tags stay discovery's.
MARKETS_REFRESH = Upsert(
    MARKETS.table,
    PolymarketMarketRow,
    key=MARKETS.key,
    update=MARKETS.update,
    keep=("event_id", "event_title", "tags"),
)
LINKS = Upsert("polymarket_market_asset_links", PolymarketAssetLink, key=("market_id", "asset"))
TERMS = Upsert("polymarket_asset_terms", PolymarketAssetTerm, key=("term", "asset"))
CONTEXT = {b: Upsert(TABLE_OF[b], PolymarketContextMarket, key=("market_id",)) for b in BUCKETS}


def _params(row: Row) -> tuple[Any, ...]:
    values = msgspec.structs.astuple(row)
    return tuple(
        _encode.encode(v).decode() if name in _JSON_COLUMNS and v is not None else v
        for name, v in zip(row.__struct_fields__, values, strict=True)
    )


def _write(conn: Connection, upsert: Upsert, rows: list[Any]) -> int:
    if rows:
        conn.executemany(upsert.sql, [_params(r) for r in rows])
    return len(rows)


def write_discovered(conn: Connection, ev: PolymarketDiscovered) -> dict[str, int]:
    events = _write(conn, EVENTS, ev.events)
    markets = _write(conn, MARKETS, ev.markets)
    # Links are recomputed: those of every market of this run are replaced.
    delete_rows(conn, LINKS.table, ("market_id",), [(m.market_id,) for m in ev.markets])
    links = _write(conn, LINKS, ev.links)
    counts = {
        "polymarket_events": events,
        "polymarket_markets": markets,
        "polymarket_market_asset_links": links,
    }
    if ev.terms is not None:
        delete_all(conn, TERMS.table)
        counts["polymarket_asset_terms"] = _write(conn, TERMS, ev.terms)
    return counts


def _placed_at(conn: Connection, market_id: str) -> int | None:
    latest: int | None = None
    for b in BUCKETS:
        at = stored_value(conn, TABLE_OF[b], "refreshed_at_ms", {"market_id": market_id})
        if at is not None and (latest is None or at > latest):
            latest = at
    return latest


def write_refreshed(conn: Connection, ev: PolymarketRefreshed) -> dict[str, int]:
    counts = {"polymarket_markets": _write(conn, MARKETS_REFRESH, ev.markets)}
    for b in BUCKETS:
        counts[TABLE_OF[b]] = 0
    for p in ev.placements:
        placed = _placed_at(conn, p.market_id)
        if placed is not None and placed > p.at_ms:
            continue
        for b in BUCKETS:
            delete_rows(conn, TABLE_OF[b], ("market_id",), [(p.market_id,)])
        if p.bucket in CONTEXT and p.row is not None:
            _write(conn, CONTEXT[p.bucket], [p.row])
            counts[TABLE_OF[p.bucket]] += 1
    return counts


UPSERTS: tuple[Upsert, ...] = (EVENTS, MARKETS, MARKETS_REFRESH, LINKS, TERMS, *CONTEXT.values())
WRITERS: dict[type, WriteFn] = {
    PolymarketDiscovered: write_discovered,
    PolymarketRefreshed: write_refreshed,
}
TABLES = Tables(
    (EVENT_TABLE, MARKET_TABLE, LINK_TABLE, TERM_TABLE, *CONTEXT_TABLES), WRITERS, UPSERTS
)
# These tables as SQLite statements, for tests that build a database of an older schema
# beside them (the same list the storage runs).
DDL = TABLES.ddl
