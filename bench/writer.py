"""Writer throughput: 500,000 candle upserts through bus + storage writer vs raw apsw.

Prints rows/s committed through the writer (events of 500 rows published on the bus, the
writer batching them into transactions off the trio thread) next to a raw apsw
``executemany`` baseline of the same rows and SQL in the same run; the ratio is last.
Target: the writer reaches at least 70% of the baseline.

    .venv/bin/python -m bench.writer [--rows N] [--batch N]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import msgspec
import trio

from marketmem.bus import Bus
from marketmem.config import StorageConfig
from marketmem.events import Candle, CandleBatch
from marketmem.plugins import SOURCES
from marketmem.sources.hyperliquid.tables import CANDLES
from marketmem.storage import db, schema
from marketmem.storage.writer import StorageWriter

COINS = [f"C{i}" for i in range(230)]


def make_rows(n: int) -> list[Candle]:
    rows = []
    for i in range(n):
        coin = COINS[i % len(COINS)]
        minute = i // len(COINS)
        px = 100.0 + (i % 97) * 0.01
        rows.append(
            Candle(
                coin=coin,
                interval="1m",
                open_time_ms=1_700_000_000_000 + minute * 60_000,
                close_time_ms=1_700_000_000_000 + minute * 60_000 + 59_999,
                open=px,
                high=px + 1,
                low=px - 1,
                close=px + 0.5,
                volume=12.5,
                trades=42,
                closed=True,
                updated_at_ms=1_700_000_000_000,
            )
        )
    return rows


def baseline(path: Path, rows: list[Candle], txn_rows: int) -> float:
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    sql = CANDLES.sql
    astuple = msgspec.structs.astuple
    t0 = time.perf_counter()
    for start in range(0, len(rows), txn_rows):
        with conn:
            conn.executemany(sql, [astuple(r) for r in rows[start : start + txn_rows]])
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


async def through_writer(path: Path, rows: list[Candle], batch: int, txn_rows: int) -> float:
    bus = Bus()
    writer = StorageWriter(
        path,
        bus,
        sources=SOURCES,
        settings=StorageConfig(writer_max_rows=txn_rows, writer_buffer=1000),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        t0 = time.perf_counter()
        for start in range(0, len(rows), batch):
            await bus.publish(CandleBatch(rows=rows[start : start + batch]))
        bus.close()
    elapsed = time.perf_counter() - t0
    assert writer.stats.rows == len(rows), writer.stats
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=500, help="rows per published event")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    txn_rows = 20_000
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    )
    print(f"rows: {len(rows):,}  event size: {args.batch}  transaction: <= {txn_rows:,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        raw_s = baseline(Path(tmp) / "raw.db", rows, txn_rows)
        writer_s = trio.run(through_writer, Path(tmp) / "writer.db", rows, args.batch, txn_rows)
    raw_rate = len(rows) / raw_s
    writer_rate = len(rows) / writer_s
    print(f"raw apsw executemany: {raw_rate:12,.0f} rows/s  ({raw_s:.2f} s)")
    print(f"bus + storage writer: {writer_rate:12,.0f} rows/s  ({writer_s:.2f} s)")
    print(f"ratio writer/raw: {writer_rate / raw_rate:.2f}  (target >= 0.70)")


if __name__ == "__main__":
    main()
