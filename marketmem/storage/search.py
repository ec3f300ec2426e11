"""Full-text search of Polymarket markets and DefiLlama subjects, whatever the engine.

What a user's words mean is decided here, once: the groups every market must match
(``search_groups``: a word that is an asset's term also matches its other terms and its linked
markets), the words of a subject search (``subject_words``, each a prefix), the column weights
of relevance, and the filters. Each engine turns the words into its own query syntax, quoted so
that user text is never syntax, and ranks with the same column weights:
``storage.sqlite.search`` (an FTS5 MATCH, bm25) and ``storage.postgres.search``
(``to_tsquery('simple', ...)`` on a generated ``tsvector``, ``ts_rank``).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from marketmem.storage.engine import Connection
from marketmem.storage.models.polymarket import Vocabulary, Words
from marketmem.storage.postgres import search as postgres
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.sqlite import search as sqlite

# A word as FTS5's unicode61 sees one: a run of letters and digits.
WORD = re.compile(r"[^\W_]+")

# Relevance weights by searched column, in the order the table's ``Search`` declares them:
# question, event title, slug, tags (polymarket_markets); DefiLlama's name, symbol and slug
# weigh the same.
MARKET_WEIGHTS = (4.0, 2.0, 1.0, 1.0)
SUBJECT_WEIGHTS = (1.0, 1.0, 1.0)


class Phrase(msgspec.Struct, frozen=True):
    """Words that must follow each other, as typed (each engine folds case itself); with
    ``prefix`` the last word is a prefix."""

    words: Words
    prefix: bool = False


class SearchGroup(msgspec.Struct, frozen=True):
    """Words of a query that must match together: any of ``options``, or (when the words are
    one of their terms) a market linked to one of ``assets``."""

    options: tuple[Phrase, ...]
    assets: tuple[str, ...] = ()


def search_groups(q: str, vocab: Vocabulary) -> list[SearchGroup]:
    """The groups every match of ``q`` must satisfy, one per word, the last as a prefix. A
    word, or a run of words, that is a term of an asset ("btc", "binance coin") matches that
    asset's unambiguous terms too, and the markets linked to it: ``btc`` finds what
    ``bitcoin`` finds, and ``sol`` what ``solana`` finds. Raises ValueError without words."""
    typed = tuple(WORD.findall(q))
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
        options = [Phrase(typed[i : i + n], prefix=last)]
        options += [Phrase(t) for a in assets for t in vocab.unambiguous.get(a, ()) if t != run]
        groups.append(SearchGroup(tuple(dict.fromkeys(options)), assets))
        i += n
    return groups


# A word of a subject search: an underscore joins ("foo_bar" is the phrase "foo bar").
SUBJECT_WORD = re.compile(r"\w+")


def subject_words(text: str) -> Words | None:
    """The words of a subject search, each matched as a prefix (None when there is none)."""
    return tuple(SUBJECT_WORD.findall(text)) or None


# ``closed`` and ``archived`` compare with TRUE/FALSE: a BOOLEAN column on PostgreSQL, and on
# SQLite an equality the (closed, end_ms) index can seek on.
STATUS = {
    "open": "m.closed = FALSE AND m.archived = FALSE AND (m.end_ms IS NULL OR m.end_ms > :now)",
    "closing_soon": "m.closed = FALSE AND m.archived = FALSE AND m.end_ms > :now "
    "AND m.end_ms <= :soon",
    "closed": "(m.closed = TRUE OR m.end_ms <= :now)",
}
_LINKED_TO_ASSET = (
    "m.market_id IN (SELECT market_id FROM polymarket_market_asset_links WHERE asset = :asset)"
)


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
    every group (none: every market), linked to ``asset``, of ``status``; then the columns
    ``named`` and ``rank``. Ranked by linked to an asset the query names, then text
    relevance (``MARKET_WEIGHTS``; a market matched only by its link comes after every text
    match), then volume (unknown last), then id."""
    params: dict[str, Any] = {"now": now_ms, "soon": soon_ms}
    filters: list[str] = []
    if asset:
        params["asset"] = asset
        filters.append(_LINKED_TO_ASSET)
    if status is not None:
        filters.append(STATUS[status])
    params.update(limit=limit, offset=offset)
    rows = postgres.market_rows if isinstance(conn, PostgresConnection) else sqlite.market_rows
    return rows(conn, select, groups=groups, filters=filters, params=params, weights=MARKET_WEIGHTS)


def subject_rows(
    conn: Connection,
    select: str,
    *,
    words: Words | None,
    kind: str | None,
    asset: str | None,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """The ``select`` columns (of ``defillama_subjects s``) of one page of subjects matching
    every one of ``words`` as a prefix (best match first; None: every subject, by name), of
    ``kind``, linked to ``asset``."""
    filters: list[str] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if kind is not None:
        filters.append("s.kind = :kind")
        params["kind"] = kind
    if asset is not None:
        filters.append(
            "EXISTS (SELECT 1 FROM defillama_subject_assets a WHERE a.kind = s.kind "
            "AND a.subject_id = s.subject_id AND a.asset = :asset)"
        )
        params["asset"] = asset
    rows = postgres.subject_rows if isinstance(conn, PostgresConnection) else sqlite.subject_rows
    return rows(conn, select, words=words, filters=filters, params=params, weights=SUBJECT_WEIGHTS)
