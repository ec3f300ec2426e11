"""A deterministic Hyperliquid market: seeded trades, 1m bars, mids, books and funding.

The local venue (``marketmem.venues.hyperliquid``) serves what this simulator holds, in the
exact shapes of the recorded payloads: prices and sizes as decimal strings rounded the way the
venue rounds them (5 significant figures, at most ``6 - szDecimals`` decimals for perps),
integers for times and counts, delisted assets kept in their slot with frozen prices.

Time is ticks of ``tick_ms`` on the Unix clock the caller passes to ``advance_to`` (the venue
passes its WallClock, so under MockClock the market moves with the test). One seeded RNG is
consumed tick by tick in universe order, so the market depends only on the seed and the
ticks walked, never on when or how often it is asked. Bars exist only for minutes that had
trades (a quiet coin leaves holes, as the real venue does).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
MAX_BARS = 5000

# The venue's fixed candle intervals (research/hyperliquid.md §4; the calendar month is left
# out). The venue keeps its own table: a wrong one in the client must fail a test.
INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}


@dataclass(frozen=True)
class SimAsset:
    """One perp of the simulated universe (order = asset index)."""

    name: str
    sz_decimals: int
    max_leverage: int
    price: Decimal
    # Probability that a tick has trades (quiet coins leave minutes without a bar).
    activity: float = 0.6
    # Relative price move per trade (standard deviation).
    sigma: float = 0.0002
    margin_table_id: int | None = None
    delisted: bool = False
    only_isolated: bool = False


DEFAULT_ASSETS: tuple[SimAsset, ...] = (
    SimAsset("BTC", 5, 40, Decimal("95000.0"), activity=0.9, margin_table_id=56),
    SimAsset("ETH", 4, 25, Decimal("3500.0"), activity=0.85, margin_table_id=55),
    SimAsset("ATOM", 2, 5, Decimal("4.2"), activity=0.01, sigma=0.0005, margin_table_id=5),
    SimAsset("MATIC", 1, 20, Decimal("0.37621"), activity=0.0, margin_table_id=20, delisted=True),
    SimAsset("SOL", 2, 20, Decimal("180.0"), activity=0.7, margin_table_id=54),
    SimAsset("DOGE", 0, 10, Decimal("0.2"), activity=0.5, sigma=0.0004, margin_table_id=51),
    SimAsset("kPEPE", 0, 10, Decimal("0.012"), activity=0.4, sigma=0.0005, margin_table_id=51),
    SimAsset("HYPE", 2, 10, Decimal("30.0"), activity=0.7, sigma=0.0003, margin_table_id=51),
)

# The margin tables the default universe refers to: id -> (description, [(lowerBound, lev)]).
DEFAULT_MARGIN_TABLES: dict[int, tuple[str, list[tuple[str, int]]]] = {
    5: ("", [("0.0", 5)]),
    20: ("", [("0.0", 20)]),
    51: ("tiered 10x", [("0.0", 10), ("3000000.0", 5)]),
    54: ("tiered 20x (2)", [("0.0", 20), ("70000000.0", 10)]),
    55: ("tiered 25x", [("0.0", 25), ("100000000.0", 15)]),
    56: ("tiered 40x", [("0.0", 40), ("150000000.0", 20)]),
}

# allMids keys that are not perps: spot (@N, PURR/USDC) and outcome tokens (#N).
DEFAULT_EXTRA_MIDS: dict[str, str] = {
    "#12090": "0.16683",
    "#12091": "0.83317",
    "@1": "13.1655",
    "@107": "30.015",
    "PURR/USDC": "0.10496",
}


def fmt_price(value: Decimal, sz_decimals: int) -> str:
    """A perp price as the venue writes it: 5 significant figures, <= 6 - szDecimals decimals."""
    if value <= 0:
        return "0.0"
    exp = min(value.adjusted() - 4, 0)
    exp = max(exp, -(6 - sz_decimals))
    q = value.quantize(Decimal(1).scaleb(exp), rounding=ROUND_HALF_EVEN)
    return fmt_decimal(q)


def price_tick(value: Decimal, sz_decimals: int) -> Decimal:
    """The smallest price step at ``value`` (integers are always valid prices)."""
    exp = max(min(value.adjusted() - 4, 0), -(6 - sz_decimals))
    return Decimal(1).scaleb(exp)


def round_price(value: Decimal, sz_decimals: int) -> Decimal:
    return Decimal(fmt_price(value, sz_decimals))


def fmt_decimal(value: Decimal) -> str:
    """Plain notation without trailing zeros, integers as ``N.0`` (``79139.0``, ``0.77139``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    else:
        text += ".0"
    return text


@dataclass
class Bar:
    """A 1m (or aggregated) bar; ``close_ms`` is the bar's last millisecond."""

    coin: str
    interval: str
    open_ms: int
    close_ms: int
    o: Decimal
    h: Decimal
    low: Decimal
    c: Decimal
    v: Decimal
    n: int

    def to_wire(self) -> dict[str, Any]:
        """The wire object, keys in the 2026 order ``t,T,s,i,o,c,h,l,v,n``."""
        return {
            "t": self.open_ms,
            "T": self.close_ms,
            "s": self.coin,
            "i": self.interval,
            "o": fmt_decimal(self.o),
            "c": fmt_decimal(self.c),
            "h": fmt_decimal(self.h),
            "l": fmt_decimal(self.low),
            "v": fmt_decimal(self.v),
            "n": self.n,
        }


@dataclass
class _CoinState:
    asset: SimAsset
    price: Decimal
    bars: deque[Bar] = field(default_factory=lambda: deque(maxlen=MAX_BARS))
    # Per-tick prices of the last 24 h are not kept; the day-open price is tracked by hour.
    hourly_open: dict[int, Decimal] = field(default_factory=dict)


class Simulator:
    """The simulated market; ``advance_to`` walks it forward tick by tick."""

    def __init__(
        self,
        start_ms: int,
        *,
        seed: int = 1,
        assets: tuple[SimAsset, ...] = DEFAULT_ASSETS,
        margin_tables: dict[int, tuple[str, list[tuple[str, int]]]] | None = None,
        extra_mids: dict[str, str] | None = None,
        tick_ms: int = 1000,
        history_minutes: int = 120,
    ) -> None:
        self.seed = seed
        self.tick_ms = tick_ms
        self.assets = assets
        self.margin_tables = DEFAULT_MARGIN_TABLES if margin_tables is None else margin_tables
        self.extra_mids = dict(DEFAULT_EXTRA_MIDS if extra_mids is None else extra_mids)
        self._rng = random.Random(seed)
        self._coins = {a.name: _CoinState(a, round_price(a.price, a.sz_decimals)) for a in assets}
        begin = start_ms - history_minutes * MINUTE_MS
        self._first_hour = begin // HOUR_MS - 30 * 24
        self._tick = begin // tick_ms
        self.now_ms = self._tick * tick_ms
        self.advance_to(start_ms)

    # --- moving forward ------------------------------------------------------------------

    def advance_to(self, now_ms: int) -> list[Bar]:
        """Walk every tick up to ``now_ms``; returns each bar state a trade produced, in order."""
        pushes: list[Bar] = []
        last = now_ms // self.tick_ms
        while self._tick < last:
            self._tick += 1
            t_ms = self._tick * self.tick_ms
            for state in self._coins.values():
                bar = self._trade(state, t_ms)
                if bar is not None:
                    pushes.append(replace(bar))
        self.now_ms = max(self.now_ms, now_ms)
        return pushes

    def _trade(self, state: _CoinState, t_ms: int) -> Bar | None:
        asset = state.asset
        hour = t_ms // HOUR_MS
        state.hourly_open.setdefault(hour, state.price)
        if len(state.hourly_open) > 30:
            del state.hourly_open[min(state.hourly_open)]
        # The RNG is drawn the same way whatever the outcome, so one coin never shifts another.
        draw = self._rng.random()
        count = 1 + self._rng.randrange(4)
        moves = [self._rng.gauss(0.0, 1.0) for _ in range(count)]
        sizes = [self._rng.random() for _ in range(count)]
        if asset.delisted or draw >= asset.activity:
            return None
        bar = self._bar_at(state, t_ms)
        unit = Decimal(1).scaleb(-asset.sz_decimals)
        for move, size in zip(moves, sizes, strict=True):
            factor = Decimal(repr(math.exp(asset.sigma * move)))
            state.price = round_price(state.price * factor, asset.sz_decimals)
            qty = _lot(size, asset) * unit
            bar.c = state.price
            bar.h = max(bar.h, state.price)
            bar.low = min(bar.low, state.price)
            bar.v += qty
            bar.n += 1
        return bar

    def _bar_at(self, state: _CoinState, t_ms: int) -> Bar:
        open_ms = t_ms - t_ms % MINUTE_MS
        if state.bars and state.bars[-1].open_ms == open_ms:
            return state.bars[-1]
        p = state.price
        bar = Bar(
            state.asset.name, "1m", open_ms, open_ms + MINUTE_MS - 1, p, p, p, p, Decimal(0), 0
        )
        state.bars.append(bar)
        return bar

    # --- listing changes -------------------------------------------------------------------

    def list_asset(self, asset: SimAsset) -> None:
        """List a new perp at the end of the universe (its trades start with the next tick;
        from then on the RNG draws include it)."""
        if asset.name in self._coins:
            raise ValueError(f"{asset.name} is already in the universe")
        self.assets = (*self.assets, asset)
        self._coins[asset.name] = _CoinState(asset, round_price(asset.price, asset.sz_decimals))

    def delist_asset(self, coin: str) -> None:
        """Delist a perp: it keeps its slot with ``isDelisted`` and a frozen price."""
        state = self._coins[coin]
        state.asset = replace(state.asset, delisted=True)
        self.assets = tuple(state.asset if a.name == coin else a for a in self.assets)

    # --- reads -----------------------------------------------------------------------------

    def asset(self, coin: str) -> SimAsset | None:
        state = self._coins.get(coin)
        return state.asset if state else None

    def price(self, coin: str) -> Decimal:
        return self._coins[coin].price

    def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[Bar]:
        """Bars overlapping [start_ms, end_ms] (the forming one included), ascending."""
        state = self._coins[coin]
        step = INTERVAL_MS[interval]
        out: list[Bar] = []
        for bar in state.bars:
            t = bar.open_ms - bar.open_ms % step
            if t + step - 1 < start_ms or t > end_ms:
                continue
            if interval == "1m":
                out.append(replace(bar))
            elif out and out[-1].open_ms == t:
                agg = out[-1]
                agg.h, agg.low, agg.c = max(agg.h, bar.h), min(agg.low, bar.low), bar.c
                agg.v += bar.v
                agg.n += bar.n
            else:
                out.append(replace(bar, interval=interval, open_ms=t, close_ms=t + step - 1))
        return out[-MAX_BARS:]

    def forming_bar(self, coin: str, interval: str = "1m") -> Bar | None:
        bars = self.candles(coin, interval, self.now_ms, self.now_ms)
        return bars[-1] if bars else None

    def mids(self) -> dict[str, str]:
        """The allMids map: perps (delisted frozen) and the extra spot/outcome keys, sorted."""
        out = dict(self.extra_mids)
        for name, state in self._coins.items():
            out[name] = fmt_decimal(state.price)
        return dict(sorted(out.items()))

    def funding_rate(self, coin: str, hour: int) -> tuple[Decimal, Decimal, int]:
        """(hourly rate, premium, settlement time) of one hour, a pure function of the seed."""
        rng = random.Random(f"{self.seed}:funding:{coin}:{hour}")
        premium = Decimal(rng.randrange(-8000, 12000)).scaleb(-10 + 3).quantize(Decimal("1e-10"))
        rate = Decimal("0.0000125") + max(Decimal(0), premium / 8 - Decimal("0.0000125"))
        rate = rate.quantize(Decimal("1e-10")).normalize()
        return rate, premium.normalize(), hour * HOUR_MS + 1 + rng.randrange(118)

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
        end = self.now_ms if end_ms is None else min(end_ms, self.now_ms)
        out: list[dict[str, Any]] = []
        # Funding history reaches back 30 days before the simulated history begins.
        hour = max(self._first_hour, start_ms // HOUR_MS - 1)
        while hour * HOUR_MS <= end and len(out) < 500:
            rate, premium, at = self.funding_rate(coin, hour)
            if start_ms <= at <= end:
                out.append(
                    {
                        "coin": coin,
                        "fundingRate": fmt_decimal(rate),
                        "premium": fmt_decimal(premium),
                        "time": at,
                    }
                )
            hour += 1
        return out

    def l2_book(self, coin: str) -> dict[str, Any]:
        state = self._coins[coin]
        asset = state.asset
        levels: list[list[dict[str, Any]]] = [[], []]
        if not asset.delisted:
            step = price_tick(state.price, asset.sz_decimals)
            rng = random.Random(f"{self.seed}:book:{coin}:{self._tick}")
            for side, sign in ((0, -1), (1, 1)):
                px = state.price + sign * step
                for _ in range(20):
                    sz = _lot(rng.random(), asset) * Decimal(1).scaleb(-asset.sz_decimals)
                    levels[side].append(
                        {"px": fmt_decimal(px), "sz": fmt_decimal(sz), "n": 1 + rng.randrange(20)}
                    )
                    px += sign * step * (1 + rng.randrange(3))
        return {"coin": coin, "time": self.now_ms, "levels": levels}

    def meta(self) -> dict[str, Any]:
        universe: list[dict[str, Any]] = []
        for a in self.assets:
            entry: dict[str, Any] = {
                "szDecimals": a.sz_decimals,
                "name": a.name,
                "maxLeverage": a.max_leverage,
            }
            if a.margin_table_id is not None:
                entry["marginTableId"] = a.margin_table_id
            if a.only_isolated:
                entry["onlyIsolated"] = True
            if a.delisted:
                entry["isDelisted"] = True
            universe.append(entry)
        tables = [
            [
                tid,
                {
                    "description": d,
                    "marginTiers": [{"lowerBound": lb, "maxLeverage": lev} for lb, lev in tiers],
                },
            ]
            for tid, (d, tiers) in sorted(self.margin_tables.items())
        ]
        return {"universe": universe, "marginTables": tables, "collateralToken": 0}

    def asset_ctxs(self) -> list[dict[str, Any]]:
        hour = self.now_ms // HOUR_MS
        out: list[dict[str, Any]] = []
        for a in self.assets:
            state = self._coins[a.name]
            px = fmt_price(state.price, a.sz_decimals)
            prev = state.hourly_open.get(
                hour - 23, min(state.hourly_open.items())[1] if state.hourly_open else state.price
            )
            day_bars = [b for b in state.bars if b.open_ms > self.now_ms - 86_400_000]
            base_vlm = sum((b.v for b in day_bars), Decimal(0))
            ntl_vlm = sum((b.v * b.c for b in day_bars), Decimal(0))
            if a.delisted:
                ctx: dict[str, Any] = {
                    "funding": "0.0",
                    "openInterest": "0.0",
                    "prevDayPx": px,
                    "dayNtlVlm": "0.0",
                    "premium": None,
                    "oraclePx": px,
                    "markPx": px,
                    "midPx": None,
                    "impactPxs": None,
                    "dayBaseVlm": "0.0",
                }
            else:
                rate, premium, _ = self.funding_rate(a.name, hour)
                book = self.l2_book(a.name)["levels"]
                bid, ask = Decimal(book[0][0]["px"]), Decimal(book[1][0]["px"])
                oi = _lot(random.Random(f"{self.seed}:oi:{a.name}").random(), a) * 1000
                ctx = {
                    "funding": fmt_decimal(rate),
                    "openInterest": fmt_decimal(Decimal(oi).scaleb(-a.sz_decimals)),
                    "prevDayPx": fmt_price(prev, a.sz_decimals),
                    "dayNtlVlm": fmt_decimal(ntl_vlm),
                    "premium": fmt_decimal(premium),
                    "oraclePx": px,
                    "markPx": px,
                    "midPx": fmt_decimal((bid + ask) / 2),
                    "impactPxs": [fmt_decimal(bid), fmt_decimal(ask)],
                    "dayBaseVlm": fmt_decimal(base_vlm),
                }
            out.append(ctx)
        return out

    def predicted_fundings(self) -> list[list[Any]]:
        hour = self.now_ms // HOUR_MS
        out: list[list[Any]] = []
        for a in sorted(self.assets, key=lambda x: x.name):
            if a.delisted:
                continue
            rate, _, _ = self.funding_rate(a.name, hour)
            nxt = (hour + 1) * HOUR_MS
            eight = (self.now_ms // (8 * HOUR_MS) + 1) * 8 * HOUR_MS
            rng = random.Random(f"{self.seed}:pf:{a.name}:{hour}")
            other = fmt_decimal(Decimal(rng.randrange(-5, 12)).scaleb(-5))
            venues: list[list[Any]] = [
                [
                    "BinPerp",
                    {"fundingRate": other, "nextFundingTime": eight, "fundingIntervalHours": 8},
                ],
                [
                    "HlPerp",
                    {
                        "fundingRate": fmt_decimal(rate),
                        "nextFundingTime": nxt,
                        "fundingIntervalHours": 1,
                    },
                ],
                # Not every coin is listed everywhere: the venue sends null then.
                [
                    "BybitPerp",
                    None
                    if a.name.startswith("k")
                    else {
                        "fundingRate": other,
                        "nextFundingTime": eight,
                        "fundingIntervalHours": 8,
                    },
                ],
            ]
            out.append([a.name, venues])
        return out


def _lot(u: float, asset: SimAsset) -> int:
    """A trade size in lots (10^-szDecimals coins) worth roughly 50 to 5000 USD."""
    usd = 50 * math.exp(u * math.log(100))
    coins = usd / float(asset.price)
    return max(1, int(coins * 10**asset.sz_decimals))
