"""A local Gamma server (127.0.0.1) fed by a deterministic market simulator.

It speaks the protocol of research/polymarket.md §5: bare arrays on ``/events`` and
``/markets`` (page size capped, the exact 422 past offset 2000, ``closed`` defaulting to true
on ``/events`` and false on ``/markets``), the keyset envelope on ``/events/keyset`` and
``/markets/keyset`` (opaque ``next_cursor`` tied to the query, honoured as ``after_cursor``,
``cursor`` ignored, pages clamped to 100, ``next_cursor`` absent on the last page), single
objects on ``/events/{id}`` and ``/markets/{id}``, and ``/status``.

Objects come in the recorded shapes: string-encoded ``outcomes``/``outcomePrices``/
``clobTokenIds``, numbers both as strings and numbers, zero values omitted, ``closedTime``
as ``2024-11-06 15:17:41+00`` on markets and ISO ``Z`` on events. Time comes from a
WallClock, so under MockClock markets end, close and resolve as the test's time moves. The
recorded fixture objects can be served beside the simulated ones.

``Faults`` makes the next N answers misbehave (429 with Retry-After, 500, hang, malformed
JSON, truncated body, a missing ``id``, an extra unknown field).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from marketmem.clock import SystemClock, WallClock
from marketmem.venues.serve import serve_asgi

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
OFFSET_LIMIT = 2000
KEYSET_MAX = 100
LEGACY_MAX = {"events": 500, "markets": 100}
OFFSET_TOO_LARGE = (
    b'{"type":"validation error","error":"offset too large, use /markets/keyset for deeper '
    b'pagination"}'
)
FAULT_KINDS = (
    "429",
    "500",
    "hang",
    "malformed",
    "truncated",
    "missing_field",
    "unknown_field",
)

Obj = dict[str, Any]


def iso_z(ms: int, *, micros: bool = False) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    text = dt.isoformat(timespec="microseconds" if micros else "seconds")
    return text.replace("+00:00", "Z")


def pg_time(ms: int) -> str:
    """Market ``closedTime``: ``2024-11-06 15:17:41+00``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def _parse_time(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


@dataclass
class SimMarket:
    id: str
    question: str
    slug: str
    start_ms: int
    end_ms: int
    condition_id: str
    token_ids: tuple[str, str]
    outcomes: tuple[str, str] = ("Yes", "No")
    base_price: float = 0.5
    volume: float = 0.0
    liquidity: float = 0.0
    # Once closed: the winning outcome index; None settles void (["0", "0"]).
    winner: int | None = 0
    # Explicit settlement prices (e.g. a fractional legacy settlement) instead of the winner.
    settlement: tuple[str, str] | None = None
    resolve_after_ms: int = HOUR_MS
    close_at_ms: int | None = None  # closes early at this time
    archived: bool = False
    phase: float = 0.0

    def closed_ms(self) -> int:
        return (
            self.close_at_ms
            if self.close_at_ms is not None
            else self.end_ms + self.resolve_after_ms
        )

    def is_closed(self, now_ms: int) -> bool:
        return now_ms >= self.closed_ms()

    def prices(self, now_ms: int) -> list[str] | None:
        if self.is_closed(now_ms):
            if self.settlement is not None:
                return list(self.settlement)
            if self.winner is None:
                return ["0", "0"]
            return ["1", "0"] if self.winner == 0 else ["0", "1"]
        if self.volume == 0:
            return None  # absent before the first trade
        p = self.price(now_ms)
        return [f"{p:.3f}".rstrip("0"), f"{1 - p:.3f}".rstrip("0")]

    def price(self, now_ms: int) -> float:
        # Moves every 5 minutes, deterministically.
        step = now_ms // 300_000
        p = self.base_price + 0.04 * math.sin(step / 7 + self.phase)
        return min(0.99, max(0.01, round(p, 3)))


@dataclass
class SimEvent:
    id: str
    slug: str
    title: str
    start_ms: int
    tags: list[tuple[str, str, str]]  # (id, label, slug)
    markets: list[SimMarket] = field(default_factory=list)
    archived: bool = False


def market_obj(m: SimMarket, ev: SimEvent, now_ms: int, *, nest_event: bool) -> Obj:
    closed = m.is_closed(now_ms)
    d: Obj = {
        "id": m.id,
        "question": m.question,
        "conditionId": m.condition_id,
        "slug": m.slug,
        "endDate": iso_z(m.end_ms),
        "startDate": iso_z(m.start_ms, micros=True),
        "outcomes": json.dumps(list(m.outcomes)),
        "active": True,
        "closed": closed,
        "archived": m.archived or ev.archived,
        "new": False,
        "clobTokenIds": json.dumps(list(m.token_ids)),
        "umaResolutionStatuses": "[]",
        "createdAt": iso_z(m.start_ms - 60_000, micros=True),
        "endDateIso": iso_z(m.end_ms)[:10],
    }
    prices = m.prices(now_ms)
    if prices is not None:
        d["outcomePrices"] = json.dumps(prices)
    if m.volume:
        d["volume"] = repr(m.volume)
        d["volumeNum"] = m.volume
        d["volume24hr"] = round(m.volume / 10, 6)
    if closed:
        d["closedTime"] = pg_time(m.closed_ms())
        d["umaResolutionStatus"] = "resolved"
        d["acceptingOrders"] = False
        if m.volume:
            d["lastTradePrice"] = m.price(m.closed_ms())
    else:
        if m.liquidity:
            d["liquidity"] = repr(m.liquidity)
            d["liquidityNum"] = m.liquidity
        if m.volume:
            p = m.price(now_ms)
            d["bestBid"] = round(p - 0.005, 3)
            d["bestAsk"] = round(p + 0.005, 3)
            d["lastTradePrice"] = p
            d["acceptingOrders"] = True
            d["updatedAt"] = iso_z(now_ms - now_ms % 300_000, micros=True)
    if nest_event:
        d["events"] = [event_obj(ev, now_ms, with_markets=False)]
    return d


def event_obj(ev: SimEvent, now_ms: int, *, with_markets: bool = True) -> Obj:
    closed = all(m.is_closed(now_ms) for m in ev.markets) if ev.markets else False
    d: Obj = {
        "id": ev.id,
        "ticker": ev.slug,
        "slug": ev.slug,
        "title": ev.title,
        "startDate": iso_z(ev.start_ms, micros=True),
        "creationDate": iso_z(ev.start_ms, micros=True),
        "endDate": iso_z(max((m.end_ms for m in ev.markets), default=ev.start_ms)),
        "active": True,
        "closed": closed,
        "archived": ev.archived,
        "tags": [{"id": i, "label": label, "slug": slug} for i, label, slug in ev.tags],
    }
    volume = sum(m.volume for m in ev.markets)
    if volume:
        d["volume"] = volume
        d["volume24hr"] = round(volume / 10, 6)
    liquidity = sum(m.liquidity for m in ev.markets if not m.is_closed(now_ms))
    if liquidity:
        d["liquidity"] = liquidity
    if closed:
        d["closedTime"] = iso_z(max(m.closed_ms() for m in ev.markets))
    if with_markets:
        d["markets"] = [market_obj(m, ev, now_ms, nest_event=False) for m in ev.markets]
    return d


CRYPTO = [
    ("BTC", "Bitcoin", "bitcoin", 98_000.0),
    ("ETH", "Ethereum", "ethereum", 3_600.0),
    ("SOL", "Solana", "solana", 180.0),
    ("HYPE", "Hyperliquid", "hyperliquid", 38.0),
    ("XRP", "XRP", "xrp", 2.4),
]
TAGS = {
    "crypto": ("21", "Crypto", "crypto"),
    "crypto-prices": ("1312", "Crypto Prices", "crypto-prices"),
    "up-or-down": ("102127", "Up or Down", "up-or-down"),
    "bitcoin": ("235", "Bitcoin", "bitcoin"),
    "ethereum": ("39", "Ethereum", "ethereum"),
    "solana": ("818", "Solana", "solana"),
    "hyperliquid": ("102449", "Hyperliquid", "hyperliquid"),
    "xrp": ("101267", "XRP", "xrp"),
    "politics": ("2", "Politics", "politics"),
    "doge": ("101863", "DOGE", "doge"),
    "sports": ("1", "Sports", "sports"),
    "soccer": ("100350", "Soccer", "soccer"),
    "economy": ("100328", "Economy", "economy"),
    "fed": ("159", "Fed", "fed"),
}


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%B %-d")


class Faults:
    """The next answers' misbehaviour, consumed one per API request, in order."""

    def __init__(self) -> None:
        self._queue: deque[tuple[str, float] | None] = deque()

    def add(self, kind: str, count: int = 1, *, arg: float | None = None, after: int = 0) -> None:
        """Make ``count`` answers misbehave, once ``after`` more answers were normal.

        ``arg``: Retry-After seconds for 429 (default 1), sleep seconds for hang (3600).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        default = 1.0 if kind == "429" else 3600.0
        self._queue.extend([None] * after)
        for _ in range(count):
            self._queue.append((kind, default if arg is None else arg))

    def pop(self) -> tuple[str, float] | None:
        return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)


class Simulator:
    """Deterministic Gamma data (one ``seed``) whose time is the given WallClock."""

    def __init__(
        self,
        clock: WallClock,
        *,
        seed: int = 7,
        filler_events: int = 0,
        fixtures_dir: Path | None = None,
        catalog: bool = True,
    ) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.start_ms = clock.now_ms()
        self.events: list[SimEvent] = []
        self._next_event = 300_000
        self._next_market = 2_000_000
        self.recorded_events: list[Obj] = []
        self.recorded_markets: list[Obj] = []
        self.faults = Faults()
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # Emulate the client bug of research §2.2: a server that never advances the cursor.
        self.ignore_after_cursor = False
        if catalog:
            self._catalog()
        for i in range(filler_events):
            self.add_event(
                f"Will Team {i} win match {i}?",
                tags=["sports"],
                markets=[(f"Will Team {i} win match {i}?", 3 * DAY_MS + i * HOUR_MS)],
                volume=0.0 if i % 3 == 0 else 1000.0 + i,
            )
        if fixtures_dir is not None:
            self.load_recorded(fixtures_dir)

    # --- building the catalog ------------------------------------------------------------

    def add_event(
        self,
        title: str,
        *,
        tags: list[str],
        markets: list[tuple[str, int]],
        slug: str | None = None,
        volume: float | None = None,
        winner: int | None = 0,
        resolve_after_ms: int = HOUR_MS,
    ) -> SimEvent:
        """An event whose markets are (question, end offset in ms from the simulator's start)."""
        self._next_event += 1
        ev = SimEvent(
            id=str(self._next_event),
            slug=slug or _slugify(title),
            title=title,
            start_ms=self.start_ms - DAY_MS,
            tags=[TAGS.get(t, (str(zlib.crc32(t.encode()) % 100_000), t.title(), t)) for t in tags],
        )
        for question, end_offset in markets:
            self._next_market += 1
            vol = volume if volume is not None else round(self.rng.uniform(500, 2_000_000), 2)
            ev.markets.append(
                SimMarket(
                    id=str(self._next_market),
                    question=question,
                    slug=_slugify(question),
                    start_ms=ev.start_ms,
                    end_ms=self.start_ms + end_offset,
                    condition_id="0x" + self.rng.randbytes(32).hex(),
                    token_ids=(
                        str(self.rng.getrandbits(255)),
                        str(self.rng.getrandbits(255)),
                    ),
                    base_price=round(self.rng.uniform(0.05, 0.95), 3),
                    volume=vol,
                    liquidity=round(vol / 20, 2) if vol else 0.0,
                    winner=winner,
                    resolve_after_ms=resolve_after_ms,
                    phase=self.rng.uniform(0, 6.28),
                )
            )
        self.events.append(ev)
        return ev

    def _catalog(self) -> None:
        t0 = self.start_ms
        for i, (sym, name, tag, price) in enumerate(CRYPTO):
            tags = ["crypto", "crypto-prices", tag]
            day = _day(t0 + 6 * HOUR_MS)
            strikes = [round(price * f, -1 if price > 100 else 0) for f in (0.95, 1.0, 1.05)]
            self.add_event(
                f"{name} above ___ on {day}?",
                tags=[*tags, "multi-strikes"],
                markets=[
                    (f"Will the price of {name} be above ${s:,.0f} on {day}?", (6 + i) * HOUR_MS)
                    for s in strikes
                ],
            )
            self.add_event(
                f"{name} Up or Down - {day}, 12:00PM-12:15PM ET",
                slug=f"{sym.lower()}-updown-15m-{(t0 + 45 * 60_000) // 1000}",
                tags=[*tags, "up-or-down", "15M", "recurring"],
                markets=[(f"{name} Up or Down - {day}, 12:00PM-12:15PM ET", 45 * 60_000)],
                winner=i % 2,
            )
            self.add_event(
                f"{name} all time high by {_day(t0 + 40 * HOUR_MS)}?",
                tags=tags,
                markets=[(f"{name} all time high by {_day(t0 + 40 * HOUR_MS)}?", 40 * HOUR_MS)],
                winner=1,
            )
            self.add_event(
                f"What price will {name} hit by {_day(t0 + 10 * DAY_MS)}?",
                tags=tags,
                markets=[
                    (
                        f"Will {name} reach ${price * 1.2:,.0f} by {_day(t0 + 10 * DAY_MS)}?",
                        10 * DAY_MS,
                    )
                ],
            )
            self.add_event(
                f"{name} above ${price:,.0f} on {_day(t0 - 2 * DAY_MS)}?",
                tags=tags,
                markets=[
                    (
                        f"Will {name} close above ${price:,.0f} on {_day(t0 - 2 * DAY_MS)}?",
                        -2 * DAY_MS,
                    )
                ],
                winner=i % 2,
            )
            self.add_event(
                f"{name} above ${price * 0.8:,.0f} on {_day(t0 - 20 * DAY_MS)}?",
                tags=tags,
                markets=[
                    (
                        f"Will {name} be above ${price * 0.8:,.0f} on {_day(t0 - 20 * DAY_MS)}?",
                        -20 * DAY_MS,
                    )
                ],
            )
        # False friends and unrelated markets.
        self.add_event(
            "DOGE federal spending cuts in 2025?",
            tags=["politics", "doge"],
            markets=[("Will DOGE cut more than $250b in federal spending in 2025?", 30 * DAY_MS)],
        )
        self.add_event(
            "Sol Campbell next manager?",
            tags=["sports", "soccer"],
            markets=[("Will Sol Campbell be named manager of a Premier League club?", 20 * DAY_MS)],
        )
        self.add_event(
            "Fed decision in December?",
            tags=["economy", "fed"],
            markets=[("Will the Fed cut rates by 25 bps in December?", 12 * DAY_MS)],
        )
        self.add_event(
            "Ethena USDe supply?",
            tags=["crypto"],
            markets=[("Will Ethena's USDe supply exceed $10B by June 30?", 60 * DAY_MS)],
        )

    def load_recorded(self, folder: Path) -> None:
        """Serve the recorded Gamma objects of ``folder`` (as recorded) beside the simulated."""

        def load(name: str) -> Any:
            path = folder / name
            return json.loads(path.read_bytes()) if path.exists() else None

        for name in ("gamma_events.json", "gamma_events_negrisk_2_markets.json"):
            self.recorded_events.extend(load(name) or [])
        search = load("gamma_public_search.json")
        if isinstance(search, dict):
            self.recorded_events.extend(search.get("events") or [])
        for name in (
            "gamma_market.json",
            "gamma_market_with_event.json",
            "gamma_market_closed_resolved.json",
            "gamma_market_closed_legacy_nonbinary.json",
        ):
            obj = load(name)
            if isinstance(obj, dict):
                self.recorded_markets.append(obj)
        self.recorded_markets.extend(load("gamma_markets.json") or [])

    def market(self, market_id: str) -> SimMarket:
        for ev in self.events:
            for m in ev.markets:
                if m.id == market_id:
                    return m
        raise KeyError(market_id)

    # --- listing ---------------------------------------------------------------------------

    def list_events(self, params: list[tuple[str, str]], *, default_closed: bool) -> list[Obj]:
        now = self.clock.now_ms()
        with_markets = _one(params, "include_markets") != "false"
        objs = [event_obj(ev, now, with_markets=with_markets) for ev in self.events]
        objs += [_strip_markets(o) if not with_markets else o for o in self.recorded_events]
        return _order(_filter(objs, params, default_closed), params)

    def list_markets(self, params: list[tuple[str, str]], *, default_closed: bool) -> list[Obj]:
        now = self.clock.now_ms()
        objs = []
        include_tag = _one(params, "include_tag") == "true"
        for ev in self.events:
            for m in ev.markets:
                o = market_obj(m, ev, now, nest_event=True)
                if include_tag:
                    o["tags"] = [{"id": i, "label": lb, "slug": s} for i, lb, s in ev.tags]
                objs.append(o)
        objs += self.recorded_markets
        return _order(_filter(objs, params, default_closed), params)

    def event_by_id(self, event_id: str) -> Obj | None:
        now = self.clock.now_ms()
        for ev in self.events:
            if ev.id == event_id:
                return event_obj(ev, now)
        return next((o for o in self.recorded_events if str(o.get("id")) == event_id), None)

    def market_by_id(self, market_id: str) -> Obj | None:
        now = self.clock.now_ms()
        for ev in self.events:
            for m in ev.markets:
                if m.id == market_id:
                    return market_obj(m, ev, now, nest_event=True)
        return next((o for o in self.recorded_markets if str(o.get("id")) == market_id), None)


def _slugify(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(p for p in out.split("-") if p)


def _one(params: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in params if k == name), None)


def _all(params: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in params if k == name]


def _strip_markets(o: Obj) -> Obj:
    return {k: v for k, v in o.items() if k != "markets"}


def _flag(params: list[tuple[str, str]], name: str, default: bool | None) -> bool | None:
    v = _one(params, name)
    return default if v is None else v.lower() == "true"


def _filter(objs: list[Obj], params: list[tuple[str, str]], default_closed: bool) -> list[Obj]:
    closed = _flag(params, "closed", default_closed)
    active = _flag(params, "active", None)
    archived = _flag(params, "archived", None)
    ids = set(_all(params, "id"))
    slugs = set(_all(params, "slug"))
    tag_slug = _one(params, "tag_slug")
    end_min = _parse_time(_one(params, "end_date_min"))
    end_max = _parse_time(_one(params, "end_date_max"))
    out = []
    for o in objs:
        if closed is not None and bool(o.get("closed", False)) != closed:
            continue
        if active is not None and bool(o.get("active", False)) != active:
            continue
        if archived is not None and bool(o.get("archived", False)) != archived:
            continue
        if ids and str(o.get("id")) not in ids:
            continue
        if slugs and o.get("slug") not in slugs:
            continue
        if tag_slug and tag_slug not in {t.get("slug") for t in o.get("tags") or []}:
            continue
        end = _parse_time(o.get("endDate"))
        if end_min is not None and (end is None or end < end_min):
            continue
        if end_max is not None and (end is None or end > end_max):
            continue
        out.append(o)
    return out


def _id_key(o: Obj) -> tuple[int, str]:
    raw = str(o.get("id") or "")
    return (int(raw), raw) if raw.isdigit() else (-1, raw)


def _order(objs: list[Obj], params: list[tuple[str, str]]) -> list[Obj]:
    order = _one(params, "order")
    ascending = _one(params, "ascending") == "true"
    if order == "endDate":
        return sorted(objs, key=lambda o: o.get("endDate") or "", reverse=not ascending)
    if order == "id":
        return sorted(objs, key=_id_key, reverse=not ascending)
    return sorted(objs, key=_id_key)


def _cursor_sig(params: list[tuple[str, str]]) -> str:
    kept = sorted((k, v) for k, v in params if k not in ("limit", "after_cursor", "cursor"))
    return hashlib.sha256(repr(kept).encode()).hexdigest()[:16]


def _encode_cursor(offset: int, sig: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{sig}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset, sig = raw.split(":", 1)
        return int(offset), sig
    except (ValueError, UnicodeDecodeError):
        return None


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        msgspec.json.encode(obj), status_code=status, media_type="application/json", headers=headers
    )


def _validation(error: str) -> Response:
    return _json({"type": "validation error", "error": error}, 422)


def _limit(params: list[tuple[str, str]], default: int, cap: int) -> int:
    raw = _one(params, "limit")
    try:
        n = int(raw) if raw is not None else default
    except ValueError:
        n = default
    return max(0, min(n, cap))


def _mangle(kind: str, body: Any) -> bytes:
    """The body of a body-level fault."""
    if kind == "malformed":
        return b'{"events": [{"id": "1", '
    raw = msgspec.json.encode(body)
    if kind == "truncated":
        return raw[: max(1, len(raw) // 2)]
    body = msgspec.json.decode(raw)  # a copy: recorded objects are shared
    items: list[Obj] = []
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict):
        for key in ("events", "markets"):
            items.extend(body.get(key) or [])
        if "id" in body:
            items.append(body)
    if kind == "missing_field":
        for o in items:
            o.pop("id", None)
    elif kind == "unknown_field":
        for o in items:
            o["zzUnexpectedField"] = {"nested": [1, 2, 3]}
        if isinstance(body, dict):
            body["zzEnvelopeExtra"] = True
    return msgspec.json.encode(body)


def create_app(sim: Simulator) -> Starlette:
    def params_of(request: Request) -> list[tuple[str, str]]:
        return list(request.query_params.multi_items())

    async def answer(
        request: Request, build: Callable[[list[tuple[str, str]]], Response | Any]
    ) -> Response:
        params = params_of(request)
        sim.requests.append((request.url.path, params))
        sim.in_flight += 1
        sim.max_in_flight = max(sim.max_in_flight, sim.in_flight)
        try:
            fault = sim.faults.pop()
            if fault is not None:
                kind, arg = fault
                if kind == "429":
                    return _json({"error": "Too Many Requests"}, 429, {"Retry-After": f"{arg:g}"})
                if kind == "500":
                    return Response(b"internal server error", status_code=500)
                if kind == "hang":
                    await trio.sleep(arg)
            result = build(params)
            if isinstance(result, Response):
                return result
            if fault is not None and fault[0] != "hang":
                return Response(_mangle(fault[0], result), media_type="application/json")
            return _json(result)
        finally:
            sim.in_flight -= 1

    def keyset(kind: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            def build(params: list[tuple[str, str]]) -> Any:
                if _one(params, "offset") is not None:
                    return _validation("offset is not supported on keyset endpoints")
                limit = _limit(params, 20, KEYSET_MAX)
                sig = _cursor_sig(params)
                start = 0
                after = None if sim.ignore_after_cursor else _one(params, "after_cursor")
                if after is not None:
                    decoded = _decode_cursor(after)
                    if decoded is None or decoded[1] != sig:
                        return _validation("invalid after_cursor for this query")
                    start = decoded[0]
                if kind == "events":
                    items = sim.list_events(params, default_closed=True)
                else:
                    items = sim.list_markets(params, default_closed=False)
                body: Obj = {
                    "$schema": f"https://gamma-api.polymarket.com/schemas/"
                    f"{kind.title()}KeysetListResponse.json",
                    kind: items[start : start + limit],
                }
                if start + limit < len(items):
                    body["next_cursor"] = _encode_cursor(start + limit, sig)
                return body

            return await answer(request, build)

        return handler

    def legacy(kind: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            def build(params: list[tuple[str, str]]) -> Any:
                offset = int(_one(params, "offset") or 0)
                if offset > OFFSET_LIMIT:
                    return Response(
                        OFFSET_TOO_LARGE, status_code=422, media_type="application/json"
                    )
                limit = _limit(params, 20, LEGACY_MAX[kind])
                if kind == "events":
                    items = sim.list_events(params, default_closed=True)
                else:
                    items = sim.list_markets(params, default_closed=False)
                return items[offset : offset + limit]

            return await answer(request, build)

        return handler

    def single(kind: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            key = request.path_params["id"]

            def build(params: list[tuple[str, str]]) -> Any:
                obj = sim.event_by_id(key) if kind == "events" else sim.market_by_id(key)
                if obj is None:
                    return _json(
                        {"type": "not found", "error": f"{kind[:-1]} {key} not found"}, 404
                    )
                return obj

            return await answer(request, build)

        return handler

    async def status(request: Request) -> Response:
        return Response(b"OK", media_type="text/plain")

    return Starlette(
        routes=[
            Route("/status", status),
            Route("/events/keyset", keyset("events")),
            Route("/markets/keyset", keyset("markets")),
            Route("/events", legacy("events")),
            Route("/markets", legacy("markets")),
            Route("/events/{id}", single("events")),
            Route("/markets/{id}", single("markets")),
        ]
    )


async def serve_polymarket_venue(
    sim: Simulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``sim`` until cancelled; ``task_status.started(base_url)``."""
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(partial(serve_asgi, create_app(sim), host=host, port=port))
        task_status.started(f"http://{host}:{bound}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Gamma (Polymarket) venue")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--filler", type=int, default=0, help="extra filler events (paging)")
    parser.add_argument("--fixtures", type=Path, help="also serve the recorded payloads here")
    args = parser.parse_args(argv)
    sim = Simulator(
        SystemClock(), seed=args.seed, filler_events=args.filler, fixtures_dir=args.fixtures
    )

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(partial(serve_polymarket_venue, sim, port=args.port))
            print(f"Gamma venue on {url}", flush=True)

    trio.run(run)


if __name__ == "__main__":
    main()
