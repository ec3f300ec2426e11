"""Benchmark of the maintenance pass (rollups, retention deletes, incremental vacuum).

Fills a database with 24 h of 1-minute candles and 7 days of 1-hour candles for 230 coins
(plus 30 minutes of 5-second mids), then times a pass with nothing to expire and a pass with
one hour to expire, and simulates a day of churn (each hour: the hour's minutes and mids
arrive, then a pass) to compare the database file size before and after.

Usage: .venv/bin/python -m bench.maintenance [--coins 230] [--churn-hours 24]
       [--step-minutes 60] [--no-mids] [--no-vacuum] [--dir DIR]

Rows reach the database through the real pipeline (bus + storage writer in its thread), except
the 7 days of 1-hour candles, which no event writes (they are rollups): those are inserted
directly before the pipeline starts. Passes run the service's code with an injected wall clock.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import trio

from marketmem.bus import Policy
from marketmem.clock import HOUR_MS, MINUTE_MS, FixedClock
from marketmem.config import Config
from marketmem.events import Candle, CandleBatch, Committed, MidBatch, MidPrice
from marketmem.pipeline import open_pipeline
from marketmem.plugins import SOURCES, parse_config
from marketmem.retention.actor import Maintainer, PassReport
from marketmem.runs import execute_run
from marketmem.runtime import Runtime
from marketmem.storage import db, schema

START_MS = 1_795_564_800_000  # 2026-11-25T00:00:00Z
MID_BUCKET_MS = 5000
BATCH_ROWS = 10_000


def coins(n: int) -> list[str]:
    return [f"C{i:04d}" for i in range(n)]


def minute_rows(names: list[str], from_ms: int, to_ms: int) -> list[Candle]:
    rows = []
    for t in range(from_ms, to_ms, MINUTE_MS):
        m = t % HOUR_MS // MINUTE_MS
        for i, coin in enumerate(names):
            price = 100.0 + i + m / 100
            rows.append(
                Candle(
                    coin=coin,
                    interval="1m",
                    open_time_ms=t,
                    close_time_ms=t + MINUTE_MS - 1,
                    open=price,
                    high=price + 0.5,
                    low=price - 0.5,
                    close=price + 0.1,
                    volume=10.0 + m,
                    trades=5 + m,
                    closed=True,
                    updated_at_ms=t + MINUTE_MS,
                )
            )
    return rows


def mid_rows(names: list[str], from_ms: int, to_ms: int) -> list[MidPrice]:
    return [
        MidPrice(coin=coin, bucket_ms=t, price=100.0, observed_at_ms=t)
        for t in range(from_ms, to_ms, MID_BUCKET_MS)
        for coin in names
    ]


def insert_hours(path: Path, names: list[str], first_hour_ms: int, hours: int, now_ms: int) -> None:
    """The 1-hour history no event writes (it is made of rollups); bench set-up only."""
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    with conn:
        conn.executemany(
            "INSERT INTO hyperliquid_candles_1h VALUES (?, ?, ?, 100, 101, 99, 100.5, 600, 300, 60, ?)",
            (
                (coin, h, h + HOUR_MS - 1, now_ms)
                for h in range(first_hour_ms, first_hour_ms + hours * HOUR_MS, HOUR_MS)
                for coin in names
            ),
        )
    conn.close()


async def publish(rt: Runtime, rows: list[Candle] | list[MidPrice]) -> None:
    for i in range(0, len(rows), BATCH_ROWS):
        chunk = rows[i : i + BATCH_ROWS]
        if isinstance(chunk[0], Candle):
            await rt.bus.publish(CandleBatch(rows=chunk))
        else:
            await rt.bus.publish(MidBatch(rows=chunk))


async def settle(rt: Runtime) -> None:
    """Wait until the writer's queue is empty and it has stopped committing."""
    writer = rt.writer
    seen = -1
    while True:
        queued = sum(
            s.queued for s in rt.bus.statistics().subscribers if s.name == "storage-writer"
        )
        if not queued and writer.stats.events == seen:
            return
        seen = writer.stats.events
        await trio.sleep(0.1)


@dataclass
class Timed:
    wall_s: float
    writer_s: float
    report: PassReport


async def timed_pass(
    rt: Runtime, maintainer: Maintainer, committed: trio.MemoryReceiveChannel
) -> Timed:
    await settle(rt)
    while True:  # drop confirmations of earlier writes
        try:
            committed.receive_nowait()
        except trio.WouldBlock:
            break
    t0 = time.perf_counter()
    result = await execute_run(rt, "hyperliquid", "maintenance", maintainer.job)
    wall = time.perf_counter() - t0
    if result.status != "ok":
        raise SystemExit(f"maintenance pass failed: {result.error}")
    writer_s = 0.0
    while True:
        try:
            ev = committed.receive_nowait()
        except trio.WouldBlock:
            break
        # The pass writes alone (settled before it): every commit now is one of its commands
        # or its run's records.
        if isinstance(ev, Committed) and "ingestion_runs" not in ev.rows_by_table:
            writer_s += ev.latency_s
    assert maintainer.last_report is not None
    return Timed(wall, writer_s, maintainer.last_report)


def file_bytes(path: Path) -> tuple[int, int]:
    wal = Path(f"{path}-wal")
    return path.stat().st_size, wal.stat().st_size if wal.exists() else 0


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def describe(label: str, t: Timed) -> str:
    r = t.report
    deleted = ", ".join(f"{k.removeprefix('hyperliquid_')} {v}" for k, v in r.deleted.items() if v)
    return (
        f"{label}: {t.wall_s * 1000:.1f} ms wall, {t.writer_s * 1000:.1f} ms in writer "
        f"transactions, {r.commands} command(s); rolled up {r.hours_rolled_up} hour(s); "
        f"deleted {deleted or 'nothing'}; released {r.pages_released} page(s)"
    )


def make_config(path: Path, vacuum: bool) -> Config:
    slack = "1024" if vacuum else "1000000000"
    return parse_config(
        f'[storage]\npath = "{path}"\nwriter_max_gather_s = 0.005\n'
        f"[hyperliquid]\nretention_vacuum_slack_pages = {slack}\n",
        source_path="bench",
    )


async def bench(args: argparse.Namespace, folder: Path) -> None:
    path = folder / "bench.db"
    names = coins(args.coins)
    now = START_MS + 7 * 24 * HOUR_MS  # an hour boundary
    day_start = now - 24 * HOUR_MS
    config = make_config(path, not args.no_vacuum)
    print(
        f"{args.coins} coins; 1-minute candles {day_start}..{now}, 1-hour candles for the 7 days "
        f"before; writer_max_gather_s={config.storage.writer_max_gather_s}",
        flush=True,
    )

    t0 = time.perf_counter()
    insert_hours(path, names, now - 7 * 24 * HOUR_MS, 7 * 24 - 24, now)
    clock = FixedClock(now)
    async with open_pipeline(config, clock=clock) as rt:
        committed = rt.bus.subscribe(
            "bench", [Committed], buffer=100_000, policy=Policy.DROP_OLDEST
        )
        for h in range(day_start, now, HOUR_MS):
            await publish(rt, minute_rows(names, h, h + HOUR_MS))
        if not args.no_mids:
            await publish(rt, mid_rows(names, now - 30 * MINUTE_MS, now))
        await settle(rt)
        print(f"fill: {time.perf_counter() - t0:.1f} s", flush=True)
        maintainer = Maintainer(rt)
        first = await timed_pass(rt, maintainer, committed)
        print(describe("first pass (rolls up the 24 filled hours)", first), flush=True)

        idle = await timed_pass(rt, maintainer, committed)
        print(describe("pass with nothing to expire", idle), flush=True)

        size_before = file_bytes(path)
        churn_times: list[float] = []
        hourly_sizes: list[int] = []
        step_ms = args.step_minutes * MINUTE_MS
        for hour in range(args.churn_hours):
            for start in range(now + hour * HOUR_MS, now + (hour + 1) * HOUR_MS, step_ms):
                await publish(rt, minute_rows(names, start, start + step_ms))
                if not args.no_mids:
                    await publish(rt, mid_rows(names, start, start + step_ms))
                clock.set(start + step_ms)
                t = await timed_pass(rt, maintainer, committed)
                churn_times.append(t.wall_s)
                if len(churn_times) == 1:
                    label = f"pass with {args.step_minutes} minute(s) to expire"
                    print(describe(label, t), flush=True)
            hourly_sizes.append(file_bytes(path)[0])
        size_after = file_bytes(path)
    final = file_bytes(path)
    if churn_times:
        print(
            f"churn: {args.churn_hours} simulated hour(s), {len(churn_times)} pass(es), wall time "
            f"min {min(churn_times) * 1000:.0f} / max {max(churn_times) * 1000:.0f} ms; "
            "file size after each hour (MiB): "
            + " ".join(f"{n / 1024 / 1024:.1f}" for n in hourly_sizes)
        )
    print(
        f"database file before churn: {mib(size_before[0])} (+ WAL {mib(size_before[1])}); "
        f"after: {mib(size_after[0])} (+ WAL {mib(size_after[1])}); "
        f"after close: {mib(final[0])}; vacuum {'off' if args.no_vacuum else 'on'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coins", type=int, default=230)
    parser.add_argument("--churn-hours", type=int, default=24)
    parser.add_argument(
        "--step-minutes",
        type=int,
        default=60,
        choices=[1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60],
        help="simulated minutes between two passes during the churn (the service: 1)",
    )
    parser.add_argument("--no-mids", action="store_true", help="leave mids out of the churn")
    parser.add_argument("--no-vacuum", action="store_true", help="never release free pages")
    parser.add_argument("--dir", help="keep the database in this folder (default: a temp one)")
    args = parser.parse_args()
    if args.dir:
        folder = Path(args.dir)
        folder.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            p = folder / f"bench.db{suffix}"
            if p.exists():
                os.remove(p)
        trio.run(bench, args, folder)
        return 0
    with tempfile.TemporaryDirectory() as d:
        trio.run(bench, args, Path(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
