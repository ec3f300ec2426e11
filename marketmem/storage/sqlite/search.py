"""Full-text search on SQLite (FTS5): the groups of ``storage.search`` as MATCH expressions,
and the search queries of Polymarket markets and DefiLlama subjects.

Every phrase is quoted (a user cannot write FTS5 syntax), a prefix marked ``*``; a group's
alternatives are joined by OR, groups by AND. The ``unicode61`` tokenizer folds case and
diacritics and splits at every character that is not a letter or a digit. Relevance is bm25
with the column weights ``storage.search`` gives (FTS5 weighs by column position too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marketmem.storage.models.polymarket import Words
from marketmem.storage.reads import Connection

if TYPE_CHECKING:
    from marketmem.storage.search import Phrase, SearchGroup


def phrase(p: Phrase) -> str:
    return '"' + " ".join(p.words) + '"' + ("*" if p.prefix else "")


def match(group: SearchGroup) -> str:
    """The FTS5 expression of ``group``: its phrase, or its alternatives OR'ed."""
    options = [phrase(p) for p in group.options]
    return options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")"


def subject_match(words: Words) -> str:
    """Every word of a subject search, quoted, as a prefix (FTS5's implicit AND)."""
    return " ".join(f'"{w}"*' for w in words)


def _bm25(table: str, weights: tuple[float, ...]) -> str:
    return f"bm25({table}, {', '.join(repr(w) for w in weights)})"


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


def market_rows(
    conn: Connection,
    select: str,
    *,
    groups: list[SearchGroup] | None,
    filters: list[str],
    params: dict[str, Any],
    weights: tuple[float, ...],
) -> list[tuple[Any, ...]]:
    """``storage.search.market_rows`` on SQLite: ``filters`` (binding ``params`` by name)
    narrow the text and link matches; relevance is bm25 (lower is better)."""
    where: list[str] = []
    source, named, relevance, scored = "polymarket_markets m", "0", "0", ""
    if groups:
        params["q"] = " AND ".join(match(g) for g in groups)  # every group, in the text
        fts = _bm25("polymarket_markets_fts", weights)
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
            plain = [match(g) for g in groups if not g.assets]
            if plain:
                params["plain"] = " AND ".join(plain)
                where.append(f"m.rowid IN ({_TEXT_MATCH.format(param='plain')})")
            if len(by_asset) > 1:  # each asset word by its text or its own links
                for i, g in enumerate(by_asset):
                    params[f"w{i}"] = match(g)
                    text = _TEXT_MATCH.format(param=f"w{i}")
                    linked = _linked_to(params, f"w{i}a", list(g.assets))
                    where.append(f"(m.rowid IN ({text}) OR {linked})")
    where += filters
    sql = (
        f"{scored}SELECT {select}, {named} AS named, {relevance} AS rank FROM {source} "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY named DESC, rank, m.volume DESC NULLS LAST, m.market_id "
        "LIMIT :limit OFFSET :offset"
    )
    return list(conn.execute(sql, params))


def subject_rows(
    conn: Connection,
    select: str,
    *,
    words: Words | None,
    filters: list[str],
    params: dict[str, Any],
    weights: tuple[float, ...],
) -> list[tuple[Any, ...]]:
    """``storage.search.subject_rows`` on SQLite: ``filters`` bind ``params`` by name."""
    where = list(filters)
    joins = ""
    order = "lower(s.name), s.kind, s.subject_id"
    if words is not None:
        joins = "JOIN defillama_subjects_fts f ON f.rowid = s.rowid"
        where.insert(0, "defillama_subjects_fts MATCH :q")
        params["q"] = subject_match(words)
        order = f"{_bm25('defillama_subjects_fts', weights)}, " + order
    sql = f"SELECT {select} FROM defillama_subjects s {joins}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} LIMIT :limit OFFSET :offset"
    return list(conn.execute(sql, params))
