"""Pure helpers for DefiLlama numbers: chart dates, pseudo chain keys, peg-type amounts."""

from __future__ import annotations

from collections.abc import Mapping

# chainTvls keys that are not chains: TVL categories DefiLlama reports beside the chains,
# alone ("staking") or per chain ("Ethereum-staking"). They never count as chains or TVL.
PSEUDO_KEYS = frozenset(
    {
        "staking",
        "pool2",
        "borrowed",
        "doublecounted",
        "liquidstaking",
        "vesting",
        "treasury",
        "offers",
    }
)

USD_PEG = "peggedUSD"


def unix_seconds(date: float | str) -> int:
    """A chart date (number or string of unix seconds) as int seconds; ValueError if neither."""
    if isinstance(date, str):
        text = date.strip()
        try:
            return int(text)
        except ValueError:
            return int(float(text))
    return int(date)


def pseudo_key(key: str) -> str | None:
    """The pseudo category of a chainTvls key ("Ethereum-staking" -> "staking"), or None."""
    low = key.lower()
    if low in PSEUDO_KEYS:
        return low
    _, sep, suffix = low.rpartition("-")
    if sep and suffix in PSEUDO_KEYS:
        return suffix
    return None


def real_chains(chain_tvls: Mapping[str, float | None]) -> dict[str, float | None]:
    """Only the chain entries of a chainTvls object."""
    return {k: v for k, v in chain_tvls.items() if pseudo_key(k) is None}


def pseudo_totals(chain_tvls: Mapping[str, float | None]) -> dict[str, float | None]:
    """Totals per pseudo category: the bare key when present, else the sum of per-chain keys.

    A category whose per-chain values include a null has a None total.
    """
    bare: dict[str, float | None] = {}
    per_chain: dict[str, list[float | None]] = {}
    for key, value in chain_tvls.items():
        category = pseudo_key(key)
        if category is None:
            continue
        if key.lower() == category:
            bare[category] = value
        else:
            per_chain.setdefault(category, []).append(value)
    out = dict(bare)
    for category, values in per_chain.items():
        if category not in out:
            out[category] = _sum_or_none(values)
    return out


def peg_to_usd(amounts: Mapping[str, float | None] | None, price: float | None) -> float | None:
    """USD value of a stablecoin amount keyed by peg type.

    ``peggedUSD`` amounts are dollars already; any other peg (``peggedEUR``, ...) is in units
    of its peg and is converted with ``price`` (USD per coin). Without a price such an amount
    has no USD value: the result is None rather than euros added to dollars. A null part, or
    no amount at all, also gives None.
    """
    if not amounts:
        return None
    parts: list[float | None] = []
    for peg, value in amounts.items():
        if value is None:
            return None
        if peg == USD_PEG:
            parts.append(value)
        elif price is None:
            return None
        else:
            parts.append(value * price)
    return _sum_or_none(parts)


def usd_total(amounts_usd: Mapping[str, float | None] | None) -> float | None:
    """Sum of USD amounts keyed by peg type (``totalCirculatingUSD``); None if any is null."""
    if not amounts_usd:
        return None
    return _sum_or_none(list(amounts_usd.values()))


def _sum_or_none(values: list[float | None]) -> float | None:
    if not values:
        return None
    total = 0.0
    for v in values:
        if v is None:
            return None
        total += v
    return total
