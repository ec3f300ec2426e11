"""The clients of ``/api/v1/stream``: each one a lossy bus subscriber with a writer of its own.

``StreamHub`` is what the stream is served from: the bus its live events travel on (the
service's bus under ``run``, a local bus fed from the database under ``serve``; see
``http.feed``), the streams open per token (at most ``[http] stream_max_per_token``, 429
beyond), the coins and kinds they want (the feed reads only those), and the nursery each
client's writer runs in.

A client subscribes ``DROP_OLDEST`` with ``[http] stream_buffer`` events, so publishing to it
never waits. Its writer (``StreamSession.write``) takes what is queued, renders what the client
asked for and sends it in one write; a client whose socket does not drain blocks only its own
writer, while its queue drops its oldest events. When a send goes through again, the writer
tells the client how many events it lost (``lagged``) and reads the candles it missed back
from the database. A ``: keepalive`` comment goes out every ``HEARTBEAT_S`` on trio's clock; at each
one the token is checked again, and a revoked token's stream ends with an ``error`` event.

Writers run in the hub's nursery, not in the request's task: Hypercorn shields its socket
writes from cancellation, so a writer stuck on a client that never reads is freed only when
that socket closes, which Hypercorn does once the request's task has returned. The request's
task waits for its writer or the client's disconnect, then unsubscribes and returns at once.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import trio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from marketmem.bus import Bus, Policy
from marketmem.config import HttpConfig
from marketmem.events import (
    Candle,
    ChannelStatusChange,
    Event,
    LiveCandles,
    LiveHealth,
    LiveMids,
)
from marketmem.http import metrics
from marketmem.http.errors import ApiError
from marketmem.http.sse import (
    HEARTBEAT,
    HEARTBEAT_S,
    REPLAY_HORIZON_MS,
    RESUME_SLACK_MS,
    REVOKED,
    StreamRequest,
    candle_frame,
    health_frame,
    lagged_frame,
    mid_frame,
    opening,
)
from marketmem.storage.reads import Connection
from marketmem.storage.reads.hyperliquid import closed_candles_since

# A read on a read-only connection: ``await reader(fn, *args)`` calls ``fn(conn, *args)``.
Reader = Callable[..., Awaitable[Any]]
# Whether the stream's token is still valid (checked at every heartbeat).
Authorized = Callable[[], Awaitable[bool]]

SUBSCRIBER = "http-stream"
# Queued events a writer renders into one send at most.
BATCH_EVENTS = 256
# Live events whose frames are kept for the clients that have not sent them yet.
RENDERED_EVENTS = 256

_KIND_TYPES: dict[str, type[Event]] = {
    "candle": LiveCandles,
    "mid": LiveMids,
    "health": LiveHealth,
}


# (open time, stamp, frame) of one row; mids carry zeros.
Framed = tuple[int, int, bytes]


class Rendered:
    """One live event as every client sends it: its frames by coin, and the newest stamp of
    its candles."""

    __slots__ = ("by_coin", "kind", "stamp_ms")

    def __init__(self, event: Event) -> None:
        self.by_coin: dict[str, list[Framed]] = {}
        self.stamp_ms = 0
        if isinstance(event, LiveCandles):
            self.kind = "candle"
            for bar in event.rows:
                self.stamp_ms = max(self.stamp_ms, bar.updated_at_ms)
                framed = (bar.open_time_ms, bar.updated_at_ms, candle_frame(bar))
                self.by_coin.setdefault(bar.coin, []).append(framed)
        elif isinstance(event, LiveMids):
            self.kind = "mid"
            for mid in event.rows:
                self.by_coin.setdefault(mid.coin, []).append((0, 0, mid_frame(mid)))
        else:
            # Health is told per stream: what differs from what that stream said before.
            assert isinstance(event, LiveHealth)
            self.kind = "health"


class FrameCache:
    """Each live event rendered once, whatever the number of clients that send it: the last
    ``size`` events by identity (each held, so its identity is not reused while cached)."""

    def __init__(self, size: int = RENDERED_EVENTS) -> None:
        self.size = size
        self._cache: OrderedDict[int, tuple[Event, Rendered]] = OrderedDict()

    def get(self, event: Event) -> Rendered:
        held = self._cache.get(id(event))
        if held is not None and held[0] is event:
            return held[1]
        rendered = Rendered(event)
        self._cache[id(event)] = (event, rendered)
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return rendered


def read_closed_since(conn: Connection, coins: Sequence[str], since_ms: int) -> list[Candle]:
    """Closed bars of ``coins`` stamped from ``since_ms`` on, by open time then coin."""
    bars = [
        bar
        for coin in coins
        for bar in closed_candles_since(
            conn, coin, updated_since_ms=since_ms, open_from_ms=since_ms - REPLAY_HORIZON_MS
        )
    ]
    bars.sort(key=lambda b: (b.open_time_ms, b.coin))
    return bars


class StreamHub:
    def __init__(self, bus: Bus, settings: HttpConfig) -> None:
        self.bus = bus
        self.max_per_token = settings.stream_max_per_token
        self.buffer = settings.stream_buffer
        self.open_by_token: dict[str, int] = {}
        # Coins (and health) wanted by open streams, with how many want each.
        self.coins: Counter[str] = Counter()
        self.health_streams = 0
        self.sessions: set[StreamSession] = set()
        self.frames = FrameCache()
        self.closed = trio.Event()
        self._nursery: trio.Nursery | None = None

    @property
    def accepting(self) -> bool:
        return self._nursery is not None and not self.closed.is_set() and not self.bus.closed

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the writers' nursery until ``close()``; then end every stream (each sends its
        last bytes) and wait for the writers."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self.closed.wait()
                for session in list(self.sessions):
                    session.end()
        finally:
            self._nursery = None
            self.closed.set()

    def close(self) -> None:
        """No new stream; open ones end (the service stops)."""
        self.closed.set()

    def open(
        self,
        token_key: str,
        request: StreamRequest,
        *,
        reader: Reader,
        health: Sequence[ChannelStatusChange],
        now_ms: int,
        authorized: Authorized | None = None,
    ) -> StreamSession:
        """A new client of ``token_key``: subscribed at once. 429 beyond the token's limit."""
        if not self.accepting:
            raise ApiError(503, "stream_unavailable", "the live stream is stopping")
        held = self.open_by_token.get(token_key, 0)
        if held >= self.max_per_token:
            raise ApiError(
                429,
                "too_many_streams",
                f"this token has {held} open stream(s), the limit ([http] stream_max_per_token);"
                " close one first",
            )
        self.open_by_token[token_key] = held + 1
        session = StreamSession(
            self,
            token_key,
            request,
            reader=reader,
            health=health,
            now_ms=now_ms,
            authorized=authorized,
        )
        self.sessions.add(session)
        if {"mid", "candle"} & request.kinds:
            self.coins.update(request.symbols)
        if "health" in request.kinds:
            self.health_streams += 1
        metrics.STREAM_CLIENTS.set(len(self.sessions))
        return session

    def start(self, session: StreamSession, send: Send) -> bool:
        """Start ``session``'s writer; False when the hub has stopped meanwhile."""
        if self._nursery is None or self.closed.is_set():
            return False
        self._nursery.start_soon(session.write, send)
        return True

    def release(self, session: StreamSession) -> None:
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        left = self.open_by_token.get(session.token_key, 1) - 1
        if left > 0:
            self.open_by_token[session.token_key] = left
        else:
            self.open_by_token.pop(session.token_key, None)
        if {"mid", "candle"} & session.kinds:
            self.coins.subtract(session.symbols)
            for coin in session.symbols:
                if self.coins[coin] <= 0:
                    del self.coins[coin]
        if "health" in session.kinds:
            self.health_streams -= 1
        metrics.STREAM_CLIENTS.set(len(self.sessions))


class StreamSession:
    """One client: its subscription, what it asked for, and the writer that serves it."""

    def __init__(
        self,
        hub: StreamHub,
        token_key: str,
        request: StreamRequest,
        *,
        reader: Reader,
        health: Sequence[ChannelStatusChange],
        now_ms: int,
        authorized: Authorized | None = None,
    ) -> None:
        self.hub = hub
        self.authorized = authorized
        self.token_key = token_key
        self.request = request
        self.symbols = request.symbols
        self.kinds = request.kinds
        self.reader = reader
        self.health = list(health)
        # The status of each channel as this stream last told it (health streams).
        self.health_told = {(c.source, c.channel): c.status for c in health}
        types = [t for kind, t in _KIND_TYPES.items() if kind in request.kinds]
        self.rx = hub.bus.subscribe(SUBSCRIBER, types, buffer=hub.buffer, policy=Policy.DROP_OLDEST)
        # Candles lost in a lag are read back from this stamp on: the newest stamp of what
        # this client has been handed (the resume point, or its connection, at first).
        resume = request.resume
        self.stamp_ms = resume.since_ms if resume is not None else now_ms - RESUME_SLACK_MS
        # Bars just read back, so the same bars still queued live are not sent twice.
        self.replayed: dict[tuple[str, int], int] = {}
        self.dropped = 0
        self.done = trio.Event()
        self._scope = trio.CancelScope()
        self._wait: trio.CancelScope | None = None
        self._closed = False

    # --- control (from the request's task and the hub) --------------------------------------

    def end(self) -> None:
        """End the stream gracefully: the writer sends its last bytes and returns."""
        if self._wait is not None:
            self._wait.cancel()

    def stop(self) -> None:
        """Stop the writer now (the client left)."""
        self._scope.cancel()

    def close(self) -> None:
        """Unsubscribe and give the slot back (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.hub.bus.unsubscribe(self.rx)
        self.hub.release(self)

    # --- the writer ------------------------------------------------------------------------

    async def write(self, send: Send) -> None:
        try:
            with self._scope:
                await self._write(send)
        finally:
            self.close()
            self.done.set()

    async def _write(self, send: Send) -> None:
        head = bytearray(opening())
        for change in self.health:
            head += health_frame(change)
        if self.request.resume is not None:
            head += await self._replay(self.request.resume.since_ms)
        await _body(send, bytes(head))
        beat = trio.current_time() + HEARTBEAT_S
        while not self.hub.closed.is_set():
            events: list[Event] = []
            with trio.CancelScope(deadline=beat) as self._wait:
                try:
                    events.append(await self.rx.receive())
                except trio.EndOfChannel:
                    break
            self._wait = None
            if self.hub.closed.is_set():
                break
            out = bytearray()
            if events:
                # A send that blocked (a socket not draining) let the queue drop its oldest
                # events: they were older than these. Say so, and read lost candles back.
                dropped = self.hub.bus.dropped(self.rx)
                if dropped > self.dropped:
                    lost = dropped - self.dropped
                    self.dropped = dropped
                    metrics.STREAM_DROPPED.inc(lost)
                    out += lagged_frame(lost, dropped)
                    out += await self._replay(self.stamp_ms - RESUME_SLACK_MS)
                while len(events) < BATCH_EVENTS:
                    try:
                        events.append(self.rx.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                out += self._render(events)
            now = trio.current_time()
            if now >= beat:
                if self.authorized is not None and not await self.authorized():
                    out += REVOKED
                    await _body(send, bytes(out))
                    break
                out += HEARTBEAT
                beat += HEARTBEAT_S
                if beat <= now:  # a send that blocked for longer than a beat
                    beat = now + HEARTBEAT_S
            if out:
                await _body(send, bytes(out))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _replay(self, since_ms: int) -> bytes:
        """Stored closed bars of this client's coins stamped from ``since_ms`` on."""
        if "candle" not in self.kinds or not self.symbols:
            return b""
        bars: list[Candle] = await self.reader(read_closed_since, self.symbols, since_ms)
        self.replayed = {(b.coin, b.open_time_ms): b.updated_at_ms for b in bars}
        for bar in bars:
            self.stamp_ms = max(self.stamp_ms, bar.updated_at_ms)
        metrics.STREAM_EVENTS.inc(len(bars), kind="candle")
        return b"".join(candle_frame(b) for b in bars)

    def _render(self, events: list[Event]) -> bytes:
        out = bytearray()
        counts = {"candle": 0, "mid": 0, "health": 0}
        for event in events:
            rendered = self.hub.frames.get(event)
            self.stamp_ms = max(self.stamp_ms, rendered.stamp_ms)
            n = 0
            if isinstance(event, LiveHealth):
                for change in event.changes:
                    key = (change.source, change.channel)
                    told = self.health_told.get(key)
                    if told != change.status:
                        self.health_told[key] = change.status
                        out += health_frame(msgspec.structs.replace(change, previous=told))
                        n += 1
            else:
                replayed = self.replayed if rendered.kind == "candle" else None
                for coin in self.symbols:
                    for opened, stamp, frame in rendered.by_coin.get(coin, ()):
                        if replayed and replayed.get((coin, opened), -1) >= stamp:
                            continue  # just read back from the database
                        out += frame
                        n += 1
            counts[rendered.kind] += n
        for kind, n in counts.items():
            if n:
                metrics.STREAM_EVENTS.inc(n, kind=kind)
        return bytes(out)


async def _body(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _until_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class EventStream(Response):
    """The ASGI answer of one stream: headers, then the session's writer until either ends."""

    media_type = "text/event-stream"

    def __init__(self, hub: StreamHub, session: StreamSession) -> None:
        # NOTE: not Response.__init__: it would add ``content-length: 0``.
        self.hub = hub
        self.session = session
        self.status_code = 200
        self.background = None
        self.body = b""
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            # A proxy in front (nginx) must pass each event on at once.
            (b"x-accel-buffering", b"no"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.session
        try:
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            await send(start)
            if not self.hub.start(session, send):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
                await session.done.wait()
                nursery.cancel_scope.cancel()
        finally:
            session.stop()
            session.close()
