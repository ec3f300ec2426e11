"""Reads of the Polymarket tables.

For the HTTP API: ``search_markets`` (full-text over question, event title, slug and tags:
``storage.search``; a query word that is an asset's term, "btc", also finds that
asset's other terms, "bitcoin", and its linked markets; ranked by asset, relevance, then
volume) and ``markets_for_asset`` (the immediate / later / recently-closed context of one
asset). For the refresh channels: ``placement_candidates``, the stored markets a channel
must look at, and ``discovery_has_data``, whether there is anything to look at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from marketmem.events import PolymarketMarketRow
from marketmem.storage import search
from marketmem.storage.models.polymarket import (
    AssetMarkets,
    Candidate,
    ContextMarket,
    MarketHit,
    Outcome,
    Vocabulary,
    Words,
)
from marketmem.storage.reads import Connection, scalar
from marketmem.storage.reads.runs import RUNS

STATUSES = ("open", "closing_soon", "closed")
DEFAULT_CLOSING_SOON_MS = 86_400_000
MAX_LIMIT = 100

MARKETS = "polymarket_markets"
LINKS = "polymarket_market_asset_links"
TERMS = "polymarket_asset_terms"
# The markets a refresh channel placed, one table per bucket (the channel that fills it:
# ``sources/polymarket/classify.CHANNEL_OF``).
Bucket = Literal["immediate", "later", "recently_closed", "none"]
TABLE_OF: dict[Bucket, str] = {
    "immediate": "polymarket_immediate_markets",
    "later": "polymarket_later_markets",
    "recently_closed": "polymarket_recently_closed_markets",
}

_json_list = msgspec.json.Decoder(list[str] | None)


def iso(ms: int | None) -> str | None:
    """``ms`` as an ISO 8601 UTC time to the second (``2026-12-02T16:47:23Z``)."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def vocabulary(conn: Connection) -> Vocabulary:
    assets_of: dict[Words, set[str]] = {}
    unambiguous: dict[str, list[Words]] = {}
    for term, asset, ambiguous in conn.execute(
        f"SELECT term, asset, ambiguous FROM {TERMS} ORDER BY asset, term"
    ):
        words = tuple(w.casefold() for w in search.WORD.findall(term))
        if words:
            assets_of.setdefault(words, set()).add(asset)
            if not ambiguous:
                unambiguous.setdefault(asset, []).append(words)
    return Vocabulary(
        assets_of={k: frozenset(v) for k, v in assets_of.items()},
        unambiguous={k: tuple(v) for k, v in unambiguous.items()},
    )


def _outcomes(outcomes: str, prices: str | None) -> list[Outcome]:
    names = _json_list.decode(outcomes) or []
    values = _json_list.decode(prices) if prices else None
    return [
        Outcome(n, float(values[i]) if values and i < len(values) else None)
        for i, n in enumerate(names)
    ]


def _status(closed: Any, end_ms: int | None, now_ms: int, closing_soon_ms: int) -> str:
    if closed or (end_ms is not None and end_ms <= now_ms):
        return "closed"
    if end_ms is not None and end_ms - now_ms <= closing_soon_ms:
        return "closing_soon"
    return "open"


def _winner(resolved_outcome: int | None, outcomes: list[Outcome]) -> str | None:
    i = resolved_outcome
    return outcomes[i].name if i is not None and 0 <= i < len(outcomes) else None


def _assets(conn: Connection, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for market_id, asset in conn.execute(
            f"SELECT market_id, asset FROM {LINKS} "
            f"WHERE market_id IN ({marks}) ORDER BY score DESC, asset",
            tuple(chunk),
        ):
            out[market_id].append(asset)
    return out


def _check_paging(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise ValueError("offset must not be negative")


HIT_COLUMNS = (
    "market_id",
    "condition_id",
    "question",
    "slug",
    "event_id",
    "event_title",
    "outcomes",
    "outcome_prices",
    "volume",
    "volume_24h",
    "liquidity",
    "best_bid",
    "best_ask",
    "last_trade_price",
    "end_ms",
    "closed",
    "resolution",
    "resolved_outcome",
    "tags",
)
_HIT_SELECT = ", ".join(f"m.{c}" for c in HIT_COLUMNS)


def search_markets(
    conn: Connection,
    *,
    q: str | None = None,
    asset: str | None = None,
    status: str | None = None,
    limit: int = 20,
    offset: int = 0,
    now_ms: int,
    closing_soon_ms: int = DEFAULT_CLOSING_SOON_MS,
) -> list[MarketHit]:
    """Markets matching ``q`` (every word; the last as a prefix; a word that is an asset's
    term also matches its other terms and its linked markets, see ``search_groups``), ranked
    by: linked to an asset ``q`` names, then text relevance (bm25 over question, title, slug
    and tags; a market matched only by its link comes after every text match), then volume
    (unknown last); by volume alone without ``q``. Filtered by linked ``asset`` and
    ``status`` (open / closing_soon / closed; closed includes markets past their end date).
    Raises ValueError for a bad status, limit, offset or query."""
    _check_paging(limit, offset)
    groups = search.search_groups(q, vocabulary(conn)) if q is not None and q.strip() else None
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    rows = search.market_rows(
        conn,
        _HIT_SELECT,
        groups=groups,
        asset=asset.upper() if asset else None,
        status=status,
        limit=limit,
        offset=offset,
        now_ms=now_ms,
        soon_ms=now_ms + closing_soon_ms,
    )
    assets = _assets(conn, [r[0] for r in rows])
    out = []
    for row in rows:
        r = dict(zip(HIT_COLUMNS, row, strict=False))  # then named, rank
        outcomes = _outcomes(r["outcomes"], r["outcome_prices"])
        out.append(
            MarketHit(
                market_id=r["market_id"],
                condition_id=r["condition_id"],
                question=r["question"],
                slug=r["slug"],
                event_id=r["event_id"],
                event_title=r["event_title"],
                outcomes=outcomes,
                volume=r["volume"],
                volume_24h=r["volume_24h"],
                liquidity=r["liquidity"],
                best_bid=r["best_bid"],
                best_ask=r["best_ask"],
                last_trade_price=r["last_trade_price"],
                end_date=iso(r["end_ms"]),
                end_ms=r["end_ms"],
                status=_status(r["closed"], r["end_ms"], now_ms, closing_soon_ms),
                closed=bool(r["closed"]),
                resolution=r["resolution"],
                winner=_winner(r["resolved_outcome"], outcomes),
                tags=_json_list.decode(r["tags"]) or [],
                assets=assets[r["market_id"]],
            )
        )
    return out


# A market whose volume Gamma left out (NULL) ranks after every known volume, and one without
# an end (or close) time after every known one. Every NULL's place is said: SQLite puts NULL
# first in ascending order and last in descending, PostgreSQL the other way round.
_CONTEXT_ORDER: dict[Bucket, str] = {
    "immediate": "c.end_ms ASC NULLS LAST, c.volume DESC NULLS LAST, c.market_id",
    "later": "c.volume DESC NULLS LAST, c.end_ms ASC NULLS LAST, c.market_id",
    "recently_closed": "coalesce(c.closed_time_ms, c.end_ms) DESC NULLS LAST, "
    "c.volume DESC NULLS LAST, c.market_id",
}
CONTEXT_COLUMNS = (
    "market_id",
    "question",
    "slug",
    "outcomes",
    "outcome_prices",
    "best_bid",
    "best_ask",
    "last_trade_price",
    "volume",
    "volume_24h",
    "end_ms",
    "closed_time_ms",
    "resolution",
    "resolved_outcome",
    "refreshed_at_ms",
)
_CONTEXT_SELECT = ", ".join(f"c.{c}" for c in CONTEXT_COLUMNS)


def _compact(row: tuple[Any, ...], now_ms: int) -> ContextMarket:
    r = dict(zip(CONTEXT_COLUMNS, row, strict=True))
    outcomes = _outcomes(r["outcomes"], r["outcome_prices"])
    base = ContextMarket(
        market_id=r["market_id"],
        question=r["question"],
        slug=r["slug"],
        outcomes=outcomes,
        best_bid=r["best_bid"],
        best_ask=r["best_ask"],
        last_trade_price=r["last_trade_price"],
        volume=r["volume"],
        volume_24h=r["volume_24h"],
        end_date=iso(r["end_ms"]),
        end_ms=r["end_ms"],
        refreshed_at=iso(r["refreshed_at_ms"]),
    )
    end_ms: int | None = r["end_ms"]
    if r["resolution"] == "open":
        ends_in_s = (end_ms - now_ms) // 1000 if end_ms is not None else None
        return msgspec.structs.replace(base, ends_in_s=ends_in_s)
    closed_ms = r["closed_time_ms"] if r["closed_time_ms"] is not None else end_ms
    return msgspec.structs.replace(
        base,
        closed_at=iso(closed_ms),
        resolution=r["resolution"],
        winner=_winner(r["resolved_outcome"], outcomes),
    )


def markets_for_asset(
    conn: Connection, asset: str, now_ms: int, *, limit: int = 20
) -> AssetMarkets:
    """The context of one asset: its immediate, later and recently-closed markets."""
    _check_paging(limit, 0)
    out: dict[str, list[ContextMarket]] = {}
    for bucket in ("immediate", "later", "recently_closed"):
        table = TABLE_OF[bucket]
        params: tuple[Any, ...] = (asset.upper(), limit)
        extra = ""
        if bucket != "recently_closed":
            extra = "AND (c.end_ms IS NULL OR c.end_ms > ?) "
            params = (asset.upper(), now_ms, limit)
        rows = conn.execute(
            f"SELECT {_CONTEXT_SELECT} FROM {table} c JOIN {LINKS} l "
            f"ON l.market_id = c.market_id WHERE l.asset = ? {extra}"
            f"ORDER BY {_CONTEXT_ORDER[bucket]} LIMIT ?",
            params,
        )
        out[bucket] = [_compact(r, now_ms) for r in rows]
    return AssetMarkets(
        immediate=out["immediate"], later=out["later"], recently_closed=out["recently_closed"]
    )


# --- for the refresh channels ----------------------------------------------------------------


def discovery_has_data(conn: Connection) -> bool:
    """Whether polymarket/discovery ever finished a run that wrote rows. The writer commits a
    run's rows before its ``ok``, so they are stored. (Markets the immediate channel listed
    for its own horizon are not discovery's output: the later and recently-closed ones are
    not among them.)"""
    found = scalar(
        conn,
        f"SELECT 1 FROM {RUNS} WHERE source = 'polymarket' AND channel = 'discovery' "
        "AND status = 'ok' AND rows_written > 0 LIMIT 1",
    )
    return found is not None


# Each condition binds (now, horizon) or (now, window) where it says ``?``, in order.
_CANDIDATES: dict[Bucket, tuple[str, tuple[str, ...]]] = {
    "immediate": (
        "m.closed = FALSE AND m.end_ms > ? AND m.end_ms <= ? + ?",
        ("now", "now", "horizon"),
    ),
    "later": (
        "m.closed = FALSE AND (m.end_ms IS NULL OR m.end_ms > ? + ?)",
        ("now", "horizon"),
    ),
    "recently_closed": (
        "((m.closed = TRUE AND coalesce(m.closed_time_ms, m.end_ms) >= ? - ?)"
        " OR (m.closed = FALSE AND m.end_ms <= ? AND m.end_ms >= ? - ?))",
        ("now", "window", "now", "now", "window"),
    ),
}
_MARKET_FIELDS = PolymarketMarketRow.__struct_fields__
_MARKET_SELECT = ", ".join(f"m.{c}" for c in _MARKET_FIELDS)
_LINKED = f"EXISTS (SELECT 1 FROM {LINKS} l WHERE l.market_id = m.market_id)"


def _market_row(row: tuple[Any, ...]) -> PolymarketMarketRow:
    fields = dict(zip(_MARKET_FIELDS, row, strict=True))
    for name in ("outcomes", "clob_token_ids", "tags"):
        fields[name] = _json_list.decode(fields[name]) or []
    fields["outcome_prices"] = _json_list.decode(fields["outcome_prices"] or "null")
    for name in ("active", "closed", "archived"):
        fields[name] = bool(fields[name])
    return PolymarketMarketRow(**fields)


def placement_candidates(
    conn: Connection, bucket: Bucket, *, now_ms: int, horizon_ms: int, window_ms: int
) -> list[Candidate]:
    """Every market the ``bucket`` channel looks at: the linked, unarchived markets whose
    stored state puts them in the bucket now, plus every market already in its table (which
    may have to move out of it)."""
    condition, names = _CANDIDATES[bucket]
    values = {"now": now_ms, "horizon": horizon_ms, "window": window_ms}
    rows = conn.execute(
        f"SELECT {_MARKET_SELECT} FROM {MARKETS} m "
        f"WHERE m.archived = FALSE AND {_LINKED} AND {condition}",
        tuple(values[n] for n in names),
    ).fetchall()
    out: list[Candidate] = []
    for r in rows:
        market = _market_row(r)
        out.append(Candidate(market.market_id, True, market))
    seen = {c.market_id for c in out}
    held = conn.execute(
        f"SELECT c.market_id, {_LINKED}, {_MARKET_SELECT} "
        f"FROM {TABLE_OF[bucket]} c LEFT JOIN {MARKETS} m ON m.market_id = c.market_id"
    )
    for market_id, linked, *market in held:
        if market_id in seen:
            continue
        stored = _market_row(tuple(market)) if market[0] is not None else None
        out.append(Candidate(market_id, bool(linked), stored))
    return out
