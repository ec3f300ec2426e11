"""Full-text search on SQLite (FTS5): the MATCH expressions made of a user's words, and the
search queries of Polymarket markets and DefiLlama subjects.

Every word is quoted (a user cannot write FTS5 syntax), the last one as a prefix. PostgreSQL
will search a generated ``tsvector`` column (``to_tsvector('simple', ...)``) with
``to_tsquery`` terms (``'word':*`` for a prefix, ``|`` between a term's alternatives) and rank
by ``ts_rank`` with the same column weights where FTS5 ranks by bm25.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from marketmem.storage.models.polymarket import Vocabulary, Words
from marketmem.storage.reads import Connection

WORD = re.compile(r"[^\W_]+")


class SearchGroup(msgspec.Struct, frozen=True):
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
    typed = tuple(WORD.findall(q))  # as typed: the FTS5 tokenizer folds case itself
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


# ``closed`` and ``archived`` compare with TRUE/FALSE: a BOOLEAN column on PostgreSQL, and on
# SQLite an equality the (closed, end_ms) index can seek on.
_STATUS = {
    "open": "m.closed = FALSE AND m.archived = FALSE AND (m.end_ms IS NULL OR m.end_ms > :now)",
    "closing_soon": "m.closed = FALSE AND m.archived = FALSE AND m.end_ms > :now "
    "AND m.end_ms <= :soon",
    "closed": "(m.closed = TRUE OR m.end_ms <= :now)",
}


def market_rows(
    conn: Connection,
    select: str,
    *,
    groups: list[SearchGroup] | None,
    asset: str | None,
    status: str | None,
    limit: int,
    offset: int,
    now_ms: int,
    soon_ms: int,
) -> list[tuple[Any, ...]]:
    """The ``select`` columns (of ``polymarket_markets m``) of one page of markets matching
    every group (none: every market), linked to ``asset``, of ``status``; ranked by linked
    to an asset the query names, then text relevance (bm25 over question, title, slug and
    tags; a market matched only by its link comes after every text match), then volume
    (unknown last). The query binds its parameters by name: it is assembled from parts."""
    where: list[str] = []
    params: dict[str, Any] = {"now": now_ms, "soon": soon_ms}
    source, named, relevance, scored = "polymarket_markets m", "0", "0", ""
    if groups:
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
        params["asset"] = asset
        where.append(
            "m.market_id IN (SELECT market_id FROM polymarket_market_asset_links "
            "WHERE asset = :asset)"
        )
    if status is not None:
        where.append(_STATUS[status])
    params.update(limit=limit, offset=offset)
    sql = (
        f"{scored}SELECT {select}, {named} AS named, {relevance} AS rank FROM {source} "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY named DESC, rank, m.volume DESC NULLS LAST, m.market_id "
        "LIMIT :limit OFFSET :offset"
    )
    return list(conn.execute(sql, params))


_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """A user's words as an FTS5 query: every word, as a prefix (None when no word)."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return None
    return " ".join(f'"{t}"*' for t in tokens)


def subject_rows(
    conn: Connection,
    select: str,
    *,
    match: str | None,
    kind: str | None,
    asset: str | None,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """The ``select`` columns (of ``defillama_subjects s``) of one page of subjects matching
    the FTS5 query ``match`` (best match first; None: every subject, by name), of ``kind``,
    linked to ``asset``."""
    where: list[str] = []
    params: list[Any] = []
    joins = ""
    order = "lower(s.name), s.kind, s.subject_id"
    if match is not None:
        joins = "JOIN defillama_subjects_fts f ON f.rowid = s.rowid"
        where.append("defillama_subjects_fts MATCH ?")
        params.append(match)
        order = "f.rank, " + order
    if kind is not None:
        where.append("s.kind = ?")
        params.append(kind)
    if asset is not None:
        where.append(
            "EXISTS (SELECT 1 FROM defillama_subject_assets a WHERE a.kind = s.kind "
            "AND a.subject_id = s.subject_id AND a.asset = ?)"
        )
        params.append(asset)
    sql = f"SELECT {select} FROM defillama_subjects s {joins}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
    params += [limit, offset]
    return list(conn.execute(sql, tuple(params)))
