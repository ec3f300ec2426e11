"""Linking markets to tracked assets: the terms file and the pure matching function.

A term matches case-insensitively on word boundaries in the question, the event title, the
slugs and the tags. Ambiguous terms ("sol", "doge", "hype") count only in a crypto context;
a term inside a known false friend ("sol campbell", "department of government efficiency")
never counts. A market gets at most one link per asset: its best match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

# Field weights of a match; a crypto tag adds CRYPTO_TAG_BONUS (the score is capped at 1).
FIELD_WEIGHTS: dict[str, float] = {"question": 0.7, "title": 0.6, "tags": 0.5, "slug": 0.4}
FIELD_ORDER = ("question", "title", "tags", "slug")
CRYPTO_TAG_BONUS = 0.3


class TermsError(Exception):
    """The terms file cannot be used; the message names the file and the problem."""

    expected = True


class _AssetEntry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    terms: list[str]
    ambiguous: list[str] = []
    false_friends: list[str] = []


class _TermsFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    crypto_tags: list[str] = []
    context_words: list[str] = []
    assets: dict[str, _AssetEntry] = {}


def _pattern(phrase: str) -> re.Pattern[str]:
    """Whole words, any run of separators between them (``all-time high`` = ``all time high``)."""
    words = [re.escape(w) for w in re.split(r"[^\w]+|_", phrase.casefold()) if w]
    if not words:
        raise ValueError(f"empty term {phrase!r}")
    return re.compile(r"(?<![^\W_])" + r"[\W_]+".join(words) + r"(?![^\W_])")


@dataclass(frozen=True)
class AssetTerms:
    asset: str
    terms: tuple[tuple[str, re.Pattern[str]], ...]
    ambiguous: frozenset[str]
    false_friends: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Terms:
    assets: tuple[AssetTerms, ...]
    crypto_tags: frozenset[str]
    context: tuple[re.Pattern[str], ...]

    @property
    def asset_names(self) -> tuple[str, ...]:
        return tuple(a.asset for a in self.assets)


def build_terms(
    assets: dict[str, dict[str, list[str]]],
    *,
    crypto_tags: Iterable[str] = (),
    context_words: Iterable[str] = (),
) -> Terms:
    """Terms from plain data: ``{"BTC": {"terms": [...], "ambiguous": [...], ...}}``."""
    entries = {k: msgspec.convert(v, _AssetEntry) for k, v in assets.items()}
    return _compile(
        _TermsFile(crypto_tags=list(crypto_tags), context_words=list(context_words), assets=entries)
    )


def _compile(data: _TermsFile) -> Terms:
    out = []
    for asset, entry in data.assets.items():
        if not entry.terms:
            raise ValueError(f"asset {asset} has no terms")
        terms = tuple((t.casefold(), _pattern(t)) for t in entry.terms)
        ambiguous = frozenset(t.casefold() for t in entry.ambiguous)
        unknown = ambiguous - {t for t, _ in terms}
        if unknown:
            raise ValueError(f"asset {asset}: ambiguous {sorted(unknown)} not among its terms")
        out.append(
            AssetTerms(
                asset=asset.upper(),
                terms=terms,
                ambiguous=ambiguous,
                false_friends=tuple(_pattern(f) for f in entry.false_friends),
            )
        )
    return Terms(
        assets=tuple(out),
        crypto_tags=frozenset(t.casefold() for t in data.crypto_tags),
        context=tuple(_pattern(w) for w in data.context_words),
    )


def load_terms(path: Path) -> Terms:
    """Read and compile the terms file; a bad file raises TermsError naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TermsError(f"{path}: cannot read terms file: {exc.strerror or exc}") from None
    try:
        data = msgspec.toml.decode(raw, type=_TermsFile)
        return _compile(data)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise TermsError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class MarketText:
    """The text of a market that matching looks at."""

    question: str
    title: str = ""
    slugs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # tag slugs and labels


@dataclass(frozen=True)
class Match:
    asset: str
    term: str
    field: str
    score: float


def _fields(text: MarketText) -> dict[str, str]:
    return {
        "question": text.question.casefold(),
        "title": text.title.casefold(),
        "tags": " | ".join(text.tags).casefold(),
        "slug": " | ".join(text.slugs).casefold(),
    }


def _spans(pattern: re.Pattern[str], s: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(s)]


def _hits(asset: AssetTerms, field_text: str) -> list[str]:
    """Terms of ``asset`` found in ``field_text`` outside every false friend."""
    blocked = [span for ff in asset.false_friends for span in _spans(ff, field_text)]
    found = []
    for term, pattern in asset.terms:
        for start, end in _spans(pattern, field_text):
            if not any(b0 <= start and end <= b1 for b0, b1 in blocked):
                found.append(term)
                break
    return found


def has_crypto_tag(terms: Terms, tags: tuple[str, ...]) -> bool:
    return any(t.casefold() in terms.crypto_tags for t in tags)


def match_market(terms: Terms, text: MarketText) -> list[Match]:
    """Every tracked asset the market is about, with its best term, field and score."""
    fields = _fields(text)
    crypto_tag = has_crypto_tag(terms, text.tags)
    hits = {
        asset.asset: {name: _hits(asset, s) for name, s in fields.items() if s}
        for asset in terms.assets
    }
    unambiguous_anywhere = any(
        term not in asset.ambiguous
        for asset in terms.assets
        for found in hits[asset.asset].values()
        for term in found
    )
    context = (
        crypto_tag
        or unambiguous_anywhere
        or any(p.search(s) for p in terms.context for s in fields.values() if s)
    )
    out = []
    for asset in terms.assets:
        best: Match | None = None
        for field in FIELD_ORDER:
            for term in hits[asset.asset].get(field, []):
                if term in asset.ambiguous and not context:
                    continue
                score = min(1.0, FIELD_WEIGHTS[field] + (CRYPTO_TAG_BONUS if crypto_tag else 0.0))
                if best is None or score > best.score:
                    best = Match(asset.asset, term, field, round(score, 3))
        if best is not None:
            out.append(best)
    return out
