"""DefiLlama wire types: msgspec Structs decoding only the fields marketmem uses.

Unknown fields are ignored (the /protocols list is many MB; skipping what we do not need is
what keeps it fast). Every number may be null or absent and stays ``None``. Chart ``date``
values arrive both as numbers and as strings of unix seconds (``Date``).
"""

from __future__ import annotations

import msgspec

# Unix seconds, as a JSON number or as a string of digits; see ``amounts.unix_seconds``.
Date = float | str
# Amounts keyed by peg type: {"peggedUSD": 1.0, "peggedEUR": 2.0}.
PegAmounts = dict[str, float | None]


class Wire(msgspec.Struct, frozen=True, gc=False):
    pass


# --- api.llama.fi: TVL -------------------------------------------------------------------


class Protocol(Wire, frozen=True):
    """One row of ``GET /protocols``."""

    name: str
    slug: str
    symbol: str | None = None
    gecko_id: str | None = None
    category: str | None = None
    chains: list[str] = []
    tvl: float | None = None
    # Real chains mixed with pseudo keys (staking, pool2, borrowed, <Chain>-staking, ...).
    chain_tvls: dict[str, float | None] = msgspec.field(default_factory=dict, name="chainTvls")
    change_1d: float | None = None
    change_7d: float | None = None


class Chain(Wire, frozen=True):
    """One row of ``GET /v2/chains``."""

    name: str
    tvl: float | None = None
    token_symbol: str | None = msgspec.field(default=None, name="tokenSymbol")
    gecko_id: str | None = None


class TvlPoint(Wire, frozen=True):
    """One point of ``GET /v2/historicalChainTvl/{chain}``."""

    date: Date
    tvl: float | None = None


# --- stablecoins.llama.fi ------------------------------------------------------------------


class PeggedAsset(Wire, frozen=True):
    """One stablecoin of ``GET /stablecoins?includePrices=true``."""

    id: str
    name: str
    symbol: str | None = None
    gecko_id: str | None = None
    peg_type: str | None = msgspec.field(default=None, name="pegType")
    price: float | None = None
    circulating: PegAmounts | None = None
    circulating_prev_day: PegAmounts | None = msgspec.field(default=None, name="circulatingPrevDay")
    circulating_prev_week: PegAmounts | None = msgspec.field(
        default=None, name="circulatingPrevWeek"
    )
    circulating_prev_month: PegAmounts | None = msgspec.field(
        default=None, name="circulatingPrevMonth"
    )


class Stablecoins(Wire, frozen=True):
    pegged_assets: list[PeggedAsset] = msgspec.field(name="peggedAssets")


class StablecoinChain(Wire, frozen=True):
    """One row of ``GET /stablecoinchains``; the amounts are USD, keyed by peg type."""

    name: str
    total_circulating_usd: PegAmounts | None = msgspec.field(
        default=None, name="totalCirculatingUSD"
    )


class StablecoinChartPoint(Wire, frozen=True):
    """One point of ``GET /stablecoincharts/{chain}``."""

    date: Date
    total_circulating_usd: PegAmounts | None = msgspec.field(
        default=None, name="totalCirculatingUSD"
    )


# --- api.llama.fi: fee and DEX overviews ---------------------------------------------------


class OverviewRow(Wire, frozen=True):
    """One row of ``protocols`` in ``/overview/{fees,dexs}``; also the ``/summary`` shape."""

    name: str
    slug: str | None = None
    display_name: str | None = msgspec.field(default=None, name="displayName")
    protocol_type: str | None = msgspec.field(default=None, name="protocolType")
    total24h: float | None = None
    total7d: float | None = None
    total30d: float | None = None
    change_1d: float | None = None
    change_7dover7d: float | None = None
    change_30dover30d: float | None = None


class Overview(Wire, frozen=True):
    """``GET /overview/{fees,dexs}[/{chain}]`` with the charts excluded."""

    protocols: list[OverviewRow] = []
    all_chains: list[str] = msgspec.field(default_factory=list, name="allChains")
    chain: str | None = None
    total24h: float | None = None
    total7d: float | None = None
    total30d: float | None = None
    change_1d: float | None = None
    change_7dover7d: float | None = None
    change_30dover30d: float | None = None


# --- bridges (DefiLlama Pro) ---------------------------------------------------------------


class Bridge(Wire, frozen=True):
    id: int
    name: str
    chains: list[str] = []


class Bridges(Wire, frozen=True):
    """``GET /bridges?includeChains=true``."""

    bridges: list[Bridge]


class BridgeVolumePoint(Wire, frozen=True):
    """One day of ``GET /bridgevolume/{chain}``: deposits leave the chain, withdrawals arrive."""

    date: Date
    deposit_usd: float | None = msgspec.field(default=None, name="depositUSD")
    withdraw_usd: float | None = msgspec.field(default=None, name="withdrawUSD")
