"""Full-text search on PostgreSQL: the groups of ``storage.search`` as ``to_tsquery('simple',
...)`` terms over the generated ``search_vector`` column (``storage.postgres.ddl``), and the
search queries of Polymarket markets and DefiLlama subjects.

A user's word becomes the lexemes the column holds for it (``lexemes``: folded as
``ddl.search_text`` folds the text), each quoted, so user text is never tsquery syntax:
``'bitcoin':*`` for a prefix, ``<->`` between the words of a phrase (within one column),
``|`` between a group's alternatives, ``&`` between groups. Relevance has bm25's shape with
PostgreSQL's parts: a sum over the query's phrases of the phrase's inverse document frequency
(counted in the table at each search, where FTS5 keeps the counts) times ``ts_rank_cd`` of
the phrase with the column weights of ``storage.search`` (by the labels A-D of the columns'
positions), normalized by the logarithm of the row's length and saturated (``r / (r + 1)``)
where bm25 uses its k1 and b.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from marketmem.storage.models.polymarket import Words
from marketmem.storage.postgres.ddl import SEARCH_LABELS, search_label
from marketmem.storage.reads import Connection

if TYPE_CHECKING:
    from marketmem.storage.search import Phrase, SearchGroup

# ts_rank_cd's normalization: 1 divides by 1 + the logarithm of the row's length in words (bm25
# favours the shorter of two rows with the same hits), 32 turns a rank r into r / (r + 1)
# (bm25 saturates repeated hits).
NORMALIZATION = 1 | 32


def _letter_or_digit(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] == "L" or category == "Nd"


def lexemes(word: str) -> list[str]:
    """The lexemes the search column holds for ``word``: lower-cased, its diacritics removed
    (NFD, then U+0300 to U+036F dropped), split where a character is not a letter or a
    decimal digit (ICU's ``[:alnum:]``)."""
    folded = unicodedata.normalize("NFD", word.lower())
    kept = "".join(
        ch if _letter_or_digit(ch) else " " for ch in folded if not "\u0300" <= ch <= "\u036f"
    )
    return kept.split()


def quote(lexeme: str) -> str:
    """``lexeme`` as a quoted tsquery operand: nothing in it is syntax."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _phrase(words: Words, prefix: bool) -> str | None:
    found = [quote(x) for w in words for x in lexemes(w)]
    if not found:
        return None
    last = ":*" if prefix else ""
    if len(found) == 1:
        return found[0] + last
    # Within one column, as an FTS5 phrase: the column's positions carry its label, and the
    # positions of the next column follow on, so an unlabelled phrase could span the two.
    marks = [""] * (len(found) - 1) + [last]
    return (
        "("
        + " | ".join(
            " <-> ".join(f"{x}{m or ':'}{label}" for x, m in zip(found, marks, strict=True))
            for label in SEARCH_LABELS
        )
        + ")"
    )


def phrase(p: Phrase) -> str | None:
    """The tsquery of ``p`` (None when none of its words holds a letter or a digit)."""
    return _phrase(p.words, p.prefix)


def group_query(group: SearchGroup) -> str | None:
    """The tsquery of ``group``: its phrase, or its alternatives joined by ``|``."""
    options = list(dict.fromkeys(q for q in map(phrase, group.options) if q is not None))
    if not options:
        return None
    return options[0] if len(options) == 1 else "(" + " | ".join(options) + ")"


def tsquery(groups: list[SearchGroup]) -> str | None:
    """Every group, joined by ``&`` (None when a group has no lexeme: nothing matches it)."""
    parts = [group_query(g) for g in groups]
    if any(p is None for p in parts):
        return None
    return " & ".join(p for p in parts if p is not None)


def subject_query(words: Words) -> str | None:
    """Every word of a subject search as a prefix, joined by ``&`` (a word of several lexemes,
    "foo_bar", as a phrase, as FTS5 reads ``"foo_bar"*``)."""
    found = [q for w in words if (q := _phrase((w,), True)) is not None]
    return " & ".join(found) or None


def rank_weights(weights: tuple[float, ...]) -> str:
    """``ts_rank_cd``'s weights array ({D, C, B, A}) for column ``weights`` by position (a
    column from the fourth on has D's: the fourth's), scaled to at most 1."""
    top = max(weights)
    of_label = {search_label(i): w / top for i, w in reversed(list(enumerate(weights)))}
    return "'{" + ", ".join(repr(of_label.get(label, 0.0)) for label in "DCBA") + "}'"


def _query(param: str) -> str:
    return f"to_tsquery('simple', :{param})"


def _relevance(
    params: dict[str, Any],
    table: str,
    alias: str,
    phrases: list[str],
    weights: tuple[float, ...],
) -> tuple[str, str]:
    """The CTEs ``counts`` and ``idf`` (one inverse document frequency per phrase, as FTS5's
    bm25 computes it, at least 1e-6) and the relevance of a row ``alias`` of ``table``,
    negated (lower is better, as bm25 is), binding ``:p0, ...``."""
    counts, idf, scores = [], [], []
    for i, text in enumerate(phrases):
        params[f"p{i}"] = text
        counts.append(
            f"(SELECT count(*) FROM {table} WHERE search_vector @@ {_query(f'p{i}')}) AS n{i}"
        )
        idf.append(f"greatest(ln((total - n{i} + 0.5)::float8 / (n{i} + 0.5)), 1e-6) AS i{i}")
        scores.append(
            f"idf.i{i} * ts_rank_cd({rank_weights(weights)}, {alias}.search_vector, "
            f"{_query(f'p{i}')}, {NORMALIZATION})"
        )
    # Materialized: each count is taken once, not once per reference.
    ctes = (
        f"counts AS MATERIALIZED (SELECT (SELECT count(*) FROM {table}) AS total, "
        f"{', '.join(counts)}), idf AS (SELECT {', '.join(idf)} FROM counts)"
    )
    return ctes, f"-({' + '.join(scores)})"


def _links(params: dict[str, Any], prefix: str, assets: list[str]) -> str:
    """The markets linked to any of ``assets``, binding ``:prefix0, ...``."""
    names = [f"{prefix}{i}" for i in range(len(assets))]
    params.update(zip(names, assets, strict=True))
    marks = ", ".join(f":{n}" for n in names)
    return f"SELECT market_id FROM polymarket_market_asset_links WHERE asset IN ({marks})"


def market_rows(
    conn: Connection,
    select: str,
    *,
    groups: list[SearchGroup] | None,
    filters: list[str],
    params: dict[str, Any],
    weights: tuple[float, ...],
) -> list[tuple[Any, ...]]:
    """``storage.search.market_rows`` on PostgreSQL: ``filters`` (binding ``params`` by
    name) narrow the text and link matches; relevance as this module says (lower is
    better)."""
    where: list[str] = []
    ctes: list[str] = []
    source, named, relevance = "polymarket_markets m", "0", "0"
    if groups:
        query = tsquery(groups)
        if query is None:
            return []
        params["q"] = query
        matches = f"m.search_vector @@ {_query('q')}"
        # Every phrase of the query scores, an alternative of a group as much as a group.
        phrases = [x for g in groups for o in g.options if (x := phrase(o)) is not None]
        idf, score = _relevance(params, "polymarket_markets", "m", phrases, weights)
        ctes.append(idf)
        source += ", idf"
        by_asset = [g for g in groups if g.assets]
        if not by_asset:
            where.append(matches)
            relevance = score
        else:
            # Text matches of the whole query and markets linked to an asset it names, each
            # found by its index; a market found through a link alone has no score.
            links = _links(params, "named", [a for g in by_asset for a in g.assets])
            ctes.append(
                "found AS (SELECT market_id FROM polymarket_markets "
                f"WHERE search_vector @@ {_query('q')} UNION {links})"
            )
            source = "found JOIN polymarket_markets m ON m.market_id = found.market_id, idf"
            named = f"m.market_id IN ({links})"
            relevance = f"CASE WHEN {matches} THEN {score} ELSE 0 END"
            plain = [q for g in groups if not g.assets and (q := group_query(g)) is not None]
            if plain:
                params["plain"] = " & ".join(plain)
                where.append(f"m.search_vector @@ {_query('plain')}")
            if len(by_asset) > 1:  # each asset word by its text or its own links
                for i, g in enumerate(by_asset):
                    params[f"w{i}"] = group_query(g)
                    linked = _links(params, f"w{i}a", list(g.assets))
                    where.append(
                        f"(m.search_vector @@ {_query(f'w{i}')} OR m.market_id IN ({linked}))"
                    )
    where += filters
    sql = (
        (f"WITH {', '.join(ctes)} " if ctes else "")
        + f"SELECT {select}, {named} AS named, {relevance} AS rank FROM {source} "
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
    """``storage.search.subject_rows`` on PostgreSQL: ``filters`` bind ``params`` by name."""
    where = list(filters)
    source, cte = "defillama_subjects s", ""
    order = "lower(s.name), s.kind, s.subject_id"
    if words is not None:
        query = subject_query(words)
        if query is None:
            return []
        params["q"] = query
        where.insert(0, f"s.search_vector @@ {_query('q')}")
        phrases = [q for w in words if (q := _phrase((w,), True)) is not None]
        idf, score = _relevance(params, "defillama_subjects", "s", phrases, weights)
        cte, source = f"WITH {idf} ", source + ", idf"
        order = f"{score}, " + order
    sql = f"{cte}SELECT {select} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} LIMIT :limit OFFSET :offset"
    return list(conn.execute(sql, params))
