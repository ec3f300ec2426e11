"""The asset category taxonomy: a TOML file in config/ mapping categories to perp names.

Pure parsing and matching, apart from reading the file. Coins no category names fall into the
built-in ``uncategorized`` category, and the caller reports how many there are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import msgspec

from marketmem.config import ROOT

UNCATEGORIZED_ID = "uncategorized"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class CategorySpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    label: str
    description: str = ""
    coins: list[str] = msgspec.field(default_factory=list)


class _TaxonomyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    category: list[CategorySpec] = msgspec.field(default_factory=list)


UNCATEGORIZED = CategorySpec(
    id=UNCATEGORIZED_ID,
    label="Uncategorized",
    description="Perps the taxonomy file does not name (yet).",
)


class TaxonomyError(Exception):
    """A taxonomy file that cannot be used; fails the registry run with this message."""

    expected = True


def resolve_path(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def parse_taxonomy(text: str, *, source: str = "<string>") -> list[CategorySpec]:
    """The categories of a taxonomy file, in file order, plus ``uncategorized`` last."""
    try:
        doc = msgspec.toml.decode(text.encode(), type=_TaxonomyFile)
    except msgspec.ValidationError as exc:
        raise TaxonomyError(f"{source}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise TaxonomyError(f"{source}: not valid TOML: {exc}") from None
    seen: set[str] = set()
    for cat in doc.category:
        if not _ID_RE.match(cat.id):
            raise TaxonomyError(f"{source}: category id {cat.id!r}: use lowercase a-z, 0-9, _")
        if cat.id == UNCATEGORIZED_ID:
            raise TaxonomyError(f"{source}: {UNCATEGORIZED_ID!r} is built in; do not declare it")
        if cat.id in seen:
            raise TaxonomyError(f"{source}: category {cat.id!r} declared twice")
        seen.add(cat.id)
    return [*doc.category, UNCATEGORIZED]


def load_taxonomy(path: str | Path) -> list[CategorySpec]:
    p = resolve_path(str(path))
    try:
        text = p.read_text()
    except OSError as exc:
        raise TaxonomyError(f"{p}: cannot read taxonomy: {exc.strerror or exc}") from None
    return parse_taxonomy(text, source=str(p))


@dataclass(frozen=True)
class Categorization:
    links: list[tuple[str, str]]  # (coin, category_id), coins in the order given
    uncategorized: list[str]
    # Names the file lists that are not in the universe (stale or misspelled entries).
    unknown: list[str]


def categorize(taxonomy: list[CategorySpec], coins: list[str]) -> Categorization:
    """Map every coin to its categories; coins no category names get ``uncategorized``."""
    by_coin: dict[str, list[str]] = {}
    named: set[str] = set()
    for cat in taxonomy:
        for coin in cat.coins:
            named.add(coin)
            ids = by_coin.setdefault(coin, [])
            if cat.id not in ids:
                ids.append(cat.id)
    links: list[tuple[str, str]] = []
    uncategorized: list[str] = []
    for coin in coins:
        found = by_coin.get(coin)
        if not found:
            uncategorized.append(coin)
        links.extend((coin, cid) for cid in (found or [UNCATEGORIZED_ID]))
    universe = set(coins)
    unknown = sorted(n for n in named if n not in universe)
    return Categorization(links=links, uncategorized=uncategorized, unknown=unknown)
