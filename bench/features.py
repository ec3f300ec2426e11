"""One full feature pass over 230 coins, computed from a populated database.

Builds a temporary database with what a running service holds (a day of 1-minute candles and
a week of hour rollups per coin, a day of asset-context snapshots), seeds the candle windows
from it as the window keeper does at start, then times one pass of the five channels: the
technical and volatility rows from the windows, positioning (its snapshot history read from
the database), funding (7 days of hourly history per coin) and liquidity (a 20-level book per
coin). Info answers are synthetic and in memory: the pass measures computation, not the
network. Prints CPU and wall time per channel and in total. Target: under 1 s of CPU.

    .venv/bin/python -m bench.features [--coins N]
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from marketmem.events import AssetCtxSnapshot
from marketmem.features.funding import funding_pressure
from marketmem.features.inputs import Book, PredictedFunding
from marketmem.features.liquidity import liquidity_profile
from marketmem.features.positioning import LOOKBACKS, positioning_pressure
from marketmem.features.tables import SNAPSHOTS
from marketmem.features.technical import technical_indicators
from marketmem.features.volatility import volatility_profile
from marketmem.features.windows import CandleWindows
from marketmem.plugins import SOURCES
from marketmem.storage import db, schema
from marketmem.storage.reads import features as reads

MINUTE = 60_000
HOUR = 3_600_000
NOW = 1_795_564_800_000

HOUR_ROLLUPS_DDL = """
CREATE TABLE IF NOT EXISTS hyperliquid_candles_1h (
    coin TEXT NOT NULL, open_time_ms INTEGER NOT NULL, close_time_ms INTEGER NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
    volume REAL NOT NULL, trades INTEGER NOT NULL, minute_count INTEGER NOT NULL,
    rolled_up_at_ms INTEGER NOT NULL, PRIMARY KEY (coin, open_time_ms)
) WITHOUT ROWID
"""


def populate(path: Path, coins: list[str], rng: random.Random) -> None:
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    conn.execute(HOUR_ROLLUPS_DDL)
    first_minute = NOW - NOW % MINUTE - 1500 * MINUTE
    first_hour = first_minute - first_minute % HOUR - 170 * HOUR
    with conn:
        for coin in coins:
            px = rng.uniform(1, 1000)
            hours = []
            for h in range(170):
                o = px
                px *= math.exp(rng.gauss(0, 0.01))
                hi, lo = max(o, px) * 1.003, min(o, px) * 0.997
                t = first_hour + h * HOUR
                hours.append((coin, t, t + HOUR - 1, o, hi, lo, px, 1000.0, 600, 60, NOW))
            conn.executemany(
                "INSERT INTO hyperliquid_candles_1h VALUES (?,?,?,?,?,?,?,?,?,?,?)", hours
            )
            minutes = []
            for m in range(1500):
                o = px
                px *= math.exp(rng.gauss(0, 0.001))
                t = first_minute + m * MINUTE
                minutes.append(
                    (coin, "1m", t, t + MINUTE - 1, o, max(o, px) * 1.0005, min(o, px) * 0.9995,
                     px, rng.uniform(1, 50), 12, 1, t + MINUTE)
                )  # fmt: skip
            conn.executemany(
                "INSERT INTO hyperliquid_candles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", minutes
            )
            snaps = []
            for k in range(1, 290):
                t = NOW - k * 300_000
                snaps.append(snapshot(coin, t, px * (1 + rng.gauss(0, 0.01)), rng))
            SNAPSHOTS.write(conn, snaps)
    conn.close()


def snapshot(coin: str, t: int, px: float, rng: random.Random) -> AssetCtxSnapshot:
    return AssetCtxSnapshot(
        coin=coin,
        snapshot_ms=t,
        mark_px=px,
        oracle_px=px * 1.0001,
        mid_px=px,
        funding=rng.gauss(0.0000125, 0.00002),
        premium=rng.gauss(0, 0.0003),
        open_interest=rng.uniform(1e3, 1e6),
        prev_day_px=px * 0.98,
        day_ntl_vlm=rng.uniform(1e5, 1e9),
        day_base_vlm=rng.uniform(1e3, 1e6),
        impact_bid_px=px * 0.9995,
        impact_ask_px=px * 1.0005,
    )


def book(coin: str, px: float, rng: random.Random) -> Book:
    tick = px * 0.0002
    bids = [(px - tick * (i + 1), rng.uniform(0.1, 50)) for i in range(20)]
    asks = [(px + tick * (i + 1), rng.uniform(0.1, 50)) for i in range(20)]
    return Book(coin=coin, time_ms=NOW, bids=bids, asks=asks)


def timed(label: str, fn: Callable[[], int], totals: list[float]) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    rows = fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    totals[0] += cpu
    totals[1] += wall
    print(f"  {label:<22} {rows:>4} rows  cpu {cpu * 1000:7.1f} ms  wall {wall * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coins", type=int, default=230)
    args = parser.parse_args()
    rng = random.Random(7)
    coins = [f"C{i:03d}" for i in range(args.coins)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t = time.perf_counter()
        populate(path, coins, rng)
        print(f"populated {path.name} for {len(coins)} coins in {time.perf_counter() - t:.1f} s")

        windows = CandleWindows()
        cpu, wall = time.process_time(), time.perf_counter()
        conn = db.open_ro(path)
        windows.apply_hours(reads.hour_rows(conn, NOW - 172 * HOUR))
        windows.apply_rows(reads.minute_rows(conn, NOW - 1530 * MINUTE))
        conn.close()
        print(
            f"window seed (start-up, not part of a pass): cpu {time.process_time() - cpu:.3f} s,"
            f" wall {time.perf_counter() - wall:.3f} s"
        )

        ctxs = {c: snapshot(c, NOW, windows.minutes(c).closes[-1], rng) for c in coins}
        predicted = {
            c: PredictedFunding(rng.gauss(1e-5, 1e-5), NOW + HOUR, 1e-5, None) for c in coins
        }
        fundings = {
            c: [(NOW - k * HOUR + 40, rng.gauss(1.25e-5, 1e-5)) for k in range(168, 0, -1)]
            for c in coins
        }
        books = {c: book(c, ctxs[c].mark_px or 1.0, rng) for c in coins}
        notionals = [10_000.0, 100_000.0, 1_000_000.0]

        def technical() -> int:
            return sum(
                1 for c in coins if technical_indicators(windows.minutes(c), windows.hours(c), NOW)
            )

        def volatility() -> int:
            return sum(
                1 for c in coins if volatility_profile(windows.minutes(c), windows.hours(c), NOW)
            )

        def funding() -> int:
            return sum(1 for c in coins if funding_pressure(ctxs[c], predicted[c], fundings[c]))

        def liquidity() -> int:
            return sum(1 for c in coins if liquidity_profile(books[c], ctxs[c], notionals))

        def positioning() -> int:
            ranges = [(NOW - b - tol, NOW - b + tol) for b, tol in LOOKBACKS.values()]
            conn = db.open_ro(path)
            history = reads.snapshots_between(conn, ranges)
            conn.close()
            return sum(1 for c in coins if positioning_pressure(ctxs[c], history.get(c, [])))

        totals = [0.0, 0.0]
        print(f"one feature pass, {len(coins)} coins ({platform.python_implementation()} "
              f"{platform.python_version()}):")  # fmt: skip
        for label, fn in (
            ("technical_indicators", technical),
            ("volatility_profiles", volatility),
            ("funding_pressure", funding),
            ("liquidity_profiles", liquidity),
            ("positioning_pressure", positioning),
        ):
            timed(label, fn, totals)
        print(f"total: cpu {totals[0]:.3f} s, wall {totals[1]:.3f} s (target: < 1 s of CPU)")


if __name__ == "__main__":
    main()
