"""Soak: 230 coins for a simulated 24 h on an accelerated clock; RSS and database size.

A venue process (this module with ``--venue``) runs the local Hyperliquid venue (``/info`` and
``/ws``, 230 simulated perps) on an accelerated wall clock: ``--speed`` simulated seconds per
real second (default 360: a day in 4 minutes). Its market trades once per ``--sim-tick-s``
simulated seconds per coin (the venue's own 1 s would cost the simulator more CPU than the
service under test), and it pushes candle updates and an ``allMids`` map every 5 simulated
seconds, as the venue does.

The bench process is the service: the real pipeline (bus + storage writer in its thread) on
the same accelerated clock, the real ``HyperliquidStream`` (candles and mids of 230 coins,
start-up backfill) and a maintenance pass (rollups, retention, vacuum) every
``--maintain-every`` simulated minutes. The database starts as a running service's would: 24 h
of 1-minute candles and 6 days of 1-hour rollups, written by a separate process so that its
memory is not counted. Every simulated hour it prints its RSS and the database size; at the
end, RSS at start, after warm-up (``--warmup`` hours) and at the end, and Python objects.

Target: flat RSS, under 5% growth from the end of warm-up to the end of the run.

    .venv/bin/python -m bench.soak [--hours 24] [--speed 360] [--coins 230]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import trio

from bench.maintenance import insert_hours, minute_rows
from bench.stream import Lines, VenueLink, assets, machine, with_venue_process
from marketmem.config import Config
from marketmem.events import CandleBatch
from marketmem.pipeline import open_pipeline
from marketmem.plugins import SOURCES, parse_config
from marketmem.retention.actor import Maintainer
from marketmem.retention.tables import mark_pending_hours
from marketmem.runs import execute_run
from marketmem.sources.hyperliquid.resources import open_resources
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from marketmem.sources.hyperliquid.tables import CANDLES
from marketmem.storage import db, schema
from marketmem.venues.hyperliquid import HyperliquidVenue
from marketmem.venues.simulator import Simulator

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
WEIGHT_PER_MINUTE = 1_000_000
VENUE_HISTORY_MINUTES = 120


class FastClock:
    """Unix time running ``speed`` times faster than the wall from ``real_t0`` (both
    processes build it from the same numbers, so they share one simulated time)."""

    def __init__(self, start_ms: int, real_t0: float, speed: float) -> None:
        self.start_ms = start_ms
        self.real_t0 = real_t0
        self.speed = speed

    def now_ms(self) -> int:
        return self.start_ms + int((time.time() - self.real_t0) * 1000 * self.speed)

    def real_at(self, sim_ms: int) -> float:
        """The wall-clock time (``time.time``) at which simulated ``sim_ms`` comes."""
        return self.real_t0 + (sim_ms - self.start_ms) / 1000 / self.speed


# --- the venue process -------------------------------------------------------------------------


class CoarseVenue(HyperliquidVenue):
    """The local venue whose market trades every ``sim_tick_ms`` (not every second)."""

    def __init__(self, *args: object, sim_tick_ms: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sim_tick_ms = sim_tick_ms

    @property
    def sim(self) -> Simulator:
        if self._sim is None:
            assert self._assets is not None
            self._sim = Simulator(
                self.clock.now_ms(),
                seed=self.seed,
                assets=self._assets,
                tick_ms=self.sim_tick_ms,
                history_minutes=self.history_minutes,
            )
        return self._sim


async def venue_main(args: argparse.Namespace) -> None:
    clock = FastClock(args.start_ms, args.real_t0, args.speed)
    venue = CoarseVenue(
        clock,
        seed=3,
        assets=assets(args.coins),
        tick_s=5.0 / args.speed,  # every 5 simulated seconds, like the venue's allMids
        history_minutes=VENUE_HISTORY_MINUTES,
        weight_per_minute=WEIGHT_PER_MINUTE,
        sim_tick_ms=int(args.sim_tick_s * 1000),
    )
    commands = Lines(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
    async with trio.open_nursery() as nursery:
        address = await nursery.start(lambda task_status: venue.run(task_status=task_status))
        print(f"ready {address.info_url} {address.ws_url}", flush=True)
        try:
            while (await commands.next()).strip() != "quit":
                pass
        except EOFError:
            pass
        frames = dict(venue.stats.frames_sent)
        print(f"stats {json.dumps(frames, separators=(',', ':'))}", flush=True)
        nursery.cancel_scope.cancel()


# --- the database a running service would have ---------------------------------------------------


def prefill(path: Path, coins: int, start_ms: int) -> None:
    """24 h of 1-minute candles before ``start_ms`` and 6 days of 1-hour rows before those."""
    names = [a.name for a in assets(coins)]
    day_start = start_ms - start_ms % HOUR_MS - 24 * HOUR_MS
    insert_hours(path, names, day_start - 6 * 24 * HOUR_MS, 6 * 24, start_ms)
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    astuple = msgspec.structs.astuple
    for h in range(day_start, start_ms - start_ms % MINUTE_MS, HOUR_MS):
        rows = minute_rows(names, h, min(h + HOUR_MS, start_ms - start_ms % MINUTE_MS))
        with conn:
            conn.executemany(CANDLES.sql, [astuple(r) for r in rows])
            # As the writer does after a candle batch: the hours wait for their rollup (without
            # it these minutes are never rolled up, so never expire).
            mark_pending_hours(conn, [CandleBatch(rows=rows)])
    conn.close()


# --- the service process -------------------------------------------------------------------------


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def db_mib(path: Path) -> str:
    main = path.stat().st_size if path.exists() else 0
    wal = Path(f"{path}-wal")
    extra = wal.stat().st_size if wal.exists() else 0
    return f"{main / 2**20:.1f} MiB (+ WAL {extra / 2**20:.1f})"


def make_config(path: Path, info_url: str, ws_url: str, coins: list[str]) -> Config:
    return parse_config(
        f'[storage]\npath = "{path}"\n'
        # The shipped settings (config/marketmem.toml).
        "writer_max_rows = 20000\nwriter_max_gather_s = 0.005\nwriter_buffer = 10000\n"
        f'[hyperliquid]\ninfo_url = "{info_url}"\nws_url = "{ws_url}"\n'
        f"coins = {json.dumps(coins)}\ninfo_weight_per_minute = {WEIGHT_PER_MINUTE}\n",
        source_path="bench",
    )


async def sleep_until_sim(clock: FastClock, sim_ms: int) -> None:
    await trio.sleep(max(0.0, clock.real_at(sim_ms) - time.time()))


async def soak(args: argparse.Namespace, link: VenueLink, path: Path, clock: FastClock) -> None:
    info_url, ws_url = await link.expect("ready")
    coins = [a.name for a in assets(args.coins)]
    config = make_config(path, info_url, ws_url, coins)
    rss: list[tuple[int, float]] = []
    async with open_pipeline(config, clock=clock) as rt, open_resources(config) as res:
        stream = HyperliquidStream(rt, res)
        maintainer = Maintainer(rt)
        writer = rt.writer
        failed = 0
        async with trio.open_nursery() as nursery:
            await nursery.start(stream.run)
            with trio.fail_after(300):
                await stream.ready.wait()
            t_begin = time.perf_counter()
            sim0 = clock.now_ms()
            rss.append((0, rss_mib()))
            objects0 = len(gc.get_objects())
            print(
                f"start (simulated {(sim0 - clock.start_ms) / 60_000:.0f} min in): RSS "
                f"{rss[0][1]:.1f} MiB, {objects0:,} Python objects, database {db_mib(path)}; "
                f"backfill {stream.stats.backfill_rows} rows",
                flush=True,
            )
            step_ms = args.maintain_every * MINUTE_MS
            steps_per_hour = max(1, HOUR_MS // step_ms)
            for step in range(1, args.hours * steps_per_hour + 1):
                await sleep_until_sim(clock, sim0 + step * step_ms)
                result = await execute_run(rt, "hyperliquid", "maintenance", maintainer.job)
                failed += result.status != "ok"
                if step % steps_per_hour:
                    continue
                hour = step // steps_per_hour
                rss.append((hour, rss_mib()))
                lag_s = (clock.now_ms() - (sim0 + step * step_ms)) / 1000
                print(
                    f"hour {hour:3d}: RSS {rss[-1][1]:7.1f} MiB; database {db_mib(path)}; "
                    f"frames {stream.stats.frames:,}, rows candles "
                    f"{stream.stats.candle_rows:,} mids {stream.stats.mid_rows:,}; writer "
                    f"{writer.stats.transactions:,} transactions; pass lag {lag_s:.0f} "
                    f"simulated s",
                    flush=True,
                )
            wall = time.perf_counter() - t_begin
            objects1 = len(gc.get_objects())
            nursery.cancel_scope.cancel()
        size_open = db_mib(path)
    await link.say("quit")
    venue_frames = json.loads((await link.expect("stats"))[0])
    warm = next((r for h, r in rss if h >= args.warmup), rss[-1][1])
    end = rss[-1][1]
    growth = (end - warm) / warm * 100
    report = maintainer.last_report
    deleted = {k: v for k, v in report.deleted.items() if v} if report else {}
    print(
        f"{args.hours} simulated h in {wall:.0f} s wall ({args.speed:g}x); venue sent "
        f"{sum(venue_frames.values()):,} frames {venue_frames}; stream: "
        f"{stream.stats.frames:,} frames, {stream.stats.reconnects} reconnects, "
        f"{stream.stats.bad_frames} bad; maintenance passes failed: {failed}; last pass "
        f"deleted {deleted or 'nothing'}"
    )
    print(f"Python objects: {objects0:,} at start, {objects1:,} at the end")
    print(f"database: {size_open} at the end, {db_mib(path)} after close")
    print(
        f"RSS: start {rss[0][1]:.1f} MiB, after {args.warmup} h warm-up {warm:.1f} MiB, end "
        f"{end:.1f} MiB: {growth:+.1f}% after warm-up (target: under 5%)"
    )


async def bench(args: argparse.Namespace) -> None:
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory(prefix="marketmem-soak-") as tmp:
        path = Path(tmp) / "soak.db"
        now = time.time_ns() // 1_000_000
        start_ms = now - now % MINUTE_MS
        t0 = time.perf_counter()
        prefill_args = ["--prefill", str(path), f"--coins={args.coins}", f"--start-ms={start_ms}"]
        await trio.run_process([sys.executable, "-m", "bench.soak", *prefill_args])
        print(f"prefilled a day of candles in {time.perf_counter() - t0:.1f} s", flush=True)
        clock = FastClock(start_ms, time.time(), args.speed)
        command = [
            sys.executable,
            "-m",
            "bench.soak",
            "--venue",
            f"--coins={args.coins}",
            f"--start-ms={clock.start_ms}",
            f"--real-t0={clock.real_t0!r}",
            f"--speed={args.speed}",
            f"--sim-tick-s={args.sim_tick_s}",
        ]
        await with_venue_process(command, lambda link: soak(args, link, path, clock))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24, help="simulated hours")
    parser.add_argument("--speed", type=float, default=360.0, help="simulated s per real s")
    parser.add_argument("--coins", type=int, default=230)
    parser.add_argument("--warmup", type=int, default=2, help="simulated hours of warm-up")
    parser.add_argument(
        "--maintain-every", type=int, default=10, help="simulated minutes between passes"
    )
    parser.add_argument("--sim-tick-s", type=float, default=10.0, help="venue trade tick")
    parser.add_argument("--venue", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefill", help=argparse.SUPPRESS)
    parser.add_argument("--start-ms", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--real-t0", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (1 <= args.hours <= 24 * 14 and 1 <= args.speed <= 3600 and 2 <= args.coins <= 900):
        parser.error("--hours must be 1..336, --speed 1..3600, --coins 2..900")
    if not (0 <= args.warmup < args.hours and 1 <= args.maintain_every <= 60):
        parser.error("--warmup must be below --hours, --maintain-every 1..60")
    if HOUR_MS % (args.maintain_every * MINUTE_MS):
        parser.error("--maintain-every must divide an hour")
    if not 1 <= args.sim_tick_s <= 60 or math.isnan(args.sim_tick_s):
        parser.error("--sim-tick-s must be 1..60")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.prefill:
        prefill(Path(args.prefill), args.coins, args.start_ms)
    elif args.venue:
        trio.run(venue_main, args)
    else:
        trio.run(bench, args)


if __name__ == "__main__":
    main()
