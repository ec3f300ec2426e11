"""Benchmark of POST latest-data: the server on a populated database while the writer keeps
ingesting, driven from another process by concurrent clients.

    .venv/bin/python -m bench.http [--clients 64] [--duration 10] [--warmup 2] [--rate 0]
                                   [--coins 20] [--db postgresql://...]

The server process seeds a fresh database through the storage writer (tokens, a clone, 24 h
of 1-minute candles and 30 min of 5-second mids per coin, a run per channel), starts the API
with Hypercorn on 127.0.0.1, keeps publishing mids and candles through the writer, and
spawns the client process. Each client loops over the clone's symbols, one request at a time
(``--rate R``: R requests/s per client, default 5; 0: as fast as answers come), first for
``--warmup`` seconds that are not counted (the server's caches then hold, and refresh, what
is asked for, as in a service that has been running), then for ``--duration``. The client
prints requests/s and p50/p90/p99/max latency; the server adds what the writer committed.
Only 127.0.0.1 is ever contacted (and the server of ``--db``); the run is bounded by
``--warmup`` plus ``--duration``.

With ``--db URL`` (a ``postgresql://`` URL of a role that may create databases) the same run
follows on PostgreSQL: the writer seeds and ingests into a scratch database of that server
(``bench.pg``, dropped afterwards) and the API reads it through its connection pool; both
engines' figures are printed side by side at the end. Target (issue 16): p99 < 20 ms with 64
clients on both engines.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h11
import trio

from bench import pg
from marketmem.clock import SystemClock
from marketmem.config import Config
from marketmem.events import (
    ApiTokenCreated,
    Candle,
    CandleBatch,
    CloneSaved,
    MidBatch,
    MidPrice,
    RunFinished,
    RunStarted,
)
from marketmem.heap import settle_heap
from marketmem.http.auth import issue_token
from marketmem.http.server import serve_http
from marketmem.pipeline import open_pipeline
from marketmem.plugins import parse_config
from marketmem.runtime import Runtime
from marketmem.storage import engine

MINUTE = 60_000


def coins(n: int) -> list[str]:
    base = ["BTC", "ETH", "SOL", "HYPE", "DOGE", "AVAX", "LINK", "ARB", "OP", "SUI"]
    return [base[i] if i < len(base) else f"C{i}" for i in range(n)]


def candle(coin: str, open_ms: int, price: float, now_ms: int) -> Candle:
    return Candle(
        coin=coin,
        interval="1m",
        open_time_ms=open_ms,
        close_time_ms=open_ms + MINUTE - 1,
        open=price,
        high=price * 1.001,
        low=price * 0.999,
        close=price,
        volume=10.0,
        trades=5,
        closed=open_ms + MINUTE <= now_ms,
        updated_at_ms=min(now_ms, open_ms + MINUTE - 1),
    )


async def seed(rt: Runtime, symbols: list[str], now_ms: int) -> tuple[str, int]:
    """Tokens, a clone and 24 h of history; returns (token, rows published)."""
    issued = issue_token()
    await rt.bus.publish(
        ApiTokenCreated(
            token_id=issued.token_id,
            user="bench",
            token_hash=issued.token_hash,
            created_at_ms=now_ms,
        )
    )
    await rt.bus.publish(
        CloneSaved(clone_id="bench", owner="bench", symbols=symbols, saved_at_ms=now_ms)
    )
    rows = 0
    start = now_ms - now_ms % MINUTE - 24 * 60 * MINUTE
    for i, coin in enumerate(symbols):
        bars = [
            candle(coin, start + k * MINUTE, 100.0 + i + k * 0.01, now_ms)
            for k in range(24 * 60 + 1)
        ]
        await rt.bus.publish(CandleBatch(rows=bars))
        mids = [
            MidPrice(coin=coin, bucket_ms=b, price=100.0 + i, observed_at_ms=b)
            for b in range(now_ms - 30 * MINUTE - now_ms % 5000, now_ms, 5000)
        ]
        await rt.bus.publish(MidBatch(rows=mids))
        rows += len(bars) + len(mids)
    for source, channel, _ in rt.config.channels():
        run_id = f"bench-{source}-{channel}"
        await rt.bus.publish(
            RunStarted(run_id=run_id, source=source, channel=channel, started_at_ms=now_ms - 1000)
        )
        await rt.bus.publish(
            RunFinished(
                run_id=run_id,
                source=source,
                channel=channel,
                started_at_ms=now_ms - 1000,
                finished_at_ms=now_ms,
                status="ok",
                rows_written=rows,
            )
        )
    return issued.token, rows


async def ingest(rt: Runtime, symbols: list[str], every_s: float) -> None:
    """Keep the writer busy: a mid batch and a candle update for every coin, every ``every_s``."""
    clock = rt.clock
    while True:
        now = clock.now_ms()
        bucket = now - now % 5000
        await rt.bus.publish(
            MidBatch(
                rows=[
                    MidPrice(coin=c, bucket_ms=bucket, price=100.0, observed_at_ms=now)
                    for c in symbols
                ]
            )
        )
        open_ms = now - now % MINUTE
        await rt.bus.publish(CandleBatch(rows=[candle(c, open_ms, 100.0, now) for c in symbols]))
        await trio.sleep(every_s)


def bench_config(storage: str) -> Config:
    return parse_config(
        f'[storage]\n{storage}\n[http]\nbind = "127.0.0.1:0"\n'
        "[hyperliquid.channels]\ncandles = { enabled = true, cadence_s = 60 }\n"
        "mids = { enabled = true, cadence_s = 60 }\n",
        source_path="bench",
    )


async def serve_and_drive(args: argparse.Namespace) -> None:
    results: list[tuple[str, dict[str, Any]]] = []
    folder = Path(tempfile.mkdtemp(prefix="marketmem-bench-"))
    try:
        print("== SQLite", flush=True)
        config = bench_config(f'path = "{folder / "bench.db"}"')
        results.append(("SQLite", await _serve_and_drive(args, config)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.db:
        print(f"== PostgreSQL: {pg.server_settings(args.db)}", flush=True)
        with pg.scratch_database(args.db) as url:
            results.append(
                ("PostgreSQL", await _serve_and_drive(args, bench_config(f'url = "{url}"')))
            )
    if len(results) > 1:
        print(f"latest-data, {args.clients} clients x {args.rate:g} req/s each:")
        for name, r in results:
            print(
                f"  {name:<11} {r['requests_per_s']:7.1f} req/s; p50 {r['p50_ms']:6.2f} ms, "
                f"p90 {r['p90_ms']:6.2f} ms, p99 {r['p99_ms']:6.2f} ms, max {r['max_ms']:7.2f} ms; "
                f"errors {r['errors'] or 'none'}; writer {r['writer_rows_per_s']:.0f} rows/s"
            )


async def _serve_and_drive(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    symbols = coins(args.coins)
    clock = SystemClock()
    async with open_pipeline(config) as rt:
        t0 = time.perf_counter()
        token, rows = await seed(rt, symbols, clock.now_ms())
        writer = rt.writer
        while writer.stats.rows < rows:
            await trio.sleep(0.05)
        print(
            f"seeded {rows} rows for {len(symbols)} coins in {time.perf_counter() - t0:.1f}s "
            f"(in {engine.display(config.database())}, removed afterwards)",
            flush=True,
        )
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, config, clock)
            settle_heap()  # as run_service and serve do once they have started
            nursery.start_soon(ingest, rt, symbols, args.ingest_every)
            before = writer.stats.rows
            done = await trio.run_process(
                [
                    sys.executable,
                    "-m",
                    "bench.http",
                    "--client",
                    f"--port={port}",
                    f"--token={token}",
                    f"--clients={args.clients}",
                    f"--duration={args.duration}",
                    f"--warmup={args.warmup}",
                    f"--rate={args.rate}",
                    f"--symbols={','.join(symbols)}",
                ],
                check=False,
                capture_stdout=True,
            )
            committed = writer.stats.rows - before
            nursery.cancel_scope.cancel()
    rows_per_s = committed / (args.warmup + args.duration)
    print(
        f"writer committed {committed} rows during the run "
        f"({rows_per_s:.0f} rows/s); last commit {writer.stats.last_commit_latency_s * 1000:.1f} ms"
    )
    output = done.stdout.decode()
    print(output, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(done.returncode)
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["writer_rows_per_s"] = rows_per_s
    return result


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


class Client:
    """One keep-alive HTTP/1.1 connection (h11 over a trio socket): lean, so the load
    generator leaves the CPU to the server on a small machine."""

    def __init__(self, stream: trio.SocketStream, token: str) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)
        self.headers = [
            ("Host", "127.0.0.1"),
            ("Authorization", f"Bearer {token}"),
            ("Content-Type", "application/json"),
            ("Content-Length", "2"),
        ]

    async def post(self, target: str) -> tuple[int, int]:
        """(status, body bytes) of one POST with body ``{}``."""
        conn = self.conn
        out = conn.send(h11.Request(method="POST", target=target, headers=self.headers))
        out += conn.send(h11.Data(data=b"{}")) + conn.send(h11.EndOfMessage())
        await self.stream.send_all(out)
        status, size = 0, 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                size += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                conn.start_next_cycle()
                return status, size
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection")


async def drive(args: argparse.Namespace) -> None:
    settle_heap()  # the load generator's own full collections would add to what it measures
    symbols = args.symbols.split(",")
    target = "/api/v1/clones/bench/assets/{}/latest-data"
    latencies: list[float] = []
    errors: dict[int, int] = {}
    sizes: list[int] = []
    started = trio.Event()
    deadline = trio.current_time() + 3600.0

    async def one(i: int) -> None:
        # Every client has its own connection, as separate services would.
        stream = await trio.open_tcp_stream("127.0.0.1", args.port)
        async with stream:
            client = Client(stream, args.token)
            await client.post(target.format(symbols[i % len(symbols)]))  # connected
            await started.wait()
            interval = 1.0 / args.rate if args.rate > 0 else 0.0
            # The clients' first requests are spread over one interval.
            next_at = trio.current_time() + interval * i / args.clients
            n = 0
            while trio.current_time() < deadline:
                if interval:
                    await trio.sleep_until(next_at)
                    next_at += interval
                t = time.perf_counter()
                status, size = await client.post(target.format(symbols[(i + n) % len(symbols)]))
                n += 1
                if not measuring:
                    continue
                latencies.append(time.perf_counter() - t)
                if status != 200:
                    errors[status] = errors.get(status, 0) + 1
                sizes.append(size)

    measuring = False
    async with trio.open_nursery() as nursery:
        for i in range(args.clients):
            nursery.start_soon(one, i)
        await trio.sleep(1.0)
        deadline = trio.current_time() + args.warmup + args.duration
        started.set()
        # The same load, not counted, until the server's caches are as in a running service
        # (each answer, token and clone check kept and refreshed while it is asked for).
        await trio.sleep(args.warmup)
        measuring = True
        cpu0 = time.process_time()
        t0 = time.perf_counter()
    elapsed = time.perf_counter() - t0
    client_cpu = (time.process_time() - cpu0) / elapsed
    ms = sorted(x * 1000 for x in latencies)
    result = {
        "clients": args.clients,
        "rate_per_client": args.rate,
        "requests": len(ms),
        "errors": errors,
        "requests_per_s": round(len(ms) / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        "response_bytes": round(statistics.fmean(sizes)) if sizes else None,
        "client_cpu": round(client_cpu, 2),
    }
    print(
        f"latest-data: {result['requests']} requests from {args.clients} clients in "
        f"{elapsed:.1f}s = {result['requests_per_s']} req/s; p50 {result['p50_ms']} ms, "
        f"p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms; "
        f"errors {errors or 'none'}; response {result['response_bytes']} bytes; "
        f"load generator used {client_cpu:.0%} of a core"
    )
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of the same load before, not counted"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="requests/s per client (0: max)")
    parser.add_argument("--coins", type=int, default=20)
    parser.add_argument("--ingest-every", type=float, default=0.1, help="seconds between batches")
    parser.add_argument("--db", type=pg.check_url, help="also measure this PostgreSQL server")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--symbols", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.clients <= 1024 or not 0 < args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--clients must be 1..1024, --duration 0..600 s and --warmup 0..60 s")
    if args.client:
        trio.run(drive, args)
    else:
        trio.run(serve_and_drive, args)


if __name__ == "__main__":
    main()
