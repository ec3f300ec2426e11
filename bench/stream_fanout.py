"""Live-stream fan-out: 200 SSE clients on the stream feed, commit-to-client delay and the
writer's throughput beside the same runs without clients.

The feed is ``bench.stream``'s: its venue process (the local Hyperliquid venue's simulator
for 230 perps, frames rendered before the clock starts) blasts candle pushes and ``allMids``
over loopback into the real ``HyperliquidStream``, bus and storage writer (settings of
``config/marketmem.toml``). This process also serves the HTTP API with its live stream
(``http.feed.BusFeed`` on the same bus, as ``bin/marketmem run`` does) on 127.0.0.1, and
starts a client process (this module with ``--client``) holding ``--clients`` SSE streams of
``mid,candle,health``, five coins each, all 230 coins covered.

Rounds without clients and with them connected alternate (the client process starts for
each round with clients and stops after it), so both see the same machine. Each round is an
unpaced blast of ``--frames`` frames (committed frames/s) and a paced run at ``--rate``
frames/s for ``--seconds`` (frames/s and rows committed, frame-to-commit, as ``bench.stream``
measures them). Commit-to-client delay: the bench stamps when the writer's transaction holding a
closed bar or a mid returned (``time.monotonic``, one clock for both processes), each client
when the event's last byte arrived.

Targets: p99 commit-to-client < 100 ms; the writer's throughput unchanged within noise.

    .venv/bin/python -m bench.stream_fanout [--clients 200] [--rate 2000] [--seconds 10]
        [--frames 50000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import h11
import msgspec
import trio

from bench.stream import (
    COINS,
    STEP_TIMEOUT_S,
    CommitLog,
    Lines,
    VenueLink,
    assets,
    machine,
    make_config,
    percentile,
    stream_round,
    with_venue_process,
)
from marketmem.bus import Policy
from marketmem.clock import SystemClock
from marketmem.events import (
    ApiTokenCreated,
    AssetRegistryBatch,
    CandleBatch,
    Committed,
    Event,
    HyperliquidAsset,
    LiveCandles,
    LiveMids,
    MidBatch,
)
from marketmem.heap import settle_heap
from marketmem.http.auth import issue_token
from marketmem.http.feed import bus_feed
from marketmem.http.server import serve_http
from marketmem.http.stream import StreamHub
from marketmem.pipeline import open_pipeline
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid.resources import open_resources
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from marketmem.storage.writer import StorageWriter

COINS_PER_CLIENT = 5

Key = tuple[str, str, int]  # ("candle", coin, open time) | ("mid", coin, observed at)


class CommitTimes:
    """When the writer's transaction holding each closed bar and each mid returned: the
    moment the feed may read it back (``Committed`` is published right after)."""

    def __init__(self, log: CommitLog) -> None:
        self.log = log
        self.at: dict[Key, float] = {}

    async def execute(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = await self.log.execute(fn, *args)
        if getattr(fn, "__func__", None) is StorageWriter._write_group:
            now = time.monotonic()
            for event in args[0]:
                if isinstance(event, CandleBatch):
                    for bar in event.rows:
                        if bar.closed:
                            self.at.setdefault(("candle", bar.coin, bar.open_time_ms), now)
                elif isinstance(event, MidBatch):
                    for mid in event.rows:
                        self.at.setdefault(("mid", mid.coin, mid.observed_at_ms), now)
        return result


async def watch_published(rx: trio.MemoryReceiveChannel[Event], at: dict[Key, float]) -> None:
    """When the feed published each row to the streams (a probe beside the clients)."""
    async for event in rx:
        now = time.monotonic()
        if isinstance(event, LiveCandles):
            for bar in event.rows:
                at.setdefault(("candle", bar.coin, bar.open_time_ms), now)
        elif isinstance(event, LiveMids):
            for mid in event.rows:
                at.setdefault(("mid", mid.coin, mid.observed_at_ms), now)


def listing(coins: list[str], now_ms: int) -> AssetRegistryBatch:
    """The registry the stream validates ``symbols`` against (the bench runs no registry)."""
    return AssetRegistryBatch(
        assets=[
            HyperliquidAsset(
                coin=c,
                asset_index=i,
                sz_decimals=2,
                max_leverage=10,
                margin_table_id=None,
                margin_tiers=None,
                is_delisted=False,
                only_isolated=False,
                margin_mode=None,
                first_seen_ms=now_ms,
                last_seen_ms=now_ms,
            )
            for i, c in enumerate(coins)
        ],
        taxonomy=[],
        categories=[],
    )


async def store_access(rt: Runtime, coins: list[str]) -> str:
    assert rt.writer is not None
    now = rt.clock.now_ms()
    issued = issue_token()
    await rt.writer.execute(listing(coins, now))
    await rt.writer.execute(
        ApiTokenCreated(
            token_id=issued.token_id, user="bench", token_hash=issued.token_hash, created_at_ms=now
        )
    )
    return issued.token


def symbols_of(coins: list[str], clients: int) -> list[str]:
    """Five coins per client, spread so that every coin is someone's."""
    return [
        ",".join(coins[(COINS_PER_CLIENT * i + k) % len(coins)] for k in range(COINS_PER_CLIENT))
        for i in range(clients)
    ]


Round = dict[str, float]

# Seconds after a paced run's last commit before the bench reads its stamps.
SETTLE_S = 1.0


async def one_round(
    label: str,
    r: int,
    args: argparse.Namespace,
    link: VenueLink,
    stream: HyperliquidStream,
    log: CommitLog,
    rt: Runtime,
    folder: Path,
) -> Round:
    """An unpaced blast, then the paced run; what the writer committed of each."""
    assert rt.writer is not None
    got, _ = await stream_round(link, stream, log, args.frames, 0, folder, settle_s=SETTLE_S)
    n = int(args.rate * args.seconds)
    rows = rt.writer.stats.rows
    began = time.monotonic()
    # The stream keeps delivering the last commits after them: the bench's own reading of
    # stamps waits until that is done (it would otherwise be the tail it measures).
    paced, sent = await stream_round(link, stream, log, n, args.rate, folder, settle_s=SETTLE_S)
    lat = sorted((log.at[k] - t) * 1000 for k, t in sent.keys.items())
    out = {
        "blast": got.committed,
        "paced": paced.committed,
        "rows": rt.writer.stats.rows - rows,
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        # When the paced run's rows were committed (its frames are sent from here on).
        "paced_from": began,
        "paced_to": time.monotonic(),
    }
    print(
        f"round {r + 1}, {label}: blast of {args.frames:,} frames committed at "
        f"{out['blast']:,.0f} frames/s; {n:,} frames at {args.rate:,.0f}/s: committed at "
        f"{out['paced']:,.0f} frames/s ({out['rows']:,.0f} rows), frame-to-commit "
        f"p50 {out['p50']:.1f} ms, p99 {out['p99']:.1f} ms",
        flush=True,
    )
    return out


@dataclass
class Crowd:
    """What the client processes of the rounds with clients brought back."""

    received: list[list[Any]] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    dropped: int = 0


@asynccontextmanager
async def clients_connected(
    nursery: trio.Nursery,
    args: argparse.Namespace,
    hub: StreamHub,
    port: int,
    token: str,
    coins: list[str],
    folder: Path,
    crowd: Crowd,
) -> AsyncIterator[None]:
    """The client process with every stream open; afterwards, what it received."""
    out = folder / "received.json"
    command = [
        sys.executable,
        "-m",
        "bench.stream_fanout",
        "--client",
        f"--port={port}",
        f"--token={token}",
        f"--clients={args.clients}",
        f"--symbols={';'.join(symbols_of(coins, args.clients))}",
        f"--out={out}",
    ]
    proc: trio.Process = await nursery.start(
        partial(trio.run_process, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    )
    clients = VenueLink(proc)
    await clients.expect("connected")
    with trio.fail_after(STEP_TIMEOUT_S):
        while len(hub.sessions) < args.clients:
            await trio.sleep(0.05)
    yield  # the round waited SETTLE_S after its last commit: what it sent has arrived
    crowd.dropped += sum(hub.bus.dropped(s.rx) for s in hub.sessions)
    await clients.say("stop")
    crowd.done = await clients.expect("done")
    with trio.fail_after(STEP_TIMEOUT_S):
        await proc.wait()
        while hub.sessions:
            await trio.sleep(0.05)
    crowd.received += json.loads(out.read_text())


def summary(values: list[float], unit: str, fmt: str = ",.0f") -> str:
    med = statistics.median(values)
    return (
        f"{med:{fmt}} {unit} (median of {len(values)}; {min(values):{fmt}} to {max(values):{fmt}})"
    )


async def measure(args: argparse.Namespace, link: VenueLink, folder: Path) -> None:
    words = await link.expect("ready")
    info_url, ws_base = words
    coins = [a.name for a in assets(args.coins)]
    config = make_config(folder / "bench.db", info_url, f"{ws_base}/ws", coins)
    # One token for every client here: its limit of open streams is raised to match.
    http = msgspec.structs.replace(
        config.http, bind="127.0.0.1:0", stream_max_per_token=args.clients
    )
    config = msgspec.structs.replace(config, http=http)
    log = CommitLog()
    times = CommitTimes(log)
    clock = SystemClock()
    async with (
        open_pipeline(config, clock=clock, executor=times.execute) as rt,
        open_resources(config) as res,
    ):
        # NOTE: before the first transaction: the log pairs each Committed with one.
        rx = rt.bus.subscribe("bench", [Committed], buffer=100_000, policy=Policy.DROP_OLDEST)
        stream = HyperliquidStream(rt, res)
        hub, feed = bus_feed(rt.bus, config, clock)
        published: dict[Key, float] = {}
        probe = rt.bus.subscribe(
            "bench-probe", [LiveCandles, LiveMids], buffer=100_000, policy=Policy.DROP_OLDEST
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(log.observe, rx)
            nursery.start_soon(watch_published, probe, published)
            token = await store_access(rt, coins)
            await nursery.start(hub.run)
            nursery.start_soon(feed.run)
            port = await nursery.start(partial(serve_http, config, clock, streams=hub))
            await nursery.start(stream.run)
            with trio.fail_after(STEP_TIMEOUT_S):
                await stream.ready.wait()
            settle_heap()  # as run_service does once it has started
            print(
                f"{len(coins)} coins on {len(stream.connections)} sockets; HTTP on port {port}; "
                f"{args.clients} clients x {COINS_PER_CLIENT} coins, kinds mid,candle,health",
                flush=True,
            )
            # Rounds without and with clients alternate, so both see the same machine.
            alone: list[Round] = []
            crowded: list[Round] = []
            crowd = Crowd()
            for r in range(args.rounds):
                alone.append(await one_round("no clients", r, args, link, stream, log, rt, folder))
                async with clients_connected(nursery, args, hub, port, token, coins, folder, crowd):
                    label = f"{args.clients} clients"
                    crowded.append(await one_round(label, r, args, link, stream, log, rt, folder))
            report(args, alone, crowded, crowd, times, published, feed)
            nursery.cancel_scope.cancel()


def report(
    args: argparse.Namespace,
    alone: list[Round],
    crowded: list[Round],
    crowd: Crowd,
    times: CommitTimes,
    published: dict[Key, float],
    feed: Any,
) -> None:
    windows = [(r["paced_from"], r["paced_to"]) for r in crowded]
    delays: dict[str, dict[str, list[float]]] = {
        "paced": {"candle": [], "mid": []},
        "blast": {"candle": [], "mid": []},
    }
    # The delay in two parts: commit to the feed's publishing, publishing to the client.
    parts: dict[str, dict[str, list[float]]] = {"paced": {"feed": [], "fan-out": []}}
    parts["blast"] = {"feed": [], "fan-out": []}
    unmatched = 0
    for kind, coin, key, at in crowd.received:
        committed = times.at.get((kind, coin, key))
        if committed is None:
            unmatched += 1
            continue
        run = "paced" if any(a <= committed <= b for a, b in windows) else "blast"
        delays[run][kind].append((at - committed) * 1000)
        out = published.get((kind, coin, key))
        if out is not None:
            parts[run]["feed"].append((out - committed) * 1000)
            parts[run]["fan-out"].append((at - out) * 1000)
    for run, title in (
        ("paced", f"at {args.rate:,.0f} frames/s"),
        ("blast", "during the unpaced blasts"),
    ):
        every = sorted(delays[run]["candle"] + delays[run]["mid"])
        print(f"commit-to-client delay {title}, {args.clients} clients ({len(every):,} events):")
        rows = [("all", every), *((k, sorted(v)) for k, v in delays[run].items())]
        rows += [(f"{k}:", sorted(v)) for k, v in parts[run].items()]
        for name, values in rows:
            if values:
                print(
                    f"  {name:6s} p50 {percentile(values, 50):6.1f} ms, p99 "
                    f"{percentile(values, 99):6.1f} ms, max {values[-1]:6.1f} ms "
                    f"({len(values):,})"
                )
    print("  target: p99 < 100 ms (at the paced rate)")
    print(
        f"  last client process: {' '.join(crowd.done)}; events without a commit stamp: "
        f"{unmatched}; events dropped for slow clients: {crowd.dropped}; feed: "
        f"{feed.stats.looks} looks, {feed.stats.expired} hints expired"
    )
    print("writer throughput, without clients / with clients:")

    def both(key: str, what: str, unit: str, fmt: str) -> None:
        print(f"  {what:20s} {summary([r[key] for r in alone], unit, fmt)}")
        print(f"  {'':20s} {summary([r[key] for r in crowded], unit, fmt)}")

    for key, what, unit, fmt in (
        ("paced", f"at {args.rate:,.0f} frames/s:", "frames/s committed", ",.0f"),
        ("rows", "rows per paced run:", "rows", ",.0f"),
        ("p99", "frame-to-commit p99:", "ms", ".1f"),
        ("blast", "unpaced blast:", "frames/s committed", ",.0f"),
    ):
        both(key, what, unit, fmt)

    def ratio(key: str) -> float:
        return statistics.median(r[key] for r in crowded) / statistics.median(r[key] for r in alone)

    print(
        f"  ratio with/without: paced {ratio('paced'):.3f}, blast {ratio('blast'):.2f} "
        "(target: unchanged)"
    )


# --- the client process --------------------------------------------------------------------------


class SseClient:
    """One stream over h11 on a trio socket; stamps each event's arrival (lean: the load
    generator shares the machine with the server)."""

    def __init__(self, port: int, token: str, symbols: str) -> None:
        self.port = port
        self.target = f"/api/v1/stream?symbols={symbols}&kinds=mid,candle,health"
        self.headers = [("Host", "127.0.0.1"), ("Authorization", f"Bearer {token}")]
        self.seen: dict[Key, float] = {}
        self.counts = {"lagged": 0, "keepalive": 0, "health": 0}
        self.status = 0
        self.error: str | None = None

    def _block(self, block: bytes, at: float) -> None:
        if block.startswith(b": keepalive"):
            self.counts["keepalive"] += 1
            return
        kind = data = None
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                kind = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]
        if kind in ("lagged", "health"):
            self.counts[kind] += 1
        elif kind in ("candle", "mid") and data is not None:
            row = msgspec.json.decode(data)
            key = row["open_time_ms"] if kind == "candle" else row["observed_at_ms"]
            self.seen.setdefault((kind, row["coin"], key), at)

    async def run(self, connected: Callable[[], None]) -> None:
        try:
            await self._run(connected)
        except (OSError, trio.BrokenResourceError, h11.ProtocolError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    async def _run(self, connected: Callable[[], None]) -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            await stream.send_all(
                conn.send(h11.Request(method="GET", target=self.target, headers=self.headers))
                + conn.send(h11.EndOfMessage())
            )
            rest = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                elif isinstance(event, h11.Response):
                    self.status = event.status_code
                    connected()
                elif isinstance(event, h11.Data):
                    at = time.monotonic()
                    *blocks, rest = (rest + bytes(event.data)).split(b"\n\n")
                    for block in blocks:
                        self._block(block, at)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return


async def clients_main(args: argparse.Namespace) -> None:
    # The load generator's own full collections (it imports what the server does) would
    # delay the arrival stamps: its heap is settled as the server's is.
    settle_heap()
    clients = [SseClient(args.port, args.token, s) for s in args.symbols.split(";")]
    commands = Lines(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
    up = 0
    all_up = trio.Event()

    def connected() -> None:
        nonlocal up
        up += 1
        if up == len(clients):
            all_up.set()

    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(client.run, connected)
        await all_up.wait()
        statuses = sorted({c.status for c in clients})
        if statuses != [200]:
            raise SystemExit(f"streams answered {statuses}")
        print(f"connected {len(clients)}", flush=True)
        while (await commands.next()).strip() != "stop":
            pass
        nursery.cancel_scope.cancel()
    received = [[*key, at] for c in clients for key, at in c.seen.items()]
    Path(args.out).write_text(json.dumps(received))
    totals = {k: sum(c.counts[k] for c in clients) for k in ("lagged", "keepalive", "health")}
    statuses = sorted({c.status for c in clients})
    errors = sorted({c.error for c in clients if c.error})
    print(
        f"done statuses={statuses} errors={len(errors)}{errors[:1]} "
        f"events={len(received)} lagged={totals['lagged']} "
        f"keepalive={totals['keepalive']} health={totals['health']} "
        f"cpu={time.process_time():.1f}s",
        flush=True,
    )


async def bench(args: argparse.Namespace) -> None:
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory(prefix="marketmem-bench-") as tmp:
        command = [sys.executable, "-m", "bench.stream", "--venue", f"--coins={args.coins}"]
        await with_venue_process(command, lambda link: measure(args, link, Path(tmp)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2000.0, help="frames/s of the paced runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a paced run")
    parser.add_argument("--frames", type=int, default=50_000, help="frames of an unpaced blast")
    parser.add_argument("--rounds", type=int, default=2, help="rounds with and without clients")
    parser.add_argument("--coins", type=int, default=COINS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--symbols", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (1 <= args.clients <= 1000 and 1 <= args.rounds <= 10):
        parser.error("--clients must be 1..1000 and --rounds 1..10")
    if not (0 < args.rate <= 50_000 and 0 < args.seconds <= 120 and args.frames >= 1_000):
        parser.error("--rate must be 1..50,000, --seconds up to 120, --frames at least 1,000")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.client:
        trio.run(clients_main, args)
    else:
        trio.run(bench, args)


if __name__ == "__main__":
    main()
