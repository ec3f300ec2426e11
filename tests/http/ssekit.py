"""Helpers of the live-stream tests: a pipeline with the stream's hub and feed on MockClock,
an in-process ASGI client that reads the answer as it is sent (httpx's ASGI transport waits
for the whole body, which a stream never ends), SSE parsing, and bars and mids to publish."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import (
    ApiTokenCreated,
    AssetRegistryBatch,
    Candle,
    CandleBatch,
    HyperliquidAsset,
    MidBatch,
    MidPrice,
)
from marketmem.executors import inline_executor
from marketmem.http.app import create_app
from marketmem.http.auth import issue_token
from marketmem.http.feed import BusFeed
from marketmem.http.pool import ReadPool
from marketmem.http.stream import StreamHub
from marketmem.pipeline import open_pipeline
from marketmem.runtime import Runtime

T0_MS = 1_795_564_800_000  # 2026-11-25T00:00:00Z, a minute boundary
MINUTE = 60_000
COINS = ("BTC", "ETH", "SOL", "HYPE")


class InlinePool(ReadPool):
    """Reads on the trio thread: a worker thread would let MockClock jump meanwhile."""

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return self.call(fn, *args)


# --- SSE on the wire ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sse:
    """One block of the stream: an event (kind, id, data) or a comment."""

    kind: str | None
    id: str | None
    data: Any
    comment: str | None = None
    retry: int | None = None


def parse_sse(raw: bytes) -> tuple[list[Sse], bytes]:
    """The complete blocks of ``raw`` and what is left of an incomplete one."""
    out: list[Sse] = []
    *blocks, rest = raw.split(b"\n\n")
    for block in blocks:
        kind = event_id = data = comment = retry = None
        for line in block.decode().split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "":
                comment = value
            elif name == "event":
                kind = value
            elif name == "id":
                event_id = value
            elif name == "data":
                assert data is None, "one data line per event"
                data = msgspec.json.decode(value)
            elif name == "retry":
                retry = int(value)
            else:
                raise AssertionError(f"unknown SSE field in {block!r}")
        out.append(Sse(kind, event_id, data, comment, retry))
    return out, rest


# --- an in-process ASGI client ---------------------------------------------------------------------


@dataclass(eq=False)
class AsgiStream:
    """One GET on the app. ``reading`` False: every body send blocks (a client whose socket
    does not drain) until ``unstick()``; ``disconnect()`` is the client leaving."""

    app: Any
    target: str
    headers: dict[str, str]
    reading: bool = True
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    ended: bool = False
    events: list[Sse] = field(default_factory=list)
    sends: int = 0
    done: trio.Event = field(default_factory=trio.Event)
    _left: trio.Event = field(default_factory=trio.Event)
    _flowing: trio.Event = field(default_factory=trio.Event)
    _arrived: trio.Event = field(default_factory=trio.Event)
    _rest: bytes = b""

    def scope(self) -> dict[str, Any]:
        path, _, query = self.target.partition("?")
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("t", 80),
        }

    async def run(self) -> None:
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self._left.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.response_headers = {
                    k.decode(): v.decode() for k, v in message.get("headers", [])
                }
                return
            if self.status == 200 and not self.reading:
                await self._flowing.wait()
            self.sends += 1
            self.raw += message.get("body", b"")
            events, self._rest = parse_sse(self._rest + message.get("body", b""))
            self.events += events
            if not message.get("more_body", False):
                self.ended = True
            self._arrived.set()
            self._arrived = trio.Event()

        try:
            await self.app(self.scope(), receive, send)
        finally:
            self.done.set()

    def unstick(self) -> None:
        self.reading = True
        self._flowing.set()

    def disconnect(self) -> None:
        self._left.set()

    def json(self) -> Any:
        return msgspec.json.decode(self.raw)

    def of(self, kind: str) -> list[Sse]:
        return [e for e in self.events if e.kind == kind]

    async def until(self, check: Callable[[AsgiStream], bool], timeout_s: float = 600) -> None:
        with trio.fail_after(timeout_s):
            while not check(self):
                await self._arrived.wait()


# --- the world: pipeline, hub, feed, app -----------------------------------------------------------


def listing(coins: tuple[str, ...], seen_ms: int) -> AssetRegistryBatch:
    return AssetRegistryBatch(
        assets=[
            HyperliquidAsset(
                coin=c,
                asset_index=i,
                sz_decimals=3,
                max_leverage=20,
                margin_table_id=None,
                margin_tiers=None,
                is_delisted=False,
                only_isolated=False,
                margin_mode=None,
                first_seen_ms=seen_ms,
                last_seen_ms=seen_ms,
            )
            for i, c in enumerate(coins)
        ],
        taxonomy=[],
        categories=[],
    )


@dataclass
class Live:
    rt: Runtime
    config: Config
    clock: TrioWallClock
    hub: StreamHub
    feed: BusFeed
    app: Any
    token: str
    nursery: trio.Nursery

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def token_for(self, user: str) -> str:
        issued = issue_token()
        assert self.rt.writer is not None
        await self.rt.writer.execute(
            ApiTokenCreated(
                token_id=issued.token_id,
                user=user,
                token_hash=issued.token_hash,
                created_at_ms=self.clock.now_ms(),
            )
        )
        return issued.token

    def open(
        self, query: str, *, token: str | None = None, reading: bool = True, **headers: str
    ) -> AsgiStream:
        head = {**self.auth(token), **{k.replace("_", "-"): v for k, v in headers.items()}}
        stream = AsgiStream(self.app, f"/api/v1/stream?{query}", head, reading=reading)
        self.nursery.start_soon(stream.run)
        return stream

    def subscribers(self, name: str = "http-stream") -> list[Any]:
        return [s for s in self.rt.bus.statistics().subscribers if s.name == name]


@asynccontextmanager
async def live_world(config: Config, *, coins: tuple[str, ...] = COINS) -> AsyncIterator[Live]:
    """The pipeline on MockClock (inline SQLite) with the listing and a token stored, the
    stream's hub and bus feed reading inline, and the app serving the stream from them."""
    clock = TrioWallClock(T0_MS)
    async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
        assert rt.writer is not None
        await rt.writer.execute(listing(coins, T0_MS))
        pool = InlinePool(config.db_path(), busy_timeout_ms=config.storage.busy_timeout_ms)
        hub = StreamHub(rt.bus, config.http)
        feed = BusFeed(rt.bus, hub, config, clock, pool.run)
        app = create_app(config, clock, pool=pool, streams=hub)
        async with trio.open_nursery() as nursery:
            await nursery.start(hub.run)
            await nursery.start(feed.run)
            world = Live(rt, config, clock, hub, feed, app, "", nursery)
            world.token = await world.token_for("agent")
            yield world
            hub.close()
            nursery.cancel_scope.cancel()


# --- what the tests publish ------------------------------------------------------------------------


def bar(coin: str, minute: int, *, closed: bool, stamp_ms: int, close: float = 100.0) -> Candle:
    """The bar opening ``minute`` minutes after T0, as the stream would store it at ``stamp_ms``."""
    opened = T0_MS + minute * MINUTE
    return Candle(
        coin=coin,
        interval="1m",
        open_time_ms=opened,
        close_time_ms=opened + MINUTE - 1,
        open=100.0,
        high=max(100.0, close) + 1,
        low=min(100.0, close) - 1,
        close=close,
        volume=2.0,
        trades=3,
        closed=closed,
        updated_at_ms=stamp_ms,
    )


class Market:
    """A few coins' bars over virtual time, as the stream publishes them: every push updates
    the forming bar; the first push of a minute closes the bar before it (rollover)."""

    def __init__(self, rt: Runtime, clock: TrioWallClock, coins: tuple[str, ...]) -> None:
        self.rt = rt
        self.clock = clock
        self.coins = coins
        self.forming: dict[str, int] = {}
        self.closed: list[Candle] = []
        self.pushes = 0

    def push_rows(self, coin: str) -> list[Candle]:
        now = self.clock.now_ms()
        minute = (now - T0_MS) // MINUTE
        rows: list[Candle] = []
        before = self.forming.get(coin)
        if before is not None and before < minute:
            done = bar(coin, before, closed=True, stamp_ms=now, close=100.0 + before)
            rows.append(done)
            self.closed.append(done)
        self.forming[coin] = minute
        self.pushes += 1
        rows.append(
            bar(coin, minute, closed=False, stamp_ms=now, close=100.0 + minute + self.pushes % 7)
        )
        return rows

    async def push(self, coin: str) -> None:
        await self.rt.bus.publish(CandleBatch(rows=self.push_rows(coin)))

    async def mids(self) -> list[MidPrice]:
        now = self.clock.now_ms()
        rows = [
            MidPrice(coin=c, bucket_ms=now - now % 5000, price=100.0 + i, observed_at_ms=now)
            for i, c in enumerate(self.coins)
        ]
        await self.rt.bus.publish(MidBatch(rows=rows))
        return rows

    async def run(self, seconds: float, every_s: float = 1.0) -> None:
        """Every coin pushes every ``every_s`` for ``seconds`` of virtual time."""
        end = trio.current_time() + seconds
        while trio.current_time() < end:
            for coin in self.coins:
                await self.push(coin)
            await trio.sleep(every_s)
