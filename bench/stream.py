"""Stream throughput and latency: venue frames over loopback into the stream actor and writer.

A venue process (this module with ``--venue``) serves ``/info`` with the local Hyperliquid
venue (230 simulated perps, weight limit raised) and a WebSocket blaster that speaks the
venue's protocol: it acks ``candle`` and ``allMids`` subscriptions with the venue's echo,
answers pings, and on command sends frames in exactly the venue's shapes (the simulator's
candle pushes, rendered as the venue renders them, and an ``allMids`` map every 5 simulated
seconds, the venue's mix), rendered before the clock starts, either as fast as the sockets
take them or paced.

The bench process runs the real pipeline (bus + storage writer in its thread, settings of
``config/marketmem.toml``) and the real ``HyperliquidStream`` over 230 coins (3 sockets).
Each round sends the same number of frames first to a raw trio-websocket client that only
receives (same sockets, subscriptions and socket options as the stream), then to the stream;
rates run from the "go" to the last frame received, and to the writer's ``Committed`` event
covering the last frame. A paced run then gives frame-to-commit latency: the venue stamps
each frame's send time (``time.monotonic``, one clock for both processes), keyed by (coin,
open time, trades) for candles and by order for ``allMids``; the bench stamps when it sees
the ``Committed`` event of the transaction that held the row.

Targets: the stream reaches at least 80% of the raw receive rate; p99 frame-to-commit under
50 ms at 2,000 frames/s.

    .venv/bin/python -m bench.stream [--frames 50000] [--rounds 3] [--rate 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import trio
from trio_websocket import WebSocketConnection, open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage

from marketmem.bus import Policy
from marketmem.clock import SystemClock
from marketmem.config import Config
from marketmem.events import CandleBatch, Committed, Event, MidBatch
from marketmem.executors import thread_executor
from marketmem.pipeline import open_pipeline
from marketmem.plugins import parse_config
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.planning import plan_connections
from marketmem.sources.hyperliquid.resources import open_resources
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from marketmem.storage.writer import StorageWriter
from marketmem.venues.hyperliquid import HyperliquidVenue
from marketmem.venues.serve import serve_asgi
from marketmem.venues.simulator import SimAsset, Simulator
from marketmem.wslink import MAX_MESSAGE_BYTES, MESSAGE_QUEUE

COINS = 230
TICK_MS = 1000
MIDS_EVERY_TICKS = 5  # the venue pushes allMids every 5 s and candles every 1 s tick
HISTORY_MINUTES = 5  # what the start-up backfill fetches per coin
WEIGHT_PER_MINUTE = 1_000_000  # the real 1200/min would stretch the backfill over minutes
STEP_TIMEOUT_S = 300.0
BLAST_WRITE_BYTES = 65536

Key = tuple[str, int, int]  # (coin, open time, trades); ("", n, 0) for the n-th allMids


def assets(n: int) -> tuple[SimAsset, ...]:
    return tuple(
        SimAsset(f"C{i:03d}", i % 4, 10, Decimal(10 + 7 * i), activity=0.6) for i in range(n)
    )


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {os.cpu_count()} CPU(s), {model}, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


# --- the venue process -------------------------------------------------------------------------


@dataclass(eq=False)
class Peer:
    """One client socket: wsproto on a trio stream, sends serialized by a lock."""

    stream: trio.SocketStream
    ws: WSConnection
    lock: trio.Lock = field(default_factory=trio.Lock)
    path: str = ""
    candles: set[str] = field(default_factory=set)
    mids: bool = False

    async def send(self, data: bytes) -> None:
        async with self.lock:
            await self.stream.send_all(data)


def normalized(sub: Any) -> dict[str, Any] | None:
    """The venue's echo of a ``candle`` / ``allMids`` subscription (key order as recorded)."""
    if not isinstance(sub, dict):
        return None
    if sub.get("type") == "allMids" and not sub.get("dex"):
        return {"type": "allMids"}
    if sub.get("type") == "candle" and isinstance(sub.get("coin"), str):
        return {"type": "candle", "interval": sub.get("interval"), "coin": sub["coin"]}
    return None


class Blaster:
    """The venue's WebSocket side on wsproto, sending pre-framed messages on command.

    Frames are rendered and framed before the clock starts, and a blast hands each socket its
    frames in 64 KiB writes, so the sender costs far less per frame than any receiver: the
    rates measured are the receivers'.
    """

    def __init__(self, sim_assets: tuple[SimAsset, ...], start_ms: int) -> None:
        # Its own market, ahead of the wall clock, so no bar it pushes is ever closed by the
        # bench's clock before its last push (that push would be dropped as late).
        self.sim = Simulator(start_ms, seed=2, assets=sim_assets, history_minutes=0)
        self.ticks = 0
        self.peers: list[Peer] = []

    async def handler(self, stream: trio.SocketStream) -> None:
        peer = Peer(stream, WSConnection(ConnectionType.SERVER))
        text = ""
        try:
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    return
                peer.ws.receive_data(data)
                out: list[bytes] = []
                for event in peer.ws.events():
                    if isinstance(event, Request):
                        peer.path = event.target
                        self.peers.append(peer)
                        out.append(peer.ws.send(AcceptConnection()))
                    elif isinstance(event, TextMessage):
                        text += event.data
                        if event.message_finished:
                            out.append(peer.ws.send(TextMessage(self.on_message(peer, text))))
                            text = ""
                    elif isinstance(event, Ping):
                        out.append(peer.ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        await peer.send(peer.ws.send(event.response()))
                        return
                if out:
                    await peer.send(b"".join(out))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            if peer in self.peers:
                self.peers.remove(peer)
            await stream.aclose()

    def on_message(self, peer: Peer, message: str) -> str:
        try:
            frame = json.loads(message)
        except ValueError:
            frame = None
        method = frame.get("method") if isinstance(frame, dict) else None
        if method == "ping":
            return '{"channel":"pong"}'
        sub = normalized(frame.get("subscription")) if isinstance(frame, dict) else None
        if method != "subscribe" or sub is None:
            return dumps({"channel": "error", "data": f"Error parsing JSON: {message}"})
        if sub["type"] == "allMids":
            peer.mids = True
        else:
            peer.candles.add(sub["coin"])
        data = {"method": method, "subscription": sub}
        return dumps({"channel": "subscriptionResponse", "data": data})

    def prepare(self, path: str, n: int) -> list[tuple[Peer, bytes, Key]]:
        """The next ``n`` frames of the market for the peers connected on ``path``, framed."""
        peers = [p for p in self.peers if p.path == path]
        by_coin = {c: p for p in peers for c in p.candles}
        mids_peer = next((p for p in peers if p.mids), None)
        if not by_coin:
            raise RuntimeError(f"no candle subscriber on {path}")
        out: list[tuple[Peer, bytes, Key]] = []
        mids_seq = 0
        while len(out) < n:
            self.ticks += 1
            for bar in self.sim.advance_to(self.sim.now_ms + TICK_MS):
                peer = by_coin.get(bar.coin)
                if peer is not None:
                    frame = dumps({"channel": "candle", "data": bar.to_wire()})
                    key = (bar.coin, bar.open_ms, bar.n)
                    out.append((peer, peer.ws.send(TextMessage(frame)), key))
            if self.ticks % MIDS_EVERY_TICKS == 0 and mids_peer is not None:
                mids_seq += 1
                frame = dumps({"channel": "allMids", "data": {"mids": self.sim.mids()}})
                out.append((mids_peer, mids_peer.ws.send(TextMessage(frame)), ("", mids_seq, 0)))
        return out[:n]


async def send_frames(
    frames: list[tuple[Peer, bytes, Key]], rate: float
) -> tuple[list[tuple[Key, float]], float, float]:
    """Send in order: paced at ``rate``/s one write per frame, or (rate 0) each socket's
    frames in 64 KiB writes, sockets in parallel. Returns (send stamps, seconds, worst lag s).
    """
    stamps: list[tuple[Key, float]] = []
    lag = 0.0
    t0 = trio.current_time()
    if rate > 0:
        for i, (peer, data, key) in enumerate(frames):
            due = t0 + i / rate
            now = trio.current_time()
            if now < due:
                await trio.sleep_until(due)
            else:
                lag = max(lag, now - due)
            stamps.append((key, time.monotonic()))
            await peer.send(data)
        return stamps, trio.current_time() - t0, lag

    async def blast(peer: Peer, mine: list[tuple[bytes, Key]]) -> None:
        i = 0
        while i < len(mine):
            chunk: list[bytes] = []
            size = 0
            at = time.monotonic()
            while i < len(mine) and size < BLAST_WRITE_BYTES:
                chunk.append(mine[i][0])
                size += len(mine[i][0])
                stamps.append((mine[i][1], at))
                i += 1
            await peer.send(b"".join(chunk))

    by_peer: dict[Peer, list[tuple[bytes, Key]]] = {}
    for peer, data, key in frames:
        by_peer.setdefault(peer, []).append((data, key))
    async with trio.open_nursery() as nursery:
        for peer, mine in by_peer.items():
            nursery.start_soon(blast, peer, mine)
    return stamps, trio.current_time() - t0, lag


class Lines:
    """Newline-delimited text over a trio byte stream."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.buf = b""

    async def next(self) -> str:
        while b"\n" not in self.buf:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError("the other process closed its end")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


async def venue_main(args: argparse.Namespace) -> None:
    """Serve /info and the blaster; obey ``prepare PATH N RATE`` / ``go`` / ``quit`` on stdin."""
    sim_assets = assets(args.coins)
    clock = SystemClock()
    venue = HyperliquidVenue(
        clock,
        seed=1,
        assets=sim_assets,
        history_minutes=HISTORY_MINUTES,
        weight_per_minute=WEIGHT_PER_MINUTE,
    )
    _ = venue.sim
    now = clock.now_ms()
    blaster = Blaster(sim_assets, now - now % 60_000 + 120_000)
    commands = Lines(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
    async with trio.open_nursery() as nursery:
        info_port = await nursery.start(partial(serve_asgi, venue.asgi))
        listeners = await nursery.start(
            partial(trio.serve_tcp, blaster.handler, 0, host="127.0.0.1")
        )
        ws_port = listeners[0].socket.getsockname()[1]
        print(f"ready http://127.0.0.1:{info_port} ws://127.0.0.1:{ws_port}", flush=True)
        frames: list[tuple[Peer, bytes, Key]] = []
        rate = 0.0
        while True:
            try:
                line = await commands.next()
            except EOFError:
                break
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "prepare":
                frames = blaster.prepare(words[1], int(words[2]))
                rate = float(words[3])
                Path(words[4]).write_text(dumps([key for _, _, key in frames]))
                print(f"prepared {len(frames)}", flush=True)
            elif words[0] == "go":
                stamps, seconds, lag = await send_frames(frames, rate)
                Path(words[1]).write_text(dumps([[*k, t] for k, t in stamps]))
                print(f"sent {len(stamps)} {seconds:.6f} {lag:.6f}", flush=True)
                frames = []
        nursery.cancel_scope.cancel()


# --- the bench process -------------------------------------------------------------------------


async def with_venue_process(
    command: list[str], body: Callable[[VenueLink], Awaitable[None]]
) -> None:
    """Start the venue process, run ``body`` with its link, and always stop the venue."""
    async with trio.open_nursery() as nursery:
        proc: trio.Process = await nursery.start(
            partial(trio.run_process, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        )
        link = VenueLink(proc)
        try:
            await body(link)
        finally:
            with trio.CancelScope(shield=True):
                await link.stop(proc)
            nursery.cancel_scope.cancel()  # terminates the venue if it is still running


class VenueLink:
    """The venue process's stdin/stdout."""

    def __init__(self, proc: trio.Process) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.stdin = proc.stdin
        self.lines = Lines(proc.stdout)

    async def say(self, text: str) -> None:
        await self.stdin.send_all(text.encode() + b"\n")

    async def stop(self, proc: trio.Process, timeout_s: float = 5.0) -> None:
        """Ask the venue to quit and wait for it (bounded); the caller kills it after."""
        with trio.move_on_after(timeout_s):
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.say("quit")
            await proc.wait()

    async def expect(self, word: str) -> list[str]:
        with trio.fail_after(STEP_TIMEOUT_S):
            while True:
                words = (await self.lines.next()).split()
                if words and words[0] == word:
                    return words[1:]


@dataclass
class Sent:
    keys: dict[Key, float]
    seconds: float
    lag_s: float
    go: float


async def prepare(link: VenueLink, path: str, n: int, rate: float, folder: Path) -> set[Key]:
    """Have the venue render the next ``n`` frames for ``path``; returns their keys."""
    keys = folder / "keys.json"
    await link.say(f"prepare {path} {n} {rate} {keys}")
    await link.expect("prepared")
    return {(c, t, k) for c, t, k in json.loads(keys.read_text())}


async def go(link: VenueLink, folder: Path) -> tuple[float, Callable[[], Sent]]:
    """Start the sending; returns the start time and how to read the send stamps after."""
    stamps = folder / "stamps.json"
    started = time.monotonic()
    await link.say(f"go {stamps}")
    words = await link.expect("sent")

    def read() -> Sent:
        keys = {(c, t, k): at for c, t, k, at in json.loads(stamps.read_text())}
        return Sent(keys, float(words[1]), float(words[2]), started)

    return started, read


class CommitLog:
    """When each candle row and allMids batch was committed, as the bus tells it.

    Wraps the writer's executor to learn which events each transaction held (in commit
    order), and pairs each ``Committed`` event seen on the bus with the next of them.
    """

    def __init__(self) -> None:
        self.inner = thread_executor()
        self.written: deque[list[Event]] = deque()
        self.thread_cpu = 0.0  # CPU seconds of the writer's thread in transactions
        self.reset(set())

    def reset(self, keys: set[Key]) -> None:
        """Start a run: wait for ``keys`` (from now on, allMids batches count from 1)."""
        self.at: dict[Key, float] = {}
        self.waiting = set(keys)
        self.done = trio.Event()
        self.done_at = 0.0
        self.mids = 0
        self.transactions = 0
        self.rows = 0
        self.commit_s = 0.0

    def _seen(self, key: Key, now: float) -> None:
        if key in self.at:
            return
        self.at[key] = now
        if key in self.waiting:
            self.waiting.discard(key)
            if not self.waiting:
                self.done_at = now
                self.done.set()

    async def execute(self, fn: Callable[..., Any], *args: Any) -> Any:
        # Only transactions of events; a renamed writer method fails here, not as a hang.
        if getattr(fn, "__func__", None) is not StorageWriter._write_group:
            return await self.inner(fn, *args)

        def timed() -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args)
            finally:
                self.thread_cpu += time.thread_time() - t0

        result = await self.inner(timed)
        self.written.append(args[0])
        return result

    async def observe(self, rx: trio.MemoryReceiveChannel[Event]) -> None:
        async for event in rx:
            now = time.monotonic()
            if not isinstance(event, Committed) or not self.written:
                continue
            batch = self.written.popleft()
            self.transactions += 1
            self.rows += sum(event.rows_by_table.values())
            self.commit_s += event.latency_s
            for ev in batch:
                if isinstance(ev, CandleBatch):
                    for r in ev.rows:
                        self._seen((r.coin, r.open_time_ms, r.trades), now)
                elif isinstance(ev, MidBatch):
                    self.mids += 1
                    self._seen(("", self.mids, 0), now)


async def until(check: Callable[[], bool], what: str, every_s: float = 0.002) -> float:
    with trio.move_on_after(STEP_TIMEOUT_S) as scope:
        while not check():
            await trio.sleep(every_s)
    if scope.cancelled_caught:
        raise TimeoutError(f"{what}: not within {STEP_TIMEOUT_S:g} s")
    return time.monotonic()


@dataclass
class Rates:
    received: float
    committed: float
    sent: float
    cpu_us: float  # CPU of this process (every thread) per frame, go to last commit
    writer_us: float = 0.0  # of which the writer's thread, in its transactions


async def raw_round(
    link: VenueLink, url: str, plan: list[list[wire.Subscription]], n: int, folder: Path
) -> Rates:
    """A trio-websocket client that only receives, on the stream's sockets and options."""
    count = 0
    done = trio.Event()
    end = 0.0

    async def receive(ws: WebSocketConnection) -> None:
        nonlocal count, end
        while True:
            await ws.get_message()
            count += 1
            if count >= n:
                end = time.monotonic()
                done.set()

    async with AsyncExitStack() as stack:
        sockets = []
        for subs in plan:
            ws = await stack.enter_async_context(
                open_websocket_url(
                    url,
                    message_queue_size=MESSAGE_QUEUE,
                    max_message_size=MAX_MESSAGE_BYTES,
                    disconnect_timeout=2.0,
                )
            )
            for sub in subs:
                await ws.send_message(wire.encode_subscribe(sub).decode())
            for _ in subs:
                await ws.get_message()  # the acks
            sockets.append(ws)
        async with trio.open_nursery() as nursery:
            for ws in sockets:
                nursery.start_soon(receive, ws)
            await prepare(link, "/raw", n, 0, folder)
            cpu = time.process_time()
            started, read = await go(link, folder)
            with trio.fail_after(STEP_TIMEOUT_S):
                await done.wait()
            cpu = time.process_time() - cpu
            nursery.cancel_scope.cancel()
    sent = read()
    rate = n / (end - started)
    return Rates(rate, rate, n / sent.seconds, cpu / n * 1e6)


async def stream_round(
    link: VenueLink,
    stream: HyperliquidStream,
    log: CommitLog,
    n: int,
    rate: float,
    folder: Path,
    *,
    settle_s: float = 0.0,
) -> tuple[Rates, Sent]:
    """Send ``n`` frames (``rate`` frames/s; 0: unpaced) and wait for their commits. Then
    ``settle_s`` more before reading the venue's send stamps: that read is tens of ms on this
    thread, which must not delay what is still being delivered after the last commit."""
    log.reset(await prepare(link, "/ws", n, rate, folder))
    base = stream.stats.frames
    received = 0.0

    async def watch() -> None:
        nonlocal received
        received = await until(lambda: stream.stats.frames >= base + n, "frames received")

    cpu = time.process_time()
    writer_cpu = log.thread_cpu
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        started, read = await go(link, folder)
        with trio.fail_after(STEP_TIMEOUT_S):
            await log.done.wait()
    cpu = time.process_time() - cpu
    writer_cpu = log.thread_cpu - writer_cpu
    await trio.sleep(settle_s)
    sent = read()
    rates = Rates(
        n / (received - started),
        n / (log.done_at - started),
        n / sent.seconds,
        cpu / n * 1e6,
        writer_cpu / n * 1e6,
    )
    return rates, sent


def percentile(values: list[float], p: float) -> float:
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def make_config(db_path: Path, info_url: str, ws_url: str, coins: list[str]) -> Config:
    return parse_config(
        f'[storage]\npath = "{db_path}"\n'
        # The shipped settings (config/marketmem.toml).
        "writer_max_rows = 20000\nwriter_max_gather_s = 0.005\nwriter_buffer = 10000\n"
        f'[hyperliquid]\ninfo_url = "{info_url}"\nws_url = "{ws_url}"\n'
        f"coins = {json.dumps(coins)}\ninfo_weight_per_minute = {WEIGHT_PER_MINUTE}\n",
        source_path="bench",
    )


def spread(label: str, values: list[float]) -> str:
    med = statistics.median(values)
    return (
        f"{label} {med:9,.0f} frames/s (median of {len(values)}; "
        f"min {min(values):,.0f}, max {max(values):,.0f})"
    )


async def measure(args: argparse.Namespace, link: VenueLink, folder: Path) -> None:
    words = await link.expect("ready")
    info_url, ws_base = words
    coins = [a.name for a in assets(args.coins)]
    config = make_config(folder / "bench.db", info_url, f"{ws_base}/ws", coins)
    log = CommitLog()
    print(
        f"{len(coins)} coins; writer max rows {config.storage.writer_max_rows}, gather "
        f"{config.storage.writer_max_gather_s * 1000:g} ms; info weight budget raised to "
        f"{WEIGHT_PER_MINUTE:,}/min for the start-up backfill (real venue: 1200/min)",
        flush=True,
    )
    async with open_pipeline(config, executor=log.execute) as rt, open_resources(config) as res:
        rx = rt.bus.subscribe("bench", [Committed], buffer=100_000, policy=Policy.DROP_OLDEST)
        stream = HyperliquidStream(rt, res)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(log.observe, rx)
            t0 = time.perf_counter()
            await nursery.start(stream.run)
            with trio.fail_after(STEP_TIMEOUT_S):
                await stream.ready.wait()
            print(
                f"stream up: {len(stream.connections)} sockets, {stream.stats.subscribed} "
                f"subscriptions, backfill {stream.stats.backfill_rows} rows in "
                f"{time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            subs = [wire.all_mids_subscription()]
            subs += [wire.candle_subscription(c) for c in coins]
            cfg = config.hyperliquid
            plan = plan_connections(
                subs,
                per_connection=cfg.ws_subscriptions_per_connection,
                max_connections=cfg.ws_max_connections,
            )
            raws: list[float] = []
            received: list[float] = []
            committed: list[float] = []
            ratios: list[float] = []
            for r in range(args.rounds):
                raw = await raw_round(link, f"{ws_base}/raw", plan, args.frames, folder)
                got, _ = await stream_round(link, stream, log, args.frames, 0, folder)
                raws.append(raw.received)
                received.append(got.received)
                committed.append(got.committed)
                ratios.append(got.received / raw.received)
                print(
                    f"round {r + 1}: raw {raw.received:,.0f} /s (venue sent "
                    f"{raw.sent:,.0f} /s, {raw.cpu_us:.0f} us CPU/frame); stream received "
                    f"{got.received:,.0f} /s, committed {got.committed:,.0f} /s (venue sent "
                    f"{got.sent:,.0f} /s, {got.cpu_us:.0f} us CPU/frame of which writer thread "
                    f"{got.writer_us:.0f}, "
                    f"{log.transactions} transactions); ratio {ratios[-1]:.2f}",
                    flush=True,
                )
            print(f"throughput, {args.frames:,} frames per run:")
            print("  " + spread("raw trio-websocket receive:", raws))
            print("  " + spread("stream received:           ", received))
            print("  " + spread("stream committed:          ", committed))
            print(
                f"  ratio stream received / raw: {statistics.median(ratios):.2f} "
                f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target >= 0.80)"
            )
            n = int(args.rate * args.seconds)
            got, sent = await stream_round(link, stream, log, n, args.rate, folder)
            lat = sorted((log.at[k] - t) * 1000 for k, t in sent.keys.items())
            mids = sorted((log.at[k] - t) * 1000 for k, t in sent.keys.items() if not k[0])
            print(
                f"latency at {args.rate:,.0f} frames/s for {args.seconds:g} s ({n:,} frames, "
                f"{len(mids)} allMids; sent at {got.sent:,.0f}/s, worst send lag "
                f"{sent.lag_s * 1000:.1f} ms):"
            )
            print(
                f"  frame-to-commit p50 {percentile(lat, 50):.1f} ms, p99 "
                f"{percentile(lat, 99):.1f} ms, max {lat[-1]:.1f} ms (target p99 < 50 ms); "
                f"allMids p99 {percentile(mids, 99) if mids else float('nan'):.1f} ms"
            )
            print(
                f"  writer: {log.transactions} transactions, {log.rows / max(1, log.transactions):.0f}"
                f" rows each, {log.commit_s / max(1, log.transactions) * 1000:.2f} ms each "
                f"in the thread"
            )
            dropped = [s.dropped for s in rt.bus.statistics().subscribers if s.name == "bench"]
            if dropped and dropped[0]:
                print(f"WARNING: {dropped[0]} Committed events dropped; timings are off")
            nursery.cancel_scope.cancel()


async def bench(args: argparse.Namespace) -> None:
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory(prefix="marketmem-bench-") as tmp:
        command = [sys.executable, "-m", "bench.stream", "--venue", f"--coins={args.coins}"]
        await with_venue_process(command, lambda link: measure(args, link, Path(tmp)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000, help="frames per throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="raw + stream throughput runs")
    parser.add_argument("--rate", type=float, default=2000.0, help="frames/s of the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    parser.add_argument("--coins", type=int, default=COINS)
    parser.add_argument("--venue", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (1_000 <= args.frames <= 1_000_000 and 1 <= args.rounds <= 20):
        parser.error("--frames must be 1,000..1,000,000 and --rounds 1..20")
    if not (0 < args.rate <= 50_000 and 0 < args.seconds <= 120 and 2 <= args.coins <= 900):
        parser.error("--rate must be 1..50,000, --seconds up to 120, --coins 2..900")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.venue:
        trio.run(venue_main, args)
    else:
        trio.run(bench, args)


if __name__ == "__main__":
    main()
