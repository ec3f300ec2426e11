"""Linking markets to tracked assets: the terms file and the pure matching function.

A term matches case-insensitively on word boundaries in the question, the event title, the
slugs and the tags; a term inside one of its asset's false friends ("sol campbell", "ethereum
classic", "department of government efficiency") never counts. A market gets at most one link
per asset: its best match.

An ambiguous term ("sol", "hype", "link", "avalanche") counts only on evidence of its own
asset, never on another asset's: "the hype around Bitcoin ETFs" links BTC alone. One of these
is enough, for one occurrence of the term:

1. the asset has an unambiguous term anywhere in the market ("Solana", "SOL");
2. a price question around it: the term followed by a price verb and a dollar amount or an
   all-time high ("SOL reach $300", "HYPE above $50", "LINK to be above $25", "ETH hit a new
   all-time high"; in a slug the amount has no "$": "sol-above-200"), by "up or down", or by
   or after "flip" / "outperform" / "overtake"; or "price of SOL", "what price will SOL hit";
3. a context word right after it ("SOL ETF", "SUI token");
4. the term written as a ticker (in capitals in prose, "$DOGE", or a tag of its own) together
   with crypto context for it: a crypto tag, an exchange listing ("list HYPE", "HYPE listed"),
   or a context word at most three words away with no other asset's term in between.

The question and title keep their case for rule 4; "the crypto hype" stays a word.
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


def _pattern(phrase: str, *, plural: bool = False) -> re.Pattern[str]:
    """Whole words, any case, any run of separators between them (``all-time high`` = ``all
    time high``); ``plural`` also takes an ``s`` on the last word (``etf`` matches ``ETFs``)."""
    words = [re.escape(w) for w in re.split(r"[^\w]+|_", phrase.casefold()) if w]
    if not words:
        raise ValueError(f"empty term {phrase!r}")
    suffix = "s?" if plural else ""
    body = r"[\W_]+".join(words)
    return re.compile(rf"(?<![^\W_]){body}{suffix}(?![^\W_])", re.IGNORECASE)


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
        context=tuple(_pattern(w, plural=True) for w in data.context_words),
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


@dataclass(frozen=True)
class _Hit:
    """One occurrence of one asset's term in one field (outside that asset's false friends)."""

    asset: str
    term: str
    ambiguous: bool
    start: int
    end: int


_SEP = r"[\W_]+"
_VERBS = (
    r"(?:reach|reaches|hit|hits|above|below|over|under|at|surpass|surpasses|exceed|exceeds"
    r"|break|breaks|top|tops|dip|dips|drop|drops|fall|falls|rise|rises|climb|climbs|crash"
    r"|crashes|sink|sinks)"
)
_LEAD = (
    r"(?:will|to|be|is|price|token|coin|trade|trades|close|closes|stay|stays|go|goes|finish"
    r"|finishes|end|ends)"
)
_ATH = rf"(?:a{_SEP})?(?:new{_SEP})?(?:all{_SEP}time{_SEP}high|ath)(?![^\W_])"
_COMPARE = r"(?:flip|flips|flipping|flippens?|outperform|outperforms|overtake|overtakes)"


def _price_after(amount: str) -> re.Pattern[str]:
    """What follows a term in a price question: ``[lead words] verb [to|above|...] amount``."""
    return re.compile(
        rf"(?:['’]s)?(?:{_SEP}{_LEAD}){{0,3}}{_SEP}{_VERBS}"
        rf"(?:{_SEP}(?:to|below|above|under|over))?{_SEP}(?:{amount}|{_ATH})",
        re.IGNORECASE,
    )


# A coin's price: a dollar amount in prose (a slug drops the "$"), not billions or trillions
# ("DOGE hit $2 trillion in cuts" is the department's savings).
_NOT_A_PRICE = r"(?![\d,.]*[\W_]?(?:b|bn|billion|billions|t|tn|trillion|trillions)(?![^\W_]))"
_PRICE_AFTER = {
    "prose": _price_after(rf"\$\s?\d{_NOT_A_PRICE}"),
    "slug": _price_after(rf"\$?\d{_NOT_A_PRICE}"),
}
_FORM_AFTER = re.compile(
    rf"{_SEP}(?:up{_SEP}or{_SEP}down|updown|{_COMPARE})(?![^\W_])", re.IGNORECASE
)
_FORM_BEFORE = re.compile(
    rf"(?<![^\W_])(?:price{_SEP}(?:(?:of|will|does){_SEP})?(?:the{_SEP})?|{_COMPARE}{_SEP})$",
    re.IGNORECASE,
)
_LISTED_AFTER = re.compile(
    rf"{_SEP}(?:(?:be|is|get|gets){_SEP})?(?:listed|delisted|listing)(?![^\W_])", re.IGNORECASE
)
_LIST_BEFORE = re.compile(
    rf"(?<![^\W_])(?:list|lists|listing|delist|delists){_SEP}$", re.IGNORECASE
)
_WORD = re.compile(r"[^\W_]+")
CONTEXT_WINDOW_WORDS = 3


def _fields(text: MarketText) -> dict[str, str]:
    return {
        "question": text.question,
        "title": text.title,
        "tags": " | ".join(text.tags),
        "slug": " | ".join(text.slugs),
    }


def _spans(pattern: re.Pattern[str], s: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(s)]


def _hits(asset: AssetTerms, field_text: str) -> list[_Hit]:
    """Every occurrence of ``asset``'s terms in ``field_text`` outside its false friends."""
    blocked = [span for ff in asset.false_friends for span in _spans(ff, field_text)]
    return [
        _Hit(asset.asset, term, term in asset.ambiguous, start, end)
        for term, pattern in asset.terms
        for start, end in _spans(pattern, field_text)
        if not any(b0 <= start and end <= b1 for b0, b1 in blocked)
    ]


def has_crypto_tag(terms: Terms, tags: tuple[str, ...]) -> bool:
    return any(t.casefold() in terms.crypto_tags for t in tags)


def _written_as_ticker(field: str, s: str, hit: _Hit) -> bool:
    """``SOL`` in mixed-case prose, ``$SOL`` anywhere, or a tag that is the term itself."""
    if hit.start > 0 and s[hit.start - 1] == "$":
        return True
    if field == "tags":
        whole_start = hit.start == 0 or s[: hit.start].endswith("| ")
        return whole_start and (hit.end == len(s) or s[hit.end :].startswith(" |"))
    word = s[hit.start : hit.end]
    return field != "slug" and word.isupper() and any(c.islower() for c in s)


def _gap_words(s: str, a: int, b: int) -> int:
    return len(_WORD.findall(s[a:b]))


def _context_near(terms: Terms, s: str, hit: _Hit, others: list[_Hit]) -> tuple[bool, bool]:
    """(a context word right after the term, one within the window with no other asset's
    term in between)."""
    adjacent = near = False
    for pattern in terms.context:
        for c0, c1 in _spans(pattern, s):
            a, b = (hit.end, c0) if c0 >= hit.end else (c1, hit.start)
            if a > b or "|" in s[a:b]:  # overlaps the term, or in another tag or slug
                continue
            if c0 >= hit.end and _WORD.search(s[a:b]) is None:
                adjacent = True
            if _gap_words(s, a, b) <= CONTEXT_WINDOW_WORDS and not any(
                a <= o.start and o.end <= b for o in others
            ):
                near = True
    return adjacent, near


def _own_evidence(
    terms: Terms, field: str, s: str, hit: _Hit, others: list[_Hit], crypto: bool
) -> bool:
    """Whether an ambiguous term's occurrence has evidence of its own asset (rules 2 to 4 of
    the module docstring)."""
    after, before = s[hit.end :], s[: hit.start]
    if field in ("question", "title", "slug"):
        price = _PRICE_AFTER["slug" if field == "slug" else "prose"]
        if price.match(after) or _FORM_AFTER.match(after) or _FORM_BEFORE.search(before):
            return True
    adjacent, near = _context_near(terms, s, hit, others)
    if adjacent:
        return True
    if not _written_as_ticker(field, s, hit):
        return False
    listed = _LIST_BEFORE.search(before) is not None or _LISTED_AFTER.match(after) is not None
    return crypto or listed or near


def match_market(terms: Terms, text: MarketText) -> list[Match]:
    """Every tracked asset the market is about, with its best term, field and score."""
    fields = {name: s for name, s in _fields(text).items() if s}
    crypto_tag = has_crypto_tag(terms, text.tags)
    hits = {name: [h for a in terms.assets for h in _hits(a, s)] for name, s in fields.items()}
    unambiguous = {h.asset for found in hits.values() for h in found if not h.ambiguous}
    score_bonus = CRYPTO_TAG_BONUS if crypto_tag else 0.0
    best: dict[str, Match] = {}
    for field in FIELD_ORDER:
        s = fields.get(field)
        if s is None:
            continue
        for hit in hits[field]:
            if hit.ambiguous and hit.asset not in unambiguous:
                others = [o for o in hits[field] if o.asset != hit.asset]
                if not _own_evidence(terms, field, s, hit, others, crypto_tag):
                    continue
            score = round(min(1.0, FIELD_WEIGHTS[field] + score_bonus), 3)
            found = best.get(hit.asset)
            if found is None or score > found.score:
                best[hit.asset] = Match(hit.asset, hit.term, field, score)
    return [best[a.asset] for a in terms.assets if a.asset in best]
