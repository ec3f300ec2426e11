"""The local Hyperliquid venue: ``POST /info`` and the ``/ws`` WebSocket on 127.0.0.1.

It speaks the real protocol as recorded (see ``shared/research/hyperliquid.md``):

- ``/info`` (Hypercorn, raw ASGI): ``meta``, ``metaAndAssetCtxs``, ``candleSnapshot``,
  ``l2Book``, ``fundingHistory``, ``predictedFundings``, ``allMids``; 422/400/415/405 with the
  venue's plain-text bodies, ``null`` for an unknown ``l2Book`` coin, 500 ``null`` for an
  unknown ``fundingHistory`` coin, and the 1200/min weight limit (429 beyond it).
- ``/ws`` (trio-websocket): ``candle`` and ``allMids`` subscriptions and unsubscriptions
  acked with the server's normalized echo, ``{"channel":"pong"}`` without data, ``error`` frames with the venue's texts
  (already subscribed, parse errors, subscription and message limits), a silent close (no
  close frame) on an unknown coin, and a silent close after 60 s without server traffic.

Data comes from the deterministic ``Simulator`` moved by the venue's WallClock (under
MockClock the market moves with the test). With a ``FixtureReplay`` the venue serves the
recorded payloads of ``shared/fixtures/hyperliquid`` verbatim where one matches the request.
``VenueFaults`` switches (info: 429/500/hang/malformed/truncated/missing or extra field; WS:
drop every socket, stall silently, unknown-coin behaviour) serve the fault suite and demo.

Standalone: ``python -m marketmem.venues.hyperliquid --port N`` (info on N, WebSocket on N+1).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from marketmem.clock import SystemClock, WallClock
from marketmem.venues.serve import answer_lifespan, serve_asgi
from marketmem.venues.simulator import INTERVAL_MS, Bar, SimAsset, Simulator

log = logging.getLogger(__name__)

# The documented weights (research/hyperliquid.md §3.1), kept by the venue itself so that a
# wrong table in the client fails a test instead of being copied into the venue.
BASE_WEIGHTS = {
    "l2Book": 2,
    "allMids": 2,
    "clearinghouseState": 2,
    "orderStatus": 2,
    "spotClearinghouseState": 2,
    "exchangeStatus": 2,
    "userRole": 60,
}
OTHER_WEIGHT = 20
ITEMS_PER_SURCHARGE = {"candleSnapshot": 60, "fundingHistory": 20}


def request_weight(kind: str, items: int = 0) -> int:
    """What the venue charges for one request of ``kind`` that returned ``items`` items."""
    per = ITEMS_PER_SURCHARGE.get(kind)
    extra = -(-items // per) if per and items > 0 else 0
    return BASE_WEIGHTS.get(kind, OTHER_WEIGHT) + extra


TEXT_422 = "Failed to deserialize the JSON body into the target type"
TEXT_400 = "Failed to parse the request body as JSON"
TEXT_415 = "Expected request with `Content-Type: application/json`"
PARSE_ERROR = "Error parsing JSON into valid websocket request: "

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# --- fault switches and statistics -------------------------------------------------------------


@dataclass
class InfoFault:
    kind: (
        str  # "429" | "500" | "hang" | "malformed" | "truncated" | "missing_field" | "extra_field"
    )
    request_type: str | None = None
    retry_after: str | None = None


INFO_FAULT_KINDS = ("429", "500", "hang", "malformed", "truncated", "missing_field", "extra_field")


@dataclass
class VenueFaults:
    """Switches the tests and the demo flip while the venue runs."""

    info: deque[InfoFault] = field(default_factory=deque)
    # WS: stop all server→client traffic (data, acks, pongs) while the socket stays open.
    stall: bool = False
    # WS: "drop" closes the socket silently on an unknown coin (as observed in 2026);
    # "error" answers an error frame instead (what older clients expected).
    unknown_coin: str = "drop"
    # WS: after this many more data frames, drop every socket silently (None: never).
    drop_after_frames: int | None = None
    # Info: while set, every request fails this way ("429" | "500" | "hang"): an outage.
    info_outage: str | None = None

    def info_fail(
        self,
        kind: str,
        times: int = 1,
        *,
        request_type: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        """The next ``times`` info requests (of ``request_type``, if given) fail as ``kind``."""
        if kind not in INFO_FAULT_KINDS:
            raise ValueError(f"unknown info fault {kind!r}; one of {INFO_FAULT_KINDS}")
        for _ in range(times):
            self.info.append(InfoFault(kind, request_type, retry_after))

    def take_info(self, request_type: str) -> InfoFault | None:
        if self.info_outage is not None:
            return InfoFault(self.info_outage)
        for fault in self.info:
            if fault.request_type in (None, request_type):
                self.info.remove(fault)
                return fault
        return None


@dataclass
class VenueStats:
    info_requests: Counter[str] = field(default_factory=Counter)
    info_statuses: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    max_window_weight: int = 0
    ws_connections: int = 0
    ws_open: int = 0
    ws_max_open: int = 0
    ws_rejected: int = 0
    ws_messages: int = 0
    ws_max_messages_per_minute: int = 0
    ws_subscriptions: int = 0
    ws_max_subscriptions: int = 0
    ws_dropped_unknown_coin: int = 0
    ws_dropped_idle: int = 0
    ws_dropped_fault: int = 0
    frames_sent: Counter[str] = field(default_factory=Counter)
    # (trio time, subscription JSON) of every subscribe, to see what preceded a close.
    subscribe_log: list[tuple[float, str]] = field(default_factory=list)


class _Window:
    """Weights in a sliding window of ``span_s`` on trio's clock."""

    def __init__(self, span_s: float = 60.0) -> None:
        self.span_s = span_s
        self._log: deque[tuple[float, int]] = deque()
        self.total = 0

    def current(self) -> int:
        now = trio.current_time()
        while self._log and self._log[0][0] + self.span_s <= now:
            self.total -= self._log.popleft()[1]
        return self.total

    def add(self, weight: int) -> int:
        self.current()
        self._log.append((trio.current_time(), weight))
        self.total += weight
        return self.total


# --- recorded payloads -------------------------------------------------------------------------


class FixtureReplay:
    """Recorded payloads from a fixtures folder, served verbatim when a request matches."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = {p.name: p.read_bytes() for p in folder.glob("*") if p.is_file()}

    def _get(self, *names: str) -> bytes | None:
        for name in names:
            if name in self.files:
                return self.files[name]
        return None

    def info(self, body: dict[str, Any]) -> bytes | None:
        kind = body.get("type")
        if kind == "meta":
            return self._get("info_meta_2026_trimmed.json", "info_meta.json")
        if kind == "metaAndAssetCtxs":
            return self._get("info_metaAndAssetCtxs.json")
        if kind == "allMids":
            return self._get("info_allMids.json")
        if kind == "predictedFundings":
            return self._get("info_predictedFundings.json")
        if kind == "l2Book":
            coin = body.get("coin")
            for name in ("info_l2Book.json", "info_l2Book_delisted.json"):
                raw = self.files.get(name)
                if raw is not None and json.loads(raw).get("coin") == coin:
                    return raw
            return None
        if kind == "candleSnapshot":
            req = body.get("req", {})
            for name in ("info_candleSnapshot.json", "info_candleSnapshot_BTC_1h.json"):
                raw = self.files.get(name)
                if raw is None:
                    continue
                rows = json.loads(raw)
                if rows and rows[0]["s"] == req.get("coin") and rows[0]["i"] == req.get("interval"):
                    return raw
            return None
        if kind == "fundingHistory":
            raw = self.files.get("info_fundingHistory.json")
            if raw is not None and json.loads(raw)[0]["coin"] == body.get("coin"):
                return raw
            return None
        return None

    def universe(self) -> list[str]:
        raw = self._get("info_metaAndAssetCtxs.json")
        if raw is None:
            return []
        return [a["name"] for a in json.loads(raw)[0]["universe"]]

    def ack(self, normalized: dict[str, Any], method: str = "subscribe") -> bytes | None:
        for name in self.files:
            if not name.startswith(("ws_subscriptionResponse_", "ws_unsubscribeResponse_")):
                continue
            raw = self.files[name]
            data = json.loads(raw)["data"]
            if data["method"] == method and data["subscription"] == normalized:
                return raw
        return None

    def frames(self, normalized: dict[str, Any]) -> list[bytes]:
        """Recorded data frames for a subscription (candles ascending by open time)."""
        kind = normalized.get("type")
        if kind == "allMids":
            raw = self.files.get("ws_allMids.json")
            return [raw.strip()] if raw else []
        if kind != "candle":
            return []
        out: list[tuple[int, bytes]] = []
        for name in (
            "ws_candle_same_bar_updates.jsonl",
            "ws_candle.json",
            "ws_candle_rollover.jsonl",
        ):
            for line in self.files.get(name, b"").splitlines():
                if not line.strip():
                    continue
                data = json.loads(line)["data"]
                if data["s"] == normalized["coin"] and data["i"] == normalized["interval"]:
                    out.append((data["t"], line.strip()))
        return [raw for _, raw in sorted(out, key=lambda x: x[0])]


# --- the venue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueAddress:
    info_url: str  # base URL: POST {info_url}/info
    ws_url: str  # ws://127.0.0.1:PORT/ws


@dataclass
class _Conn:
    id: int
    ws: WebSocketConnection
    out: trio.MemorySendChannel[bytes]
    subs: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_sent: float = 0.0
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    queued: int = 0
    sent: int = 0


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class HyperliquidVenue:
    """A local Hyperliquid: simulator-driven, fault-switchable, replaying recordings on request."""

    def __init__(
        self,
        clock: WallClock | None = None,
        *,
        seed: int = 1,
        assets: tuple[SimAsset, ...] | None = None,
        replay: FixtureReplay | None = None,
        tick_s: float = 1.0,
        history_minutes: int = 120,
        mids_every_ms: int = 5000,
        weight_per_minute: int = 1200,
        idle_timeout_s: float = 60.0,
        max_connections: int = 10,
        max_subscriptions: int = 1000,
        messages_per_minute: int = 2000,
    ) -> None:
        self.clock = clock or SystemClock()
        self.seed = seed
        self._assets = assets
        self.replay = replay
        self.tick_s = tick_s
        self.history_minutes = history_minutes
        self.mids_every_ms = mids_every_ms
        self.weight_per_minute = weight_per_minute
        self.idle_timeout_s = idle_timeout_s
        self.max_connections = max_connections
        self.max_subscriptions = max_subscriptions
        self.messages_per_minute = messages_per_minute
        self.faults = VenueFaults()
        self.stats = VenueStats()
        self._sim: Simulator | None = None
        self._weights = _Window()
        self._messages = _Window()
        self._conns: dict[int, _Conn] = {}
        self._next_id = 0
        self.address: VenueAddress | None = None
        self._drop_requested = trio.Event()

    @property
    def sim(self) -> Simulator:
        if self._sim is None:
            kwargs: dict[str, Any] = {"seed": self.seed, "history_minutes": self.history_minutes}
            if self._assets is not None:
                kwargs["assets"] = self._assets
            self._sim = Simulator(self.clock.now_ms(), **kwargs)
        return self._sim

    def coins(self) -> set[str]:
        names = {a.name for a in self.sim.assets}
        if self.replay is not None:
            names.update(self.replay.universe())
        return names

    # --- lifecycle --------------------------------------------------------------------------

    async def run(
        self,
        *,
        host: str = "127.0.0.1",
        info_port: int = 0,
        ws_port: int = 0,
        task_status: trio.TaskStatus[VenueAddress] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled; reports the info and WebSocket URLs once both listen."""
        _ = self.sim
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                lambda task_status: serve_asgi(
                    self.asgi, host=host, port=info_port, task_status=task_status
                )
            )
            server = await nursery.start(
                lambda task_status: serve_websocket(
                    self._ws_handler, host, ws_port, ssl_context=None, task_status=task_status
                )
            )
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._dropper)
            self.address = VenueAddress(
                info_url=f"http://{host}:{port}", ws_url=f"ws://{host}:{server.port}/ws"
            )
            # DEBUG: the demo's own lines come first (its API may yet fail to bind); `main`
            # prints the URLs itself.
            log.debug(
                "hyperliquid venue: info %s, ws %s", self.address.info_url, self.address.ws_url
            )
            task_status.started(self.address)

    async def _ticker(self) -> None:
        """Move the market with the clock; push candle updates and, every 5 s, allMids."""
        next_t = trio.current_time()
        next_mids_ms = (self.clock.now_ms() // self.mids_every_ms + 1) * self.mids_every_ms
        while True:
            next_t += self.tick_s
            await trio.sleep_until(next_t)
            now_ms = self.clock.now_ms()
            self._advance()
            if now_ms >= next_mids_ms:
                next_mids_ms = (now_ms // self.mids_every_ms + 1) * self.mids_every_ms
                self._push_mids()

    def _advance(self) -> None:
        """Move the market to now; every trade on the way is pushed to subscribers."""
        for bar in self.sim.advance_to(self.clock.now_ms()):
            self._push_bar(bar)

    async def _dropper(self) -> None:
        while True:
            await self._drop_requested.wait()
            self._drop_requested = trio.Event()
            # Let the frames queued so far go out first: the close comes mid-stream.
            for _ in range(1000):
                if all(c.sent >= c.queued for c in self._conns.values()):
                    break
                await trio.sleep(0)
            await self.drop_connections()

    # --- /info --------------------------------------------------------------------------------

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, ctype, payload, headers = await self._info(scope, body)
        self.stats.info_statuses[status] += 1
        hdrs = [(b"content-length", str(len(payload)).encode())]
        if ctype:
            hdrs.append((b"content-type", ctype.encode()))
        hdrs.extend(headers)
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": payload})

    async def _info(
        self, scope: Scope, body: bytes
    ) -> tuple[int, str, bytes, list[tuple[bytes, bytes]]]:
        if scope["path"] != "/info":
            return 404, "", b"", []
        if scope["method"] != "POST":
            return 405, "", b"", []
        headers = dict(scope.get("headers", []))
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            return 415, "text/plain; charset=utf-8", TEXT_415.encode(), []
        try:
            request = json.loads(body)
        except ValueError:
            return 400, "text/plain; charset=utf-8", TEXT_400.encode(), []
        kind = request.get("type") if isinstance(request, dict) else None
        if not isinstance(kind, str):
            return 422, "text/plain; charset=utf-8", TEXT_422.encode(), []
        self.stats.info_requests[kind] += 1
        if self._weights.current() + request_weight(kind) > self.weight_per_minute:
            self.stats.rate_limited += 1
            return 429, "text/plain; charset=utf-8", b"rate limited", []
        fault = self.faults.take_info(kind)
        if fault is not None and fault.kind in ("429", "500", "hang"):
            self._count_weight(kind, 0)
            if fault.kind == "hang":
                await trio.sleep_forever()
            extra = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after else []
            return int(fault.kind), "application/json", b"null", extra
        try:
            status, answer, items = self._answer(kind, request)
        except _BadRequest:
            return 422, "text/plain; charset=utf-8", TEXT_422.encode(), []
        self._count_weight(kind, items)
        payload = answer if isinstance(answer, bytes) else _dumps(answer)
        if fault is not None:
            payload = _corrupt(payload, fault.kind)
        return status, "application/json", payload, []

    def _count_weight(self, kind: str, items: int) -> None:
        total = self._weights.add(request_weight(kind, items))
        self.stats.max_window_weight = max(self.stats.max_window_weight, total)

    def _answer(self, kind: str, req: dict[str, Any]) -> tuple[int, Any, int]:
        """(status, JSON-able answer or recorded bytes, items for the weight surcharge)."""
        self._advance()
        dex = req.get("dex")
        if dex is not None and not isinstance(dex, str):
            raise _BadRequest
        if kind not in _KNOWN_TYPES:
            raise _BadRequest
        recorded = self.replay.info(req) if self.replay is not None else None
        if recorded is not None:
            items = len(json.loads(recorded)) if kind in ("candleSnapshot", "fundingHistory") else 0
            return 200, recorded, items
        if dex:
            return 500, None, 0
        sim = self.sim
        if kind == "meta":
            return 200, sim.meta(), 0
        if kind == "metaAndAssetCtxs":
            return 200, [sim.meta(), sim.asset_ctxs()], 0
        if kind == "allMids":
            return 200, sim.mids(), 0
        if kind == "predictedFundings":
            return 200, sim.predicted_fundings(), 0
        if kind == "l2Book":
            coin = _str(req, "coin")
            if sim.asset(coin) is None:
                return 200, None, 0
            return 200, sim.l2_book(coin), 0
        if kind == "fundingHistory":
            coin = _str(req, "coin")
            start = _time(req, "startTime")
            end = _opt_time(req, "endTime")
            if sim.asset(coin) is None:
                return 500, None, 0
            rows = sim.funding_history(coin, start, end)
            return 200, rows, len(rows)
        # candleSnapshot
        inner = req.get("req")
        if not isinstance(inner, dict):
            raise _BadRequest
        coin = _str(inner, "coin")
        interval = _str(inner, "interval")
        if interval not in INTERVAL_MS:
            raise _BadRequest
        start = _time(inner, "startTime")
        end = _time(inner, "endTime")
        if sim.asset(coin) is None:
            return 200, None, 0
        bars = [b.to_wire() for b in sim.candles(coin, interval, start, end)]
        return 200, bars, len(bars)

    # --- /ws ----------------------------------------------------------------------------------

    async def _ws_handler(self, request: WebSocketRequest) -> None:
        if request.path != "/ws":
            await request.reject(404)
            return
        if len(self._conns) >= self.max_connections:
            self.stats.ws_rejected += 1
            await request.reject(429, body=b"too many connections")
            return
        ws = await request.accept()
        send, receive = trio.open_memory_channel[bytes](10_000)
        self._next_id += 1
        conn = _Conn(self._next_id, ws, send, last_sent=trio.current_time())
        self._conns[conn.id] = conn
        self.stats.ws_connections += 1
        self.stats.ws_open = len(self._conns)
        self.stats.ws_max_open = max(self.stats.ws_max_open, self.stats.ws_open)
        try:
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._sender, conn, receive)
                    nursery.start_soon(self._idle_watchdog, conn)
                    try:
                        while True:
                            message = await ws.get_message()
                            await self._on_client_message(conn, message)
                    except ConnectionClosed:
                        nursery.cancel_scope.cancel()
        finally:
            self._forget(conn)

    def _forget(self, conn: _Conn) -> None:
        if self._conns.pop(conn.id, None) is not None:
            self.stats.ws_subscriptions -= len(conn.subs)
            conn.subs.clear()
            self.stats.ws_open = len(self._conns)

    async def _drop(self, conn: _Conn) -> None:
        """Close the TCP stream without a close frame (the client sees code 1006)."""
        self._forget(conn)
        conn.scope.cancel()
        with trio.CancelScope(shield=True):
            await conn.ws._close_stream()

    async def drop_connections(self) -> int:
        """Fault: drop every socket silently now; returns how many were dropped."""
        conns = list(self._conns.values())
        for conn in conns:
            self.stats.ws_dropped_fault += 1
            await self._drop(conn)
        return len(conns)

    async def _sender(self, conn: _Conn, receive: trio.MemoryReceiveChannel[bytes]) -> None:
        try:
            async for frame in receive:
                if self.faults.stall:
                    conn.sent += 1
                    continue
                await conn.ws.send_message(frame.decode())
                conn.last_sent = trio.current_time()
                conn.sent += 1
        except ConnectionClosed:
            conn.scope.cancel()

    async def _idle_watchdog(self, conn: _Conn) -> None:
        while True:
            deadline = conn.last_sent + self.idle_timeout_s
            if trio.current_time() >= deadline:
                self.stats.ws_dropped_idle += 1
                await self._drop(conn)
                return
            await trio.sleep_until(deadline)

    def _queue(self, conn: _Conn, frame: bytes, channel: str) -> None:
        try:
            conn.out.send_nowait(frame)
            conn.queued += 1
            self.stats.frames_sent[channel] += 1
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            log.warning("venue: connection %d cannot keep up; frame dropped", conn.id)

    def _data_frame(self, conn: _Conn, frame: bytes, channel: str) -> None:
        self._queue(conn, frame, channel)
        if self.faults.drop_after_frames is not None:
            self.faults.drop_after_frames -= 1
            if self.faults.drop_after_frames <= 0:
                self.faults.drop_after_frames = None
                self._drop_requested.set()

    async def _on_client_message(self, conn: _Conn, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        self.stats.ws_messages += 1
        per_minute = self._messages.add(1)
        self.stats.ws_max_messages_per_minute = max(
            self.stats.ws_max_messages_per_minute, per_minute
        )
        if per_minute > self.messages_per_minute:
            self._error(conn, "Cannot send more than 2000 messages per minute.")
            return
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        method = frame.get("method") if isinstance(frame, dict) else None
        if method == "ping":
            self._queue(conn, b'{"channel":"pong"}', "pong")
            return
        if method not in ("subscribe", "unsubscribe") or not isinstance(frame, dict):
            self._error(conn, PARSE_ERROR + text)
            return
        normalized = _normalize(frame.get("subscription"))
        if normalized is None:
            self._error(conn, PARSE_ERROR + text)
            return
        coin = normalized.get("coin")
        if coin is not None and coin not in self.coins():
            await self._unknown_coin(conn, normalized)
            return
        key = json.dumps(normalized, separators=(",", ":"))
        if method == "unsubscribe":
            if key not in conn.subs:
                self._error(conn, f"Already unsubscribed: {key}")
                return
            del conn.subs[key]
            self.stats.ws_subscriptions -= 1
            self._ack(conn, "unsubscribe", normalized)
            return
        if key in conn.subs:
            self._error(conn, f"Already subscribed: {key}")
            return
        if self.stats.ws_subscriptions >= self.max_subscriptions:
            self._error(conn, "Cannot subscribe to more than 1000 channels.")
            return
        conn.subs[key] = normalized
        self.stats.ws_subscriptions += 1
        self.stats.ws_max_subscriptions = max(
            self.stats.ws_max_subscriptions, self.stats.ws_subscriptions
        )
        self.stats.subscribe_log.append((trio.current_time(), key))
        self._ack(conn, "subscribe", normalized)
        if self.replay is not None:
            for raw in self.replay.frames(normalized):
                self._data_frame(conn, raw, str(normalized["type"]))

    async def _unknown_coin(self, conn: _Conn, normalized: dict[str, Any]) -> None:
        if self.faults.unknown_coin == "error":
            self._error(conn, f"Invalid subscription {_dumps(normalized).decode()}")
            return
        self.stats.ws_dropped_unknown_coin += 1
        # Observed: the socket closes within about 100 ms, with no error frame.
        await trio.sleep(0.05)
        await self._drop(conn)

    def _ack(self, conn: _Conn, method: str, normalized: dict[str, Any]) -> None:
        recorded = self.replay.ack(normalized, method) if self.replay else None
        frame = (
            recorded.strip()
            if recorded
            else _dumps(
                {
                    "channel": "subscriptionResponse",
                    "data": {"method": method, "subscription": normalized},
                }
            )
        )
        self._queue(conn, frame, "subscriptionResponse")

    def _error(self, conn: _Conn, text: str) -> None:
        self._queue(conn, _dumps({"channel": "error", "data": text}), "error")

    def _replaying(self, normalized: dict[str, Any]) -> bool:
        return self.replay is not None and bool(self.replay.frames(normalized))

    def _push_bar(self, bar: Bar) -> None:
        for conn in list(self._conns.values()):
            for sub in list(conn.subs.values()):
                if sub["type"] != "candle" or sub["coin"] != bar.coin or self._replaying(sub):
                    continue
                interval = sub["interval"]
                shown = bar if interval == "1m" else self._aggregate(bar, interval)
                if shown is not None:
                    frame = _dumps({"channel": "candle", "data": shown.to_wire()})
                    self._data_frame(conn, frame, "candle")

    def _aggregate(self, bar: Bar, interval: str) -> Bar | None:
        bars = self.sim.candles(bar.coin, interval, bar.open_ms, bar.open_ms)
        return bars[-1] if bars else None

    def _push_mids(self) -> None:
        mids: dict[str, str] | None = None
        for conn in list(self._conns.values()):
            for sub in list(conn.subs.values()):
                if sub["type"] != "allMids" or self._replaying(sub):
                    continue
                if mids is None:
                    mids = self.sim.mids()
                data: dict[str, Any] = {"mids": mids}
                if sub.get("dex"):
                    data["dex"] = sub["dex"]
                self._data_frame(conn, _dumps({"channel": "allMids", "data": data}), "allMids")


_KNOWN_TYPES = frozenset(
    {
        "meta",
        "metaAndAssetCtxs",
        "allMids",
        "l2Book",
        "candleSnapshot",
        "fundingHistory",
        "predictedFundings",
    }
)


class _BadRequest(Exception):
    """The body does not deserialize into a known request (the venue answers 422)."""


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _BadRequest
    return value


def _time(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _BadRequest
    return value


def _opt_time(obj: dict[str, Any], key: str) -> int | None:
    return None if obj.get(key) is None else _time(obj, key)


def _normalize(sub: Any) -> dict[str, Any] | None:
    """The server's echo of a subscription (key order and defaults as recorded); None if bad."""
    if not isinstance(sub, dict):
        return None
    kind = sub.get("type")
    coin = sub.get("coin")
    if kind == "allMids":
        dex = sub.get("dex")
        if dex is not None and not isinstance(dex, str):
            return None
        return {"type": "allMids", "dex": dex} if dex else {"type": "allMids"}
    if kind == "candle":
        interval = sub.get("interval")
        if not isinstance(coin, str) or interval not in INTERVAL_MS:
            return None
        return {"type": "candle", "interval": interval, "coin": coin}
    if kind == "l2Book":
        if not isinstance(coin, str):
            return None
        return {
            "type": "l2Book",
            "coin": coin,
            "nSigFigs": sub.get("nSigFigs"),
            "mantissa": sub.get("mantissa"),
            "fast": bool(sub.get("fast", False)),
        }
    if kind in ("trades", "bbo", "activeAssetCtx"):
        if not isinstance(coin, str):
            return None
        return {"type": kind, "coin": coin}
    return None


def _corrupt(payload: bytes, kind: str) -> bytes:
    if kind == "malformed":
        return payload[: max(1, len(payload) // 2)] + b"}]{"
    if kind == "truncated":
        return payload[: max(1, len(payload) // 2)]
    doc = json.loads(payload)
    target = doc
    while isinstance(target, list) and target:
        target = target[0]
    if isinstance(target, dict) and target:
        if kind == "missing_field":
            del target[next(iter(target))]
        else:
            target["unexpectedField"] = {"added": True}
    return _dumps(doc)


async def serve_hyperliquid_venue(
    clock: WallClock | None = None,
    *,
    seed: int = 1,
    replay_from: Path | None = None,
    history_minutes: int = 120,
    info_port: int = 0,
    ws_port: int = 0,
    task_status: trio.TaskStatus[HyperliquidVenue] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Start a venue on 127.0.0.1; ``task_status.started(venue)`` (``venue.address`` set)."""
    replay = FixtureReplay(replay_from) if replay_from is not None else None
    venue = HyperliquidVenue(clock, seed=seed, replay=replay, history_minutes=history_minutes)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: venue.run(
                info_port=info_port, ws_port=ws_port, task_status=task_status
            )
        )
        task_status.started(venue)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marketmem.venues.hyperliquid",
        description="Local Hyperliquid venue (info on PORT, WebSocket on PORT+1).",
    )
    parser.add_argument("--port", type=int, default=0, help="info port (0: any free port)")
    parser.add_argument("--ws-port", type=int, default=None, help="WebSocket port (PORT+1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--history-minutes", type=int, default=120)
    parser.add_argument("--replay", type=Path, default=None, help="fixtures folder to replay")
    args = parser.parse_args(argv)
    ws_port = args.ws_port if args.ws_port is not None else (args.port + 1 if args.port else 0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    async def _main() -> None:
        async with trio.open_nursery() as nursery:
            venue: HyperliquidVenue = await nursery.start(
                lambda task_status: serve_hyperliquid_venue(
                    seed=args.seed,
                    replay_from=args.replay,
                    history_minutes=args.history_minutes,
                    info_port=args.port,
                    ws_port=ws_port,
                    task_status=task_status,
                )
            )
            assert venue.address is not None
            print(f'info_url = "{venue.address.info_url}"', flush=True)
            print(f'ws_url = "{venue.address.ws_url}"', flush=True)

    try:
        trio.run(_main)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
