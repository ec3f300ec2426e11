"""A local DefiLlama: the endpoints marketmem uses, served on 127.0.0.1 from a simulator.

One port, three roots: ``/api`` (api.llama.fi), ``/stablecoins`` (stablecoins.llama.fi) and
``/pro/{api_key}/bridges`` (the Pro bridges API; 403 unless the venue has a key, 401 for a
wrong key). Bodies have the recorded shapes: pseudo ``chainTvls`` keys, peg-type amount
objects, chart dates as numbers (TVL history) and as strings (stablecoin charts, bridge
volumes), ``text/plain`` ``404 page not found`` for unknown routes, overview charts emptied
only when ``excludeTotalDataChart*`` is asked. With ``recorded_dir`` the recorded fixture
bodies are served byte for byte where they exist.

The simulator is deterministic for a seed and moves with the injected ``WallClock``.
``faults.add(route, kind, count)`` makes the next responses of a route misbehave: "429"
(with Retry-After), "500", "hang", "malformed", "truncated", "missing_field" (drops
``field`` everywhere), "unknown_field" (adds one to every object). Routes are paths inside
a root ("/protocols", "/overview/fees"); a trailing "*" matches a prefix.

``python -m marketmem.venues.defillama --port N`` serves it for the offline demo.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import trio

from marketmem.clock import SystemClock, WallClock
from marketmem.venues.serve import answer_lifespan, serve_asgi

DAY_S = 86_400
HISTORY_DAYS = 60
# Simulated values drift from this day (2024-01-01) on.
ORIGIN_DAY = 19_723
NOT_FOUND = b"404 page not found"

Json = Any
Response = tuple[int, dict[str, str], bytes]


# --- the simulated world -------------------------------------------------------------------


@dataclass(frozen=True)
class SimChain:
    name: str
    token_symbol: str | None
    gecko_id: str | None
    cmc_id: str | None
    chain_id: int | None
    gas_fees: float  # USD per day, 0 = no chain row in /overview/fees


@dataclass(frozen=True)
class SimProtocol:
    id: str
    name: str
    slug: str
    symbol: str
    gecko_id: str | None
    category: str
    chains: tuple[str, ...]
    pseudo: tuple[str, ...]  # pseudo chainTvls categories this protocol reports
    fees: float  # USD per day; 0 = not in the fee overview
    dex_volume: float  # USD per day; 0 = not a DEX
    young: bool = False  # listed recently: 30 d totals are null


@dataclass(frozen=True)
class SimStablecoin:
    id: str
    name: str
    symbol: str
    gecko_id: str | None
    peg_type: str
    mechanism: str
    price: float | None
    chains: tuple[str, ...]


# fmt: off
CHAINS = (
    SimChain("Ethereum", "ETH", "ethereum", "1027", 1, 4.0e6),
    SimChain("Solana", "SOL", "solana", "5426", None, 2.5e6),
    SimChain("Tron", "TRX", "tron", "1958", 728126428, 1.2e6),
    SimChain("BSC", "BNB", "binancecoin", "1839", 56, 0.6e6),
    SimChain("Bitcoin", "BTC", "bitcoin", "1", None, 0.9e6),
    SimChain("Arbitrum", "ARB", "arbitrum", "11841", 42161, 0.2e6),
    SimChain("Base", None, None, None, 8453, 0.3e6),
    SimChain("Hyperliquid L1", "HYPE", "hyperliquid", "32196", 999, 0.0),
)

PROTOCOLS = (
    SimProtocol(
        "182", "Lido", "lido", "LDO", "lido-dao", "Liquid Staking", ("Ethereum", "Solana"),
        (), 1.0e6, 0.0,
    ),
    SimProtocol(
        "1599", "Aave V3", "aave-v3", "AAVE", "aave", "Lending",
        ("Ethereum", "Arbitrum", "Base"), ("borrowed", "staking"), 2.2e6, 0.0,
    ),
    SimProtocol(
        "2198", "Uniswap V3", "uniswap-v3", "UNI", "uniswap", "Dexes",
        ("Ethereum", "Arbitrum", "Base", "BSC"), (), 3.0e6, 1.5e9,
    ),
    SimProtocol(
        "5507", "Hyperliquid Bridge", "hyperliquid-bridge", "HYPE", "hyperliquid", "Bridge",
        ("Arbitrum",), (), 0.0, 0.0,
    ),
    SimProtocol(
        "5761", "Hyperliquid Spot Orderbook", "hyperliquid-spot-orderbook", "HYPE",
        "hyperliquid", "Dexes", ("Hyperliquid L1",), (), 1.1e6, 6.0e8,
    ),
    SimProtocol(
        "2254", "Jito Liquid Staking", "jito-liquid-staking", "JTO", "jito-governance-token",
        "Liquid Staking", ("Solana",), (), 0.4e6, 0.0,
    ),
    SimProtocol(
        "494", "JustLend", "justlend", "JST", "just", "Lending", ("Tron",), ("borrowed",),
        0.1e6, 0.0,
    ),
    SimProtocol(
        "2769", "PancakeSwap AMM", "pancakeswap-amm", "CAKE", "pancakeswap-token", "Dexes",
        ("BSC", "Ethereum"), ("staking", "pool2"), 1.3e6, 1.1e9,
    ),
    SimProtocol(
        "3933", "Babylon Protocol", "babylon-protocol", "BABY", None, "Restaking",
        ("Bitcoin",), (), 0.0, 0.0,
    ),
    SimProtocol(
        "4133", "Ethena USDe", "ethena-usde", "ENA", "ethena", "Basis Trading", ("Ethereum",),
        (), 0.9e6, 0.0,
    ),
    SimProtocol(
        "3200", "Raydium AMM", "raydium-amm", "RAY", "raydium", "Dexes", ("Solana",),
        ("staking",), 0.8e6, 9.0e8,
    ),
    SimProtocol(
        "6400", "Fresh Perps", "fresh-perps", "-", None, "Derivatives", ("Hyperliquid L1",),
        (), 0.05e6, 0.0, young=True,
    ),
)

STABLECOINS = (
    SimStablecoin(
        "1", "Tether", "USDT", "tether", "peggedUSD", "fiat-backed", 1.0,
        ("Tron", "Ethereum", "BSC", "Solana", "Arbitrum"),
    ),
    SimStablecoin(
        "2", "USD Coin", "USDC", "usd-coin", "peggedUSD", "fiat-backed", 1.0,
        ("Ethereum", "Solana", "Base", "Arbitrum", "Hyperliquid L1"),
    ),
    SimStablecoin(
        "146", "Ethena USDe", "USDe", "ethena-usde", "peggedUSD", "crypto-backed", 1.0,
        ("Ethereum", "Arbitrum"),
    ),
    SimStablecoin(
        "50", "EURC", "EURC", "euro-coin", "peggedEUR", "fiat-backed", 1.08,
        ("Ethereum", "Solana", "Base"),
    ),
    SimStablecoin(
        "999", "Fresh Dollar", "FRSH", None, "peggedVAR", "algorithmic", None, ("Base",),
    ),
)

# fmt: on

PSEUDO_SHARE = {"staking": 0.08, "pool2": 0.02, "borrowed": 0.35}


class DefillamaSimulator:
    """Deterministic DefiLlama payloads (Python objects in the wire shapes) at a given time."""

    def __init__(self, seed: int = 0, *, hidden: set[str] | None = None) -> None:
        rng = random.Random(seed)
        self.seed = seed
        # Subject names/slugs/ids left out of every response (a subject "missing" upstream).
        self.hidden: set[str] = hidden if hidden is not None else set()
        self._base: dict[str, float] = {}
        self._phase: dict[str, float] = {}
        self._drift: dict[str, float] = {}
        for p in PROTOCOLS:
            self._base[p.slug] = math.exp(rng.uniform(math.log(2e8), math.log(3e10)))
        self._base["fresh-perps"] = 4e7
        for c in CHAINS:
            self._base["chain:" + c.name] = math.exp(rng.uniform(math.log(1e8), math.log(5e9)))
            self._base["bridge:" + c.name] = math.exp(rng.uniform(math.log(1e6), math.log(2e8)))
        for s in STABLECOINS:
            self._base["stable:" + s.id] = math.exp(rng.uniform(math.log(5e7), math.log(1.5e11)))
        for key in list(self._base) + [p.slug + ":fees" for p in PROTOCOLS]:
            self._phase[key] = rng.uniform(0, 2 * math.pi)
            self._drift[key] = rng.uniform(-0.3, 0.6)

    # --- value paths --------------------------------------------------------------------

    def level(self, key: str, t_days: float) -> float:
        """Smooth deterministic multiplier of a series at ``t_days`` (unix days)."""
        phase = self._phase.get(key, 0.0)
        drift = self._drift.get(key, 0.0)
        years = (t_days - ORIGIN_DAY) / 365.0
        return math.exp(drift * years) * (1.0 + 0.06 * math.sin(2 * math.pi * t_days / 17 + phase))

    def _visible(self, *names: str | None) -> bool:
        return not any(n in self.hidden for n in names if n)

    def protocol_tvl(self, p: SimProtocol, t: float) -> float:
        return self._base[p.slug] * self.level(p.slug, t)

    def protocol_chain_tvls(self, p: SimProtocol, t: float) -> dict[str, float]:
        tvl = self.protocol_tvl(p, t)
        weights = [1.0 / (i + 1) for i in range(len(p.chains))]
        total = sum(weights)
        return {c: tvl * w / total for c, w in zip(p.chains, weights, strict=True)}

    def chain_tvl(self, c: SimChain, t: float) -> float:
        own = self._base["chain:" + c.name] * self.level("chain:" + c.name, t)
        apps = sum(self.protocol_chain_tvls(p, t).get(c.name, 0.0) for p in PROTOCOLS)
        return own + apps

    def supply(self, s: SimStablecoin, t: float) -> float:
        """Circulating amount in units of the peg."""
        return self._base["stable:" + s.id] * self.level("stable:" + s.id, t)

    def supply_on_chain(self, s: SimStablecoin, chain: str, t: float) -> float:
        if chain not in s.chains:
            return 0.0
        weights = [1.0 / (i + 1) ** 1.5 for i in range(len(s.chains))]
        return self.supply(s, t) * weights[s.chains.index(chain)] / sum(weights)

    def usd_price(self, s: SimStablecoin) -> float:
        return s.price if s.price is not None else 1.0

    def daily(self, key: str, base: float, day: int) -> float:
        """One day's total (fees, volume) of a series."""
        noise = random.Random(f"{self.seed}:{key}:{day}").uniform(0.85, 1.15)
        return base * self.level(key, day) * noise

    def bridge_day(self, chain: str, day: int) -> tuple[float, float]:
        """(depositUSD, withdrawUSD) of a chain on ``day``."""
        base = self._base["bridge:" + chain]
        r = random.Random(f"{self.seed}:bridge:{chain}:{day}")
        return base * r.uniform(0.5, 1.5), base * r.uniform(0.5, 1.5)

    # --- payloads -----------------------------------------------------------------------

    def protocols(self, now_ms: int) -> Json:
        t = now_ms / 1000 / DAY_S
        out = []
        for p in PROTOCOLS:
            if not self._visible(p.name, p.slug):
                continue
            tvl = self.protocol_tvl(p, t)
            chain_tvls: dict[str, float] = dict(self.protocol_chain_tvls(p, t))
            for category in p.pseudo:
                total = tvl * PSEUDO_SHARE[category]
                chain_tvls[f"{p.chains[0]}-{category}"] = total
                chain_tvls[category] = total
            row: dict[str, Json] = {
                "id": p.id,
                "name": p.name,
                "address": None,
                "symbol": p.symbol,
                "url": f"https://{p.slug}.example",
                "description": f"{p.name} (simulated)",
                "chain": p.chains[0] if len(p.chains) == 1 else "Multi-Chain",
                "logo": f"https://icons.llama.fi/{p.slug}.png",
                "audits": "2",
                "audit_note": None,
                "gecko_id": p.gecko_id,
                "cmcId": None,
                "category": p.category,
                "chains": list(p.chains),
                "module": f"{p.slug}/index.js",
                "twitter": None,
                "audit_links": [],
                "oracles": [],
                "slug": p.slug,
                "tvl": tvl,
                "chainTvls": chain_tvls,
                "change_1h": self._pct(self.protocol_tvl(p, t - 1 / 24), tvl),
                "change_1d": None if p.young else self._pct(self.protocol_tvl(p, t - 1), tvl),
                "change_7d": None if p.young else self._pct(self.protocol_tvl(p, t - 7), tvl),
                "mcap": None,
                "listedAt": int((t - (5 if p.young else 900)) * DAY_S),
            }
            if "staking" in p.pseudo:
                row["staking"] = chain_tvls["staking"]
            out.append(row)
        return out

    def chains(self, now_ms: int) -> Json:
        t = now_ms / 1000 / DAY_S
        return [
            {
                "gecko_id": c.gecko_id,
                "tvl": self.chain_tvl(c, t),
                "tokenSymbol": c.token_symbol,
                "cmcId": c.cmc_id,
                "name": c.name,
                "chainId": c.chain_id,
            }
            for c in CHAINS
            if self._visible(c.name)
        ]

    def _chain(self, name: str) -> SimChain | None:
        return next((c for c in CHAINS if c.name.lower() == name.lower()), None)

    def historical_chain_tvl(self, name: str, now_ms: int) -> Json | None:
        chain = self._chain(name)
        if chain is None:
            return None
        t = now_ms / 1000 / DAY_S
        today = math.floor(t)
        points = []
        for day in range(today - HISTORY_DAYS, today + 1):
            at = t if day == today else float(day)
            points.append({"date": day * DAY_S, "tvl": self.chain_tvl(chain, at)})
        return points

    def _pegged(self, s: SimStablecoin, t: float) -> dict[str, float]:
        return {s.peg_type: self.supply(s, t)}

    def stablecoins(self, now_ms: int) -> Json:
        t = now_ms / 1000 / DAY_S
        assets = []
        for s in STABLECOINS:
            if not self._visible(s.name, s.symbol, s.id):
                continue
            fresh = s.price is None  # a new listing: no price, no previous amounts yet

            def prev(days: int, s: SimStablecoin = s, fresh: bool = fresh) -> dict[str, float]:
                return {s.peg_type: 0} if fresh else self._pegged(s, t - days)

            chain_circ = {
                c: {
                    "current": {s.peg_type: self.supply_on_chain(s, c, t)},
                    "circulatingPrevDay": {s.peg_type: self.supply_on_chain(s, c, t - 1)},
                    "circulatingPrevWeek": {s.peg_type: self.supply_on_chain(s, c, t - 7)},
                    "circulatingPrevMonth": {s.peg_type: self.supply_on_chain(s, c, t - 30)},
                }
                for c in s.chains
            }
            assets.append(
                {
                    "id": s.id,
                    "name": s.name,
                    "symbol": s.symbol,
                    "gecko_id": s.gecko_id,
                    "pegType": s.peg_type,
                    "priceSource": "defillama",
                    "pegMechanism": s.mechanism,
                    "circulating": self._pegged(s, t),
                    "circulatingPrevDay": prev(1),
                    "circulatingPrevWeek": prev(7),
                    "circulatingPrevMonth": prev(30),
                    "chainCirculating": chain_circ,
                    "chains": list(s.chains),
                    "price": s.price,
                }
            )
        return {"peggedAssets": assets}

    def _chain_usd(self, chain: str, t: float) -> tuple[dict[str, float], dict[str, float]]:
        native: dict[str, float] = {}
        usd: dict[str, float] = {}
        for s in STABLECOINS:
            if chain in s.chains and self._visible(s.name, s.symbol, s.id):
                amount = self.supply_on_chain(s, chain, t)
                native[s.peg_type] = native.get(s.peg_type, 0.0) + amount
                usd[s.peg_type] = usd.get(s.peg_type, 0.0) + amount * self.usd_price(s)
        return native, usd

    def stablecoin_chains(self, now_ms: int) -> Json:
        t = now_ms / 1000 / DAY_S
        out = []
        for c in CHAINS:
            _, usd = self._chain_usd(c.name, t)
            if usd and self._visible(c.name):
                out.append(
                    {
                        "gecko_id": c.gecko_id,
                        "totalCirculatingUSD": usd,
                        "tokenSymbol": c.token_symbol,
                        "name": c.name,
                    }
                )
        return out

    def stablecoin_chart(self, name: str, now_ms: int) -> Json | None:
        chain = self._chain(name)
        if chain is None:
            return None
        t = now_ms / 1000 / DAY_S
        today = math.floor(t)
        points = []
        for day in range(today - HISTORY_DAYS, today + 1):
            native, usd = self._chain_usd(chain.name, t if day == today else float(day))
            points.append(
                {
                    "date": str(day * DAY_S),
                    "totalCirculating": native,
                    "totalCirculatingUSD": usd,
                    "totalMintedUSD": usd,
                    "totalBridgedToUSD": {},
                }
            )
        return points

    def _totals(self, key: str, base: float, today: int, young: bool) -> dict[str, Json]:
        def span(start: int, days: int) -> float:
            return sum(self.daily(key, base, today - start - k) for k in range(days))

        d24, d48 = span(0, 1), span(1, 1)
        d7, d14 = span(0, 7), span(7, 7)
        d30, d60 = span(0, 30), span(30, 30)
        return {
            "total24h": d24,
            "total48hto24h": d48,
            "total7d": d7,
            "total14dto7d": d14,
            "total60dto30d": None if young else d60,
            "total30d": None if young else d30,
            "total1y": None if young else span(0, 365),
            "change_1d": self._pct(d48, d24),
            "change_7d": self._pct(self.daily(key, base, today - 7), d24),
            "change_1m": self._pct(self.daily(key, base, today - 30), d24),
            "change_7dover7d": self._pct(d14, d7),
            "change_30dover30d": None if young else self._pct(d60, d30),
            "total7DaysAgo": self.daily(key, base, today - 7),
            "total30DaysAgo": self.daily(key, base, today - 30),
        }

    def overview(
        self, kind: str, data_type: str, chain: str | None, now_ms: int, charts: bool
    ) -> Json | None:
        """``/overview/{fees,dexs}[/{chain}]``; None for an unknown chain."""
        today = math.floor(now_ms / 1000 / DAY_S)
        scale = {"dailyFees": 1.0, "dailyRevenue": 0.35, "dailyVolume": 1.0}.get(data_type)
        if scale is None or kind not in ("fees", "dexs"):
            return None
        sim_chain = self._chain(chain) if chain else None
        if chain and sim_chain is None:
            return None
        rows: list[dict[str, Json]] = []
        all_chains: list[str] = []
        for p in PROTOCOLS:
            base = (p.fees if kind == "fees" else p.dex_volume) * scale
            if base <= 0 or not self._visible(p.name, p.slug):
                continue
            for c in p.chains:
                if c not in all_chains:
                    all_chains.append(c)
            if sim_chain is not None:
                if sim_chain.name not in p.chains:
                    continue
                base /= len(p.chains)
            key = f"{p.slug}:{kind}:{sim_chain.name if sim_chain else ''}"
            row = self._totals(key, base, today, p.young)
            if p.young:
                del row["total7DaysAgo"]
            row.update(self._row_meta(p.name, p.slug, p.id, p.category, list(p.chains)))
            row["breakdown24h"] = {
                c.lower(): {p.name: row["total24h"] / len(p.chains)} for c in p.chains
            }
            row["breakdown30d"] = None
            rows.append(row)
        if kind == "fees" and sim_chain is None:
            for sc in CHAINS:
                if sc.gas_fees <= 0 or not self._visible(sc.name):
                    continue
                row = self._totals(f"chain:{sc.name}:fees", sc.gas_fees * scale, today, False)
                row.update(
                    self._row_meta(
                        sc.name, sc.name.lower(), f"chain#{sc.name.lower()}", "Chain", [sc.name]
                    )
                )
                row["protocolType"] = "chain"
                row["breakdown24h"] = None
                row["breakdown30d"] = None
                rows.append(row)
        totals: dict[str, Json] = {}
        for k in (
            "total24h",
            "total48hto24h",
            "total7d",
            "total14dto7d",
            "total30d",
            "total60dto30d",
        ):
            values = [r.get(k) for r in rows]
            totals[k] = None if any(v is None for v in values) else sum(values)
        totals["change_1d"] = self._pct(totals["total48hto24h"], totals["total24h"])
        totals["change_7dover7d"] = self._pct(totals["total14dto7d"], totals["total7d"])
        totals["change_30dover30d"] = self._pct(totals["total60dto30d"], totals["total30d"])
        chart: list[Json] = []
        breakdown: list[Json] = []
        if charts:
            for day in range(today - 30, today):
                chart.append([day * DAY_S, sum(r["total24h"] for r in rows) / 30])
                breakdown.append([day * DAY_S, {r["name"]: r["total24h"] for r in rows}])
        return {
            "totalDataChart": chart,
            "totalDataChartBreakdown": breakdown,
            "breakdown24h": None,
            "breakdown30d": None,
            "chain": sim_chain.name if sim_chain else None,
            "allChains": all_chains,
            **totals,
            "protocols": rows,
        }

    @staticmethod
    def _row_meta(name: str, slug: str, id: str, category: str, chains: list[str]) -> Json:
        return {
            "defillamaId": id,
            "name": name,
            "displayName": name,
            "module": slug,
            "category": category,
            "logo": f"https://icons.llama.fi/{slug}.png",
            "chains": chains,
            "protocolType": "protocol",
            "methodologyURL": f"https://github.com/DefiLlama/dimension-adapters/{slug}",
            "methodology": {"Fees": "Fees paid by users"},
            "latestFetchIsOk": True,
            "slug": slug,
            "id": id,
        }

    def bridges(self) -> Json:
        out = []
        for i, c in enumerate(CHAINS):
            if c.name == "Ethereum":
                continue
            out.append(
                {
                    "id": 80 + i,
                    "name": f"{c.name.lower().replace(' ', '-')}-bridge",
                    "displayName": f"{c.name} Bridge",
                    "icon": f"icons:{c.name.lower()}",
                    "volumePrevDay": 0,
                    "chains": ["Ethereum", c.name],
                    "destinationChain": c.name,
                    "url": f"https://bridge.{c.name.lower().replace(' ', '')}.example",
                    "slug": f"{c.name.lower().replace(' ', '-')}-bridge",
                }
            )
        return {"bridges": out}

    def bridge_volume(self, name: str, now_ms: int) -> Json | None:
        chain = self._chain(name)
        if chain is None:
            return None
        today = math.floor(now_ms / 1000 / DAY_S)
        out = []
        for day in range(today - HISTORY_DAYS, today + 1):
            deposit, withdraw = self.bridge_day(chain.name, day)
            out.append(
                {
                    "date": str(day * DAY_S),
                    "depositUSD": deposit,
                    "withdrawUSD": withdraw,
                    "depositTxs": int(deposit // 10_000),
                    "withdrawTxs": int(withdraw // 10_000),
                }
            )
        return out

    @staticmethod
    def _pct(before: float | None, after: float | None) -> float | None:
        if before is None or after is None or before == 0:
            return None
        return (after - before) / before * 100.0


# --- faults --------------------------------------------------------------------------------

FAULT_KINDS = (
    "429",
    "500",
    "hang",
    "malformed",
    "truncated",
    "missing_field",
    "unknown_field",
)


@dataclass
class Fault:
    kind: str
    retry_after: float | None = 1.0
    field: str = "name"
    hang_s: float = 3600.0


class Faults:
    """Per-route queues of faults; each response of a matching route takes one."""

    def __init__(self) -> None:
        self._queues: dict[str, list[Fault]] = {}

    def add(self, route: str, kind: str, count: int = 1, **options: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        self._queues.setdefault(route, []).extend(Fault(kind, **options) for _ in range(count))

    def clear(self) -> None:
        self._queues.clear()

    def take(self, path: str) -> Fault | None:
        for route, queue in self._queues.items():
            hit = path.startswith(route[:-1]) if route.endswith("*") else path == route
            if hit and queue:
                return queue.pop(0)
        return None


def _drop_key(obj: Json, key: str) -> Json:
    if isinstance(obj, dict):
        return {k: _drop_key(v, key) for k, v in obj.items() if k != key}
    if isinstance(obj, list):
        return [_drop_key(v, key) for v in obj]
    return obj


def _add_unknown(obj: Json, record: bool = True) -> Json:
    """Add a field to every record: the top object and objects in lists (not to maps)."""
    if isinstance(obj, dict):
        out = {k: _add_unknown(v, record=False) for k, v in obj.items()}
        if record:
            out["unexpectedField"] = {"x": [1]}
        return out
    if isinstance(obj, list):
        return [_add_unknown(v) for v in obj]
    return obj


# --- the HTTP side -------------------------------------------------------------------------


@dataclass(frozen=True)
class Routed:
    root: str  # "api", "stablecoins" or "bridges"
    path: str  # inside the root: "/protocols"


@dataclass(frozen=True)
class VenueUrls:
    """Base URLs for ``[defillama]``; ``bridges_url`` keeps the ``{api_key}`` placeholder."""

    api_url: str
    stablecoins_url: str
    bridges_url: str


# Recorded fixture files served verbatim for these routes (root, path pattern).
RECORDED = (
    ("api", re.compile(r"/protocols"), "protocols.json"),
    ("api", re.compile(r"/v2/chains"), "v2_chains.json"),
    ("api", re.compile(r"/overview/derivatives"), "docexample_overview_derivatives.json"),
    ("api", re.compile(r"/summary/fees/hyperliquid"), "docexample_summary_fees_hyperliquid.json"),
    ("bridges", re.compile(r"/bridges"), "docexample_bridges.json"),
    ("bridges", re.compile(r"/bridgevolume/[^/]+"), "docexample_bridgevolume.json"),
)


@dataclass
class DefillamaVenue:
    """The ASGI app: routing, recorded bodies, faults, request log."""

    simulator: DefillamaSimulator = field(default_factory=DefillamaSimulator)
    clock: WallClock = field(default_factory=SystemClock)
    recorded_dir: Path | None = None
    # The Pro key the bridges root accepts; None: bridges answer 403 to everyone.
    bridges_key: str | None = None
    faults: Faults = field(default_factory=Faults)
    # (root, path, query) of every request, in order.
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def hits(self, path: str) -> int:
        return sum(1 for _, p, _ in self.requests if p == path)

    def counts(self) -> Counter[str]:
        return Counter(p for _, p, _ in self.requests)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        status, headers, body = await self.respond(scope["path"], query)
        raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})

    async def respond(self, full_path: str, query: dict[str, str]) -> Response:
        routed = self._route(full_path)
        if not isinstance(routed, Routed):
            self.requests.append(("", full_path, query))
            return routed
        root, path = routed.root, routed.path
        self.requests.append((root, path, query))
        fault = self.faults.take(path)
        if fault is not None and fault.kind in ("429", "500", "hang"):
            if fault.kind == "hang":
                await trio.sleep(fault.hang_s)
            else:
                headers = {"content-type": "text/plain; charset=utf-8"}
                if fault.kind == "429" and fault.retry_after is not None:
                    headers["retry-after"] = f"{fault.retry_after:g}"
                text = b"Too Many Requests" if fault.kind == "429" else b"Internal Server Error"
                return int(fault.kind), headers, text
        body = self._body(root, path, query)
        if body is None:
            return _text(404, NOT_FOUND)
        if fault is not None and fault.kind != "hang":
            body = _spoil(body, fault)
        return 200, {"content-type": "application/json; charset=utf-8"}, body

    def _route(self, full_path: str) -> Routed | Response:
        if full_path.startswith("/api/"):
            return Routed("api", full_path[len("/api") :])
        if full_path.startswith("/stablecoins/"):
            return Routed("stablecoins", full_path[len("/stablecoins") :])
        m = re.fullmatch(r"/pro/([^/]*)/bridges(/.*)", full_path)
        if m is not None:
            if self.bridges_key is None:
                return _text(403, b'{"message":"Forbidden: bridges need a Pro plan"}')
            if m.group(1) != self.bridges_key:
                return _text(401, b'{"message":"Unauthorized: invalid API key"}')
            return Routed("bridges", m.group(2))
        return _text(404, NOT_FOUND)

    def _recorded(self, root: str, path: str) -> bytes | None:
        if self.recorded_dir is None:
            return None
        for r, pattern, name in RECORDED:
            file = self.recorded_dir / name
            if r == root and pattern.fullmatch(path) and file.exists():
                return file.read_bytes()
        return None

    def _body(self, root: str, path: str, query: dict[str, str]) -> bytes | None:
        recorded = self._recorded(root, path)
        if recorded is not None:
            return recorded
        payload = self._payload(root, path, query, self.clock.now_ms())
        return None if payload is None else json.dumps(payload).encode()

    def _payload(self, root: str, path: str, query: dict[str, str], now_ms: int) -> Json | None:
        sim = self.simulator
        parts = path.strip("/").split("/")
        if root == "api":
            if path == "/protocols":
                return sim.protocols(now_ms)
            if path == "/v2/chains":
                return sim.chains(now_ms)
            if len(parts) == 3 and parts[:2] == ["v2", "historicalChainTvl"]:
                return sim.historical_chain_tvl(parts[2], now_ms)
            if parts[0] == "overview" and len(parts) in (2, 3):
                default = "dailyFees" if parts[1] == "fees" else "dailyVolume"
                charts = not (
                    query.get("excludeTotalDataChart") == "true"
                    and query.get("excludeTotalDataChartBreakdown") == "true"
                )
                chain = parts[2] if len(parts) == 3 else None
                data_type = query.get("dataType", default)
                return sim.overview(parts[1], data_type, chain, now_ms, charts)
        elif root == "stablecoins":
            if path == "/stablecoins":
                return sim.stablecoins(now_ms)
            if path == "/stablecoinchains":
                return sim.stablecoin_chains(now_ms)
            if len(parts) == 2 and parts[0] == "stablecoincharts":
                return sim.stablecoin_chart(parts[1], now_ms)
        elif root == "bridges":
            if path == "/bridges":
                return sim.bridges()
            if len(parts) == 2 and parts[0] == "bridgevolume":
                return sim.bridge_volume(parts[1], now_ms)
        return None


def _text(status: int, body: bytes) -> Response:
    return status, {"content-type": "text/plain; charset=utf-8"}, body


def _spoil(body: bytes, fault: Fault) -> bytes:
    if fault.kind == "malformed":
        return b'{"error": internal, <html>' + body[:20]
    if fault.kind == "truncated":
        return body[: max(1, len(body) // 2)]
    data = json.loads(body)
    if fault.kind == "missing_field":
        return json.dumps(_drop_key(data, fault.field)).encode()
    return json.dumps(_add_unknown(data)).encode()


async def serve_defillama_venue(
    venue: DefillamaVenue | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[VenueUrls] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``venue`` (a default one if None) until cancelled; reports its ``VenueUrls``."""
    app = venue if venue is not None else DefillamaVenue()
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(partial(serve_asgi, app, host=host, port=port))
        base = f"http://{host}:{bound}"
        task_status.started(
            VenueUrls(
                api_url=f"{base}/api",
                stablecoins_url=f"{base}/stablecoins",
                bridges_url=f"{base}/pro/{{api_key}}/bridges",
            )
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a local DefiLlama on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recorded", type=Path, help="folder of recorded fixture bodies")
    parser.add_argument("--bridges-key", help="Pro key the bridges root accepts")
    args = parser.parse_args(argv)
    venue = DefillamaVenue(
        simulator=DefillamaSimulator(args.seed),
        recorded_dir=args.recorded,
        bridges_key=args.bridges_key,
    )

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(serve_defillama_venue, venue, port=args.port))
            print(f'[defillama]\napi_url = "{urls.api_url}"')
            print(f'stablecoins_url = "{urls.stablecoins_url}"')
            print(f'bridges_url = "{urls.bridges_url}"', flush=True)

    try:
        trio.run(run)
    except* KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
