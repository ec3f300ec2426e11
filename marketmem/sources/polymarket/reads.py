"""Reads of the Polymarket tables over a read-only connection.

For the HTTP API: ``search_markets`` (FTS5 over question, event title, slug and tags; a query
word that is an asset's term, "btc", also finds that asset's other terms, "bitcoin", and its
linked markets; ranked by asset, relevance, then volume) and ``markets_for_asset`` (the immediate / later / recently-closed
context of one asset). For the refresh channels: ``placement_candidates``, the stored markets
a channel must look at, and ``discovery_has_data``, whether there is anything to look at.
Everything returns plain values; times are ms since the epoch, and dates also as ISO strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apsw
import msgspec

from marketmem.events import PolymarketMarketRow
from marketmem.sources.polymarket.classify import TABLE_OF, Bucket
from marketmem.storage.db import query

STATUSES = ("open", "closing_soon", "closed")
DEFAULT_CLOSING_SOON_MS = 86_400_000
MAX_LIMIT = 100

_json_list = msgspec.json.Decoder(list[str] | None)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


_WORD = re.compile(r"[^\W_]+")


Words = tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """The stored asset terms (``polymarket_asset_terms``), as casefolded words."""

    assets_of: dict[Words, frozenset[str]]
    unambiguous: dict[str, tuple[Words, ...]]


def vocabulary(conn: apsw.Connection) -> Vocabulary:
    assets_of: dict[Words, set[str]] = {}
    unambiguous: dict[str, list[Words]] = {}
    for term, asset, ambiguous in conn.execute(
        "SELECT term, asset, ambiguous FROM polymarket_asset_terms ORDER BY asset, term"
    ):
        words = tuple(w.casefold() for w in _WORD.findall(term))
        if words:
            assets_of.setdefault(words, set()).add(asset)
            if not ambiguous:
                unambiguous.setdefault(asset, []).append(words)
    return Vocabulary(
        {k: frozenset(v) for k, v in assets_of.items()},
        {k: tuple(v) for k, v in unambiguous.items()},
    )


@dataclass(frozen=True)
class SearchGroup:
    """Words of a query that must match together: an FTS5 expression, and the assets whose
    linked markets match the group too (when the words are one of their terms)."""

    fts: str
    assets: tuple[str, ...] = ()


def _phrase(words: Words, prefix: bool = False) -> str:
    return '"' + " ".join(words) + '"' + ("*" if prefix else "")


def search_groups(q: str, vocab: Vocabulary) -> list[SearchGroup]:
    """The groups every match of ``q`` must satisfy, one per word, each quoted (safe FTS5),
    the last as a prefix. A word, or a run of words, that is a term of an asset ("btc",
    "binance coin") matches that asset's unambiguous terms too, and the markets linked to
    it: ``btc`` finds what ``bitcoin`` finds, and ``sol`` what ``solana`` finds. Raises
    ValueError without words."""
    typed = tuple(_WORD.findall(q))  # as typed: the FTS5 tokenizer folds case itself
    if not typed:
        raise ValueError("q has no searchable words")
    words = tuple(w.casefold() for w in typed)
    longest = max((len(t) for t in vocab.assets_of), default=0)
    groups: list[SearchGroup] = []
    i = 0
    while i < len(words):
        n = next(
            (
                n
                for n in range(min(longest, len(words) - i), 0, -1)
                if words[i : i + n] in vocab.assets_of
            ),
            1,
        )
        run, last = words[i : i + n], i + n == len(words)
        assets = tuple(sorted(vocab.assets_of.get(run, ())))
        options = [_phrase(typed[i : i + n], prefix=last)]
        options += [_phrase(t) for a in assets for t in vocab.unambiguous.get(a, ()) if t != run]
        options = list(dict.fromkeys(options))
        fts = options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")"
        groups.append(SearchGroup(fts, assets))
        i += n
    return groups


def _outcomes(outcomes: str, prices: str | None) -> list[dict[str, Any]]:
    names = _json_list.decode(outcomes) or []
    values = _json_list.decode(prices) if prices else None
    return [
        {"name": n, "price": float(values[i]) if values and i < len(values) else None}
        for i, n in enumerate(names)
    ]


def _status(row: dict[str, Any], now_ms: int, closing_soon_ms: int) -> str:
    end = row["end_ms"]
    if row["closed"] or (end is not None and end <= now_ms):
        return "closed"
    if end is not None and end - now_ms <= closing_soon_ms:
        return "closing_soon"
    return "open"


def _winner(row: dict[str, Any], outcomes: list[dict[str, Any]]) -> str | None:
    i = row["resolved_outcome"]
    return outcomes[i]["name"] if i is not None and 0 <= i < len(outcomes) else None


def _assets(conn: apsw.Connection, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for r in conn.execute(
            "SELECT market_id, asset FROM polymarket_market_asset_links "
            f"WHERE market_id IN ({marks}) ORDER BY score DESC, asset",
            tuple(chunk),
        ):
            out[r[0]].append(r[1])
    return out


_TEXT_MATCH = "SELECT rowid FROM polymarket_markets_fts WHERE polymarket_markets_fts MATCH :{param}"


def _linked_to(params: dict[str, Any], prefix: str, assets: list[str]) -> str:
    """``m.market_id IN (markets linked to any of assets)``, binding ``:prefix0, ...``."""
    names = [f"{prefix}{i}" for i in range(len(assets))]
    params.update(zip(names, assets, strict=True))
    marks = ", ".join(f":{n}" for n in names)
    return (
        "m.market_id IN (SELECT market_id FROM polymarket_market_asset_links "
        f"WHERE asset IN ({marks}))"
    )


def _check_paging(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise ValueError("offset must not be negative")


def search_markets(
    conn: apsw.Connection,
    *,
    q: str | None = None,
    asset: str | None = None,
    status: str | None = None,
    limit: int = 20,
    offset: int = 0,
    now_ms: int,
    closing_soon_ms: int = DEFAULT_CLOSING_SOON_MS,
) -> list[dict[str, Any]]:
    """Markets matching ``q`` (every word; the last as a prefix; a word that is an asset's
    term also matches its other terms and its linked markets, see ``search_groups``), ranked
    by: linked to an asset ``q`` names, then text relevance (bm25 over question, title, slug
    and tags; a market matched only by its link comes after every text match), then volume
    (unknown last); by volume alone without ``q``. Filtered by linked ``asset`` and
    ``status`` (open / closing_soon / closed; closed includes markets past their end date).
    Raises ValueError for a bad status, limit, offset or query."""
    _check_paging(limit, offset)
    where: list[str] = []
    params: dict[str, Any] = {"now": now_ms, "soon": now_ms + closing_soon_ms}
    source, named, relevance, scored = "polymarket_markets m", "0", "0", ""
    if q is not None and q.strip():
        groups = search_groups(q, vocabulary(conn))
        params["q"] = " AND ".join(g.fts for g in groups)  # every group, in the text
        fts = "bm25(polymarket_markets_fts, 4.0, 2.0, 1.0, 1.0)"
        by_asset = [g for g in groups if g.assets]
        if not by_asset:
            source = (
                "polymarket_markets_fts JOIN polymarket_markets m "
                "ON m.rowid = polymarket_markets_fts.rowid"
            )
            where.append("polymarket_markets_fts MATCH :q")
            relevance = fts
        else:
            # Text matches of the whole query, scored once (materialized: not once per
            # market through the join); a market matched through a link has no score.
            scored = (
                f"WITH r AS MATERIALIZED (SELECT rowid AS id, {fts} AS score "
                "FROM polymarket_markets_fts WHERE polymarket_markets_fts MATCH :q) "
            )
            source = "polymarket_markets m LEFT JOIN r ON r.id = m.rowid"
            relevance = "coalesce(r.score, 0.0)"
            named = _linked_to(params, "named", [a for g in by_asset for a in g.assets])
            where.append(f"(m.rowid IN (SELECT id FROM r) OR {named})")
            plain = [g.fts for g in groups if not g.assets]
            if plain:
                params["plain"] = " AND ".join(plain)
                where.append(f"m.rowid IN ({_TEXT_MATCH.format(param='plain')})")
            if len(by_asset) > 1:  # each asset word by its text or its own links
                for i, g in enumerate(by_asset):
                    params[f"w{i}"] = g.fts
                    text = _TEXT_MATCH.format(param=f"w{i}")
                    linked = _linked_to(params, f"w{i}a", list(g.assets))
                    where.append(f"(m.rowid IN ({text}) OR {linked})")
    if asset:
        params["asset"] = asset.upper()
        where.append(
            "m.market_id IN (SELECT market_id FROM polymarket_market_asset_links "
            "WHERE asset = :asset)"
        )
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        where.append(
            {
                "open": "m.closed = 0 AND m.archived = 0 AND (m.end_ms IS NULL OR m.end_ms > :now)",
                "closing_soon": "m.closed = 0 AND m.archived = 0 AND m.end_ms > :now "
                "AND m.end_ms <= :soon",
                "closed": "(m.closed = 1 OR m.end_ms <= :now)",
            }[status]
        )
    params.update(limit=limit, offset=offset)
    sql = (
        f"{scored}SELECT m.*, {named} AS named, {relevance} AS rank FROM {source} "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY named DESC, rank, m.volume DESC NULLS LAST, m.market_id "
        "LIMIT :limit OFFSET :offset"
    )
    rows = query(conn, sql, params)
    assets = _assets(conn, [r["market_id"] for r in rows])
    out = []
    for r in rows:
        outcomes = _outcomes(r["outcomes"], r["outcome_prices"])
        out.append(
            {
                "market_id": r["market_id"],
                "condition_id": r["condition_id"],
                "question": r["question"],
                "slug": r["slug"],
                "event_id": r["event_id"],
                "event_title": r["event_title"],
                "outcomes": outcomes,
                "volume": r["volume"],
                "volume_24h": r["volume_24h"],
                "liquidity": r["liquidity"],
                "best_bid": r["best_bid"],
                "best_ask": r["best_ask"],
                "last_trade_price": r["last_trade_price"],
                "end_date": iso(r["end_ms"]),
                "end_ms": r["end_ms"],
                "status": _status(r, now_ms, closing_soon_ms),
                "closed": bool(r["closed"]),
                "resolution": r["resolution"],
                "winner": _winner(r, outcomes),
                "tags": _json_list.decode(r["tags"]) or [],
                "assets": assets[r["market_id"]],
            }
        )
    return out


# A market whose volume Gamma left out (NULL) ranks after every known volume.
_CONTEXT_ORDER: dict[Bucket, str] = {
    "immediate": "c.end_ms ASC, c.volume DESC NULLS LAST, c.market_id",
    "later": "c.volume DESC NULLS LAST, c.end_ms ASC, c.market_id",
    "recently_closed": "coalesce(c.closed_time_ms, c.end_ms) DESC, c.volume DESC NULLS LAST, "
    "c.market_id",
}


def _compact(r: dict[str, Any], now_ms: int) -> dict[str, Any]:
    outcomes = _outcomes(r["outcomes"], r["outcome_prices"])
    out: dict[str, Any] = {
        "market_id": r["market_id"],
        "question": r["question"],
        "slug": r["slug"],
        "outcomes": outcomes,
        "best_bid": r["best_bid"],
        "best_ask": r["best_ask"],
        "last_trade_price": r["last_trade_price"],
        "volume": r["volume"],
        "volume_24h": r["volume_24h"],
        "end_date": iso(r["end_ms"]),
        "end_ms": r["end_ms"],
        "refreshed_at": iso(r["refreshed_at_ms"]),
    }
    if r["resolution"] == "open":
        out["ends_in_s"] = (r["end_ms"] - now_ms) // 1000 if r["end_ms"] is not None else None
    else:
        closed_ms = r["closed_time_ms"] if r["closed_time_ms"] is not None else r["end_ms"]
        out["closed_at"] = iso(closed_ms)
        out["resolution"] = r["resolution"]
        out["winner"] = _winner(r, outcomes)
    return out


def markets_for_asset(
    conn: apsw.Connection, asset: str, now_ms: int, *, limit: int = 20
) -> dict[str, list[dict[str, Any]]]:
    """The context of one asset: its immediate, later and recently-closed markets."""
    _check_paging(limit, 0)
    out: dict[str, list[dict[str, Any]]] = {}
    for bucket in ("immediate", "later", "recently_closed"):
        table = TABLE_OF[bucket]
        extra = "AND (c.end_ms IS NULL OR c.end_ms > :now) " if bucket != "recently_closed" else ""
        rows = query(
            conn,
            f"SELECT c.* FROM {table} c JOIN polymarket_market_asset_links l "
            f"ON l.market_id = c.market_id WHERE l.asset = :asset {extra}"
            f"ORDER BY {_CONTEXT_ORDER[bucket]} LIMIT :limit",
            {"asset": asset.upper(), "now": now_ms, "limit": limit},
        )
        out[bucket] = [_compact(r, now_ms) for r in rows]
    return out


# --- for the refresh channels ----------------------------------------------------------------


def discovery_has_data(conn: apsw.Connection) -> bool:
    """Whether polymarket/discovery ever finished a run that wrote rows. The writer commits a
    run's rows before its ``ok``, so they are stored. (Markets the immediate channel listed
    for its own horizon are not discovery's output: the later and recently-closed ones are
    not among them.)"""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM ingestion_runs WHERE source = 'polymarket' "
        "AND channel = 'discovery' AND status = 'ok' AND rows_written > 0)"
    ).fetchone()
    return bool(row and row[0])


_CANDIDATES: dict[Bucket, str] = {
    "immediate": "m.closed = 0 AND m.end_ms > :now AND m.end_ms <= :now + :horizon",
    "later": "m.closed = 0 AND (m.end_ms IS NULL OR m.end_ms > :now + :horizon)",
    "recently_closed": "((m.closed = 1 AND coalesce(m.closed_time_ms, m.end_ms) >= :now - :window)"
    " OR (m.closed = 0 AND m.end_ms <= :now AND m.end_ms >= :now - :window))",
}


def _market_row(r: dict[str, Any]) -> PolymarketMarketRow:
    fields = dict(r)
    for name in ("outcomes", "clob_token_ids", "tags"):
        fields[name] = _json_list.decode(fields[name]) or []
    fields["outcome_prices"] = _json_list.decode(fields["outcome_prices"] or "null")
    for name in ("active", "closed", "archived"):
        fields[name] = bool(fields[name])
    return PolymarketMarketRow(**fields)


def placement_candidates(
    conn: apsw.Connection, bucket: Bucket, *, now_ms: int, horizon_ms: int, window_ms: int
) -> list[tuple[str, bool, PolymarketMarketRow | None]]:
    """(market id, linked, stored row) of every market the ``bucket`` channel looks at: the
    linked, unarchived markets whose stored state puts them in the bucket now, plus every
    market already in its table (which may have to move out of it)."""
    cols = ", ".join(f"m.{c}" for c in PolymarketMarketRow.__struct_fields__)
    linked_sql = (
        "EXISTS (SELECT 1 FROM polymarket_market_asset_links l WHERE l.market_id = m.market_id)"
    )
    params = {"now": now_ms, "horizon": horizon_ms, "window": window_ms}
    rows = query(
        conn,
        f"SELECT {cols}, 1 AS linked FROM polymarket_markets m "
        f"WHERE m.archived = 0 AND {linked_sql} AND {_CANDIDATES[bucket]}",
        params,
    )
    seen = {r["market_id"] for r in rows}
    table = TABLE_OF[bucket]
    held = query(
        conn,
        f"SELECT c.market_id AS id, {cols}, {linked_sql} AS linked "
        f"FROM {table} c LEFT JOIN polymarket_markets m ON m.market_id = c.market_id",
    )
    out: list[tuple[str, bool, PolymarketMarketRow | None]] = []
    for r in rows:
        out.append((r["market_id"], True, _market_row(_without(r, "linked"))))
    for r in held:
        if r["id"] in seen:
            continue
        stored = _market_row(_without(r, "linked", "id")) if r["market_id"] is not None else None
        out.append((r["id"], bool(r["linked"]), stored))
    return out


def _without(r: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in keys}
