"""Gap backfill throughput: 24 h of 1-minute candles for 230 coins through ``candleSnapshot``.

A venue process (this module with ``--venue``) serves ``POST /info`` answering ``meta`` and
``candleSnapshot`` pages with 24 h of 1-minute bars per coin, rendered before the clock starts
in exactly the venue's shape (the simulator's ``Bar.to_wire``), and a WebSocket endpoint that
acks subscriptions (the blaster of ``bench.stream``, which stays silent here).

The bench process runs the real pipeline (bus + storage writer in its thread) and the real
``HyperliquidStream`` on an empty database: it reads ``meta``, subscribes its 3 sockets, and
each socket backfills its coins through the real info client (``candleSnapshot`` paged, one
coin after another), the candle tracker and the bus. Timed from the start of the stream to
the writer's commit of the last row; printed next to raw apsw ``executemany`` of the same rows
(read back from the database) into a fresh database in the same run (``bench.writer``'s
baseline), on a connection with SQLite's default page cache (the target's baseline) and again
with the writer's (``[storage] writer_cache_mib``).

With ``--db postgresql://...`` (a role that may create databases) every run is made on both
engines, SQLite first: the stream backfills into a scratch database of that server, and the
raw baselines of the same rows are psycopg ``executemany`` of the writer's upsert on one
connection and binary ``COPY`` into a temporary table with one ``INSERT ... SELECT`` (as
``bench.writer``), ``TXN_ROWS`` per transaction, each in a scratch database of its own; every
scratch database is dropped afterwards (``bench.pg``).

The info weight budget is raised for the bench (the real 1200/min would stretch a 230-coin
backfill over minutes of waiting); the output says how long the real budget would take.

    .venv/bin/python -m bench.backfill [--coins 230] [--hours 24] [--repeat 3] [--db URL]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench import pg
from bench.stream import Blaster, Lines, VenueLink, assets, machine, with_venue_process
from bench.writer import WRITER_CACHE_MIB, baseline, pg_copy, pg_executemany
from marketmem.bus import Policy
from marketmem.config import Config
from marketmem.events import Candle, Committed
from marketmem.heap import settle_heap
from marketmem.pipeline import open_pipeline
from marketmem.plugins import parse_config
from marketmem.sources.hyperliquid.resources import open_resources
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from marketmem.sources.hyperliquid.tables import CANDLES
from marketmem.sources.hyperliquid.weights import INFO_WEIGHT_PER_MINUTE, request_weight
from marketmem.storage import engine
from marketmem.venues.serve import serve_asgi
from marketmem.venues.simulator import Bar, SimAsset, round_price

MINUTE_MS = 60_000
WEIGHT_PER_MINUTE = 1_000_000
TXN_ROWS = 20_000  # the writer's writer_max_rows
STEP_TIMEOUT_S = 600.0


# --- the venue process -------------------------------------------------------------------------


class SnapshotVenue:
    """``meta`` and ``candleSnapshot`` over pre-rendered bars (one per coin and minute)."""

    def __init__(self, sim_assets: tuple[SimAsset, ...], first_ms: int, minutes: int) -> None:
        self.assets = sim_assets
        self.first_ms = first_ms
        self.bars: dict[str, list[bytes]] = {}
        rng = random.Random(7)
        for a in sim_assets:
            price = a.price
            rendered = []
            for m in range(minutes):
                t = first_ms + m * MINUTE_MS
                o = price
                hi = lo = o
                for _ in range(3):
                    price = round_price(price * Decimal(repr(1 + rng.gauss(0, 0.001))), 2)
                    hi, lo = max(hi, price), min(lo, price)
                volume = Decimal(rng.randrange(1, 10_000)).scaleb(-a.sz_decimals)
                bar = Bar(a.name, "1m", t, t + MINUTE_MS - 1, o, hi, lo, price, volume, 3)
                rendered.append(json.dumps(bar.to_wire(), separators=(",", ":")).encode())
            self.bars[a.name] = rendered
        self.requests = 0

    def meta(self) -> bytes:
        universe = [
            {"szDecimals": a.sz_decimals, "name": a.name, "maxLeverage": a.max_leverage}
            for a in self.assets
        ]
        return json.dumps({"universe": universe, "marginTables": [], "collateralToken": 0}).encode()

    def snapshot(self, coin: str, start: int, end: int) -> bytes:
        """Bars overlapping [start, end], ascending, at most 5000 (``null``: unknown coin)."""
        rendered = self.bars.get(coin)
        if rendered is None:
            return b"null"
        first = max(0, math.ceil((start - (MINUTE_MS - 1) - self.first_ms) / MINUTE_MS))
        last = min(len(rendered) - 1, (end - self.first_ms) // MINUTE_MS)
        return b"[" + b",".join(rendered[first : min(last + 1, first + 5000)]) + b"]"

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        request = json.loads(body)
        status, payload = 200, b"null"
        if request.get("type") == "meta":
            payload = self.meta()
        elif request.get("type") == "candleSnapshot":
            req = request["req"]
            payload = self.snapshot(req["coin"], req["startTime"], req["endTime"])
        else:
            status = 422
        headers = [(b"content-type", b"application/json")]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def venue_main(args: argparse.Namespace) -> None:
    sim_assets = assets(args.coins)
    now = time.time_ns() // 1_000_000
    # The day asked for, plus a margin on both sides for the minutes the run takes.
    first = now - now % MINUTE_MS - (args.hours * 60 + 5) * MINUTE_MS
    venue = SnapshotVenue(sim_assets, first, args.hours * 60 + 30)
    blaster = Blaster(sim_assets, now)
    commands = Lines(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
    async with trio.open_nursery() as nursery:
        info_port = await nursery.start(partial(serve_asgi, venue.asgi))
        listeners = await nursery.start(
            partial(trio.serve_tcp, blaster.handler, 0, host="127.0.0.1")
        )
        ws_port = listeners[0].socket.getsockname()[1]
        print(f"ready http://127.0.0.1:{info_port} ws://127.0.0.1:{ws_port}", flush=True)
        try:
            while (await commands.next()).strip() != "quit":
                pass
        except EOFError:
            pass
        nursery.cancel_scope.cancel()


# --- the bench process -------------------------------------------------------------------------


def make_config(
    location: engine.Location, info_url: str, ws_url: str, coins: list[str], hours: int
) -> Config:
    where = f'url = "{location}"' if engine.is_postgres(location) else f'path = "{location}"'
    return parse_config(
        f"[storage]\n{where}\n"
        # The shipped settings (config/marketmem.toml).
        "writer_max_rows = 20000\nwriter_max_gather_s = 0.005\nwriter_buffer = 10000\n"
        f'[hyperliquid]\ninfo_url = "{info_url}"\nws_url = "{ws_url}"\n'
        f"coins = {json.dumps(coins)}\ninfo_weight_per_minute = {WEIGHT_PER_MINUTE}\n"
        f"backfill_max_bars = {hours * 60}\n",
        source_path="bench",
    )


async def through_stream(config: Config) -> dict[str, float]:
    """Start the stream on an empty database; time until every backfilled row is committed."""
    async with open_pipeline(config) as rt, open_resources(config) as res:
        writer = rt.writer
        stream = HyperliquidStream(rt, res)
        rx = rt.bus.subscribe("bench", [Committed], buffer=10_000, policy=Policy.DROP_OLDEST)
        in_transactions = 0.0
        # Set at each commit: the bench waits for commits (checking at least every 50 ms)
        # instead of polling every millisecond, which woke the trio thread, and took the GIL
        # from the writer, a thousand times a second.
        committed = trio.Event()

        async def observe() -> None:
            nonlocal in_transactions, committed
            async for event in rx:
                if isinstance(event, Committed):
                    in_transactions += event.latency_s
                    committed.set()
                    committed = trio.Event()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(observe)
            settle_heap()  # as run_service does once it has started (the first run only)
            t0 = time.perf_counter()
            cpu0 = time.process_time()
            await nursery.start(stream.run)
            with trio.fail_after(STEP_TIMEOUT_S):
                await stream.ready.wait()
                t_fetched = time.perf_counter()
                committed_then = writer.stats.rows_by_table.get(CANDLES.table, 0)
                while writer.stats.rows_by_table.get(CANDLES.table, 0) < stream.stats.candle_rows:
                    with trio.move_on_after(0.05):
                        await committed.wait()
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            nursery.cancel_scope.cancel()
        client = res.info
        return {
            "rows": stream.stats.backfill_rows,
            "seconds": elapsed,
            "fetched_s": t_fetched - t0,
            "committed_then": committed_then,
            "cpu_s": cpu,
            "requests": client.requests,
            "weight": client.budget.statistics().total_weight,
            "transactions": writer.stats.transactions,
            "in_transactions_s": in_transactions,
        }


def stored_rows(location: engine.Location) -> list[Candle]:
    """The candle rows the stream stored, as row structs."""
    conn = engine.open_reader(location)
    names = CANDLES.columns
    cols = ", ".join(names)
    rows = [
        Candle(**dict(zip(names, r, strict=True)))
        for r in conn.execute(f"SELECT {cols} FROM {CANDLES.table} ORDER BY coin, open_time_ms")
    ]
    conn.close()
    return rows


class Results:
    """Rows/s per engine and measurement, over the runs."""

    def __init__(self) -> None:
        self.rates: dict[tuple[str, str], list[float]] = {}

    def add(self, engine_name: str, what: str, rate: float) -> None:
        self.rates.setdefault((engine_name, what), []).append(rate)

    def median(self, engine_name: str, what: str) -> float:
        return statistics.median(self.rates[(engine_name, what)])

    def spread(self, engine_name: str, what: str) -> str:
        rates = self.rates[(engine_name, what)]
        return f"median of {len(rates)}; min {min(rates):,.0f}, max {max(rates):,.0f}"

    def ratio(self, engine_name: str, raw: str) -> float:
        ratios = [
            s / r
            for s, r in zip(
                self.rates[(engine_name, "backfill")], self.rates[(engine_name, raw)], strict=True
            )
        ]
        return statistics.median(ratios)


async def run_once(
    engine_name: str,
    location: engine.Location,
    folder: Path,
    r: int,
    args: argparse.Namespace,
    urls: tuple[str, str, list[str]],
    results: Results,
) -> None:
    info_url, ws_url, coins = urls
    config = make_config(location, info_url, ws_url, coins, args.hours)
    got = await through_stream(config)
    rows = stored_rows(location)
    n = len(rows)
    raws: list[tuple[str, float]] = []
    if engine_name == "sqlite":
        raws.append(("raw", n / baseline(folder / f"raw{r}.db", rows, TXN_ROWS)))
        cached = baseline(folder / f"cached{r}.db", rows, TXN_ROWS, cache_mib=WRITER_CACHE_MIB)
        raws.append(("raw cached", n / cached))
    else:
        with pg.scratch_database(args.db) as scratch:
            raws.append(("raw", n / pg_executemany(scratch, rows, TXN_ROWS)))
        with pg.scratch_database(args.db) as scratch:
            raws.append(("raw copy", n / pg_copy(scratch, rows, TXN_ROWS)))
    rate = got["rows"] / got["seconds"]
    results.add(engine_name, "backfill", rate)
    for what, raw_rate in raws:
        results.add(engine_name, what, raw_rate)
    raw_text = "; ".join(f"{what} {raw_rate:,.0f} rows/s" for what, raw_rate in raws)
    print(
        f"{engine_name} run {r + 1}: {got['rows']:,.0f} rows in {got['seconds']:.2f} s = "
        f"{rate:,.0f} rows/s ({got['requests']:.0f} info requests, weight {got['weight']:,.0f}; "
        f"all fetched at {got['fetched_s']:.2f} s, {got['committed_then']:,.0f} rows committed "
        f"by then; {got['transactions']:.0f} writer transactions taking "
        f"{got['in_transactions_s']:.2f} s; {got['cpu_s'] / got['rows'] * 1e6:.0f} us CPU/row); "
        f"{n:,} rows: {raw_text}",
        flush=True,
    )


async def measure(args: argparse.Namespace, link: VenueLink, folder: Path) -> None:
    info_url, ws_base = await link.expect("ready")
    coins = [a.name for a in assets(args.coins)]
    bars = args.hours * 60 + 1
    weight = request_weight("candleSnapshot", bars)
    print(
        f"{len(coins)} coins x {args.hours} h of 1m candles ({bars} bars per coin, "
        f"one candleSnapshot page each); info weight budget raised to {WEIGHT_PER_MINUTE:,}/min: "
        f"at the real {INFO_WEIGHT_PER_MINUTE}/min the {len(coins) * weight:,} weight would "
        f"take {len(coins) * weight / INFO_WEIGHT_PER_MINUTE:.1f} min",
        flush=True,
    )
    urls = (info_url, f"{ws_base}/ws", coins)
    results = Results()
    for r in range(args.repeat):
        await run_once("sqlite", folder / f"stream{r}.db", folder, r, args, urls, results)
        if args.db:
            with pg.scratch_database(args.db) as scratch:
                await run_once("postgresql", scratch, folder, r, args, urls, results)
    lines = [
        (
            "SQLite",
            "sqlite",
            (
                ("raw", "raw apsw executemany of the same rows:"),
                ("raw cached", f"the same with the writer's {WRITER_CACHE_MIB} MiB cache:"),
            ),
        )
    ]
    if args.db:
        lines.append(
            (
                "PostgreSQL",
                "postgresql",
                (
                    ("raw", "raw psycopg executemany of the same rows:"),
                    ("raw copy", "raw COPY + INSERT ... SELECT, same rows:"),
                ),
            )
        )
    for title, name, raws in lines:
        print(f"{title}:")
        print(
            f"  backfill (info client + tracker + bus + writer): "
            f"{results.median(name, 'backfill'):10,.0f} rows/s ({results.spread(name, 'backfill')})"
        )
        for what, label in raws:
            print(
                f"  {label:<49}{results.median(name, what):10,.0f} rows/s "
                f"({results.spread(name, what)})"
            )
        ratios = ", ".join(f"backfill/{what}: {results.ratio(name, what):.2f}" for what, _ in raws)
        print(f"  ratio {ratios}  (target >= 0.70 of raw executemany)")


async def bench(args: argparse.Namespace) -> None:
    print(machine(), flush=True)
    if args.db:
        print(pg.server_settings(args.db), flush=True)
    with tempfile.TemporaryDirectory(prefix="marketmem-bench-") as tmp:
        command = [
            sys.executable,
            "-m",
            "bench.backfill",
            "--venue",
            f"--coins={args.coins}",
            f"--hours={args.hours}",
        ]
        await with_venue_process(command, lambda link: measure(args, link, Path(tmp)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", type=int, default=230)
    parser.add_argument("--hours", type=int, default=24, help="history per coin (1m bars)")
    parser.add_argument("--repeat", type=int, default=3, help="runs, each on a fresh database")
    parser.add_argument("--db", type=pg.check_url, help="also measure this PostgreSQL server")
    parser.add_argument("--venue", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (2 <= args.coins <= 900 and 1 <= args.hours <= 72 and 1 <= args.repeat <= 10):
        parser.error("--coins must be 2..900, --hours 1..72 (5000 bars a page), --repeat 1..10")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.venue:
        trio.run(venue_main, args)
    else:
        trio.run(bench, args)


if __name__ == "__main__":
    main()
