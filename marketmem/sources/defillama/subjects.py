"""Pure subject logic: what a chain, protocol or stablecoin is, its asset links, the policy.

Links come from the payload's own symbol and gecko id, mapped through the overrides file
(``LinkOverrides``); a subject listed in the file gets exactly the assets listed there.
The policy keeps the top N subjects by size (TVL or circulating USD) plus every subject
linked to a tracked asset.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import msgspec

from marketmem.sources.defillama import amounts
from marketmem.sources.defillama.wire import Chain, PeggedAsset, Protocol

CHAIN = "chain"
PROTOCOL = "protocol"
STABLECOIN = "stablecoin"
KINDS = (CHAIN, PROTOCOL, STABLECOIN)


class LinkOverrides(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The subjects file: symbol aliases, gecko id links and per-subject link lists."""

    # DefiLlama symbol (any case) -> asset, e.g. "WETH" = "ETH".
    symbol_aliases: dict[str, str] = {}
    # gecko id -> asset, applied to every subject with that gecko id.
    gecko_ids: dict[str, str] = {}
    # subject id -> its exact assets (replacing the derived links); [] unlinks.
    chains: dict[str, list[str]] = {}
    protocols: dict[str, list[str]] = {}
    stablecoins: dict[str, list[str]] = {}

    def explicit(self, kind: str, subject_id: str) -> list[str] | None:
        table = {CHAIN: self.chains, PROTOCOL: self.protocols, STABLECOIN: self.stablecoins}
        return table[kind].get(subject_id)


NO_OVERRIDES = LinkOverrides()


@dataclass(frozen=True)
class Subject:
    kind: str
    subject_id: str
    name: str
    slug: str | None
    symbol: str | None
    gecko_id: str | None
    category: str | None
    # What the policy ranks by: TVL (chains, protocols) or circulating USD (stablecoins).
    size: float | None
    # (asset, origin) with origin "symbol", "gecko_id" or "config".
    links: tuple[tuple[str, str], ...]

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(asset for asset, _ in self.links)


def clean_symbol(symbol: str | None) -> str | None:
    """A payload symbol, or None for the placeholders DefiLlama uses ("-", "")."""
    if symbol is None:
        return None
    s = symbol.strip()
    return None if s in ("", "-") else s


def link_assets(
    kind: str,
    subject_id: str,
    symbol: str | None,
    gecko_id: str | None,
    overrides: LinkOverrides,
) -> tuple[tuple[str, str], ...]:
    """The assets a subject is linked to, each with its origin; no asset twice (any case)."""
    links: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(asset: str, origin: str) -> None:
        asset = asset.strip()
        if asset and asset.upper() not in seen:
            seen.add(asset.upper())
            links.append((asset, origin))

    explicit = overrides.explicit(kind, subject_id)
    if explicit is not None:
        for asset in explicit:
            add(asset, "config")
        return tuple(links)
    sym = clean_symbol(symbol)
    if sym is not None:
        aliases = {k.upper(): v for k, v in overrides.symbol_aliases.items()}
        add(aliases.get(sym.upper(), sym), "symbol")
    if gecko_id and gecko_id in overrides.gecko_ids:
        add(overrides.gecko_ids[gecko_id], "gecko_id")
    return tuple(links)


def chain_subject(chain: Chain, overrides: LinkOverrides) -> Subject:
    symbol = clean_symbol(chain.token_symbol)
    return Subject(
        kind=CHAIN,
        subject_id=chain.name,
        name=chain.name,
        slug=None,
        symbol=symbol,
        gecko_id=chain.gecko_id,
        category=None,
        size=chain.tvl,
        links=link_assets(CHAIN, chain.name, symbol, chain.gecko_id, overrides),
    )


def protocol_subject(protocol: Protocol, overrides: LinkOverrides) -> Subject:
    symbol = clean_symbol(protocol.symbol)
    return Subject(
        kind=PROTOCOL,
        subject_id=protocol.slug,
        name=protocol.name,
        slug=protocol.slug,
        symbol=symbol,
        gecko_id=protocol.gecko_id,
        category=protocol.category,
        size=protocol.tvl,
        links=link_assets(PROTOCOL, protocol.slug, symbol, protocol.gecko_id, overrides),
    )


def stablecoin_subject(asset: PeggedAsset, overrides: LinkOverrides) -> Subject:
    symbol = clean_symbol(asset.symbol)
    return Subject(
        kind=STABLECOIN,
        subject_id=asset.id,
        name=asset.name,
        slug=None,
        symbol=symbol,
        gecko_id=asset.gecko_id,
        category=asset.peg_type,
        size=amounts.peg_to_usd(asset.circulating, asset.price),
        links=link_assets(STABLECOIN, asset.id, symbol, asset.gecko_id, overrides),
    )


def select(subjects: Iterable[Subject], top_n: int, tracked: Collection[str]) -> list[Subject]:
    """The subjects the policy keeps, largest first (unknown sizes last).

    Kept: the ``top_n`` largest of those with a known size, and every subject linked to an
    asset in ``tracked`` (any case). A subject id seen twice keeps its first row.
    """
    tracked_up = {t.upper() for t in tracked}
    unique: dict[str, Subject] = {}
    for s in subjects:
        unique.setdefault(s.subject_id, s)
    sized = [s for s in unique.values() if s.size is not None]
    sized.sort(key=lambda s: -(s.size or 0.0))
    top = {s.subject_id for s in sized[:top_n]}
    kept = [
        s
        for s in unique.values()
        if s.subject_id in top or any(a.upper() in tracked_up for a in s.assets)
    ]
    kept.sort(key=lambda s: (s.size is None, -(s.size or 0.0)))
    return kept


def by_name(subjects: Sequence[Subject]) -> dict[str, Subject]:
    """Subjects keyed by lower-cased name (chains are matched by name across endpoints)."""
    out: dict[str, Subject] = {}
    for s in subjects:
        out.setdefault(s.name.lower(), s)
    return out
