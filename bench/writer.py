"""Writer throughput: 500,000 candle upserts through bus + storage writer vs the raw driver.

Prints rows/s committed through the writer (events of 500 rows published on the bus, the
writer batching them into transactions of at most 20,000 rows off the trio thread) next to
raw baselines of the same rows and SQL in the same run, one transaction per 20,000 rows as
the writer commits them; the ratios are last. Target (issue 16): the writer reaches at least
70% of raw ``executemany`` on each engine.

- SQLite (always): raw apsw ``executemany`` of the upsert, on a connection with SQLite's
  default page cache (the target's baseline) and again with the writer's (``[storage]
  writer_cache_mib``); the writer into a fresh file.
- PostgreSQL (``--db postgresql://...``, a role that may create databases): raw psycopg
  ``executemany`` of the same upsert on one connection (pipelined by psycopg), and raw binary
  ``COPY`` into a temporary table followed by one ``INSERT ... SELECT`` with the upsert's
  ``ON CONFLICT`` clause; then the writer, which stages batches of ``STAGED_MIN_ROWS`` rows
  or more the same way (``marketmem.storage.postgres.staging``). Every measurement runs in a
  scratch database of its own, dropped afterwards (``bench.pg``); the server's durability
  settings are printed with the figures.

``--repeat N`` runs every measurement N times, interleaved, and prints medians.

    .venv/bin/python -m bench.writer [--rows N] [--batch N] [--repeat N] [--db URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import psycopg
import trio

from bench import pg
from bench.stream import machine
from marketmem.bus import Bus
from marketmem.config import StorageConfig
from marketmem.events import Candle, CandleBatch
from marketmem.plugins import SOURCES
from marketmem.sources.hyperliquid.tables import CANDLES
from marketmem.storage import db, engine, schema
from marketmem.storage.postgres.connection import translate
from marketmem.storage.writer import StorageWriter

COINS = [f"C{i}" for i in range(230)]
TXN_ROWS = 20_000
WRITER_CACHE_MIB = StorageConfig().writer_cache_mib


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


def baseline(
    path: Path, rows: list[Candle], txn_rows: int, *, cache_mib: int | None = None
) -> float:
    """Raw apsw ``executemany`` of the writer's upsert from row structs, ``txn_rows`` per
    transaction, on a connection with SQLite's page cache (or ``cache_mib``, the writer's)."""
    conn = db.open_rw(path, cache_mib=cache_mib)
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


def migrated(url: str) -> psycopg.Connection:
    """A raw psycopg connection to ``url``, whose tables the storage created."""
    conn = engine.open_writer(url)
    schema.migrate(conn, SOURCES)
    conn.close()
    return psycopg.connect(url, autocommit=True)


def pg_executemany(url: str, rows: list[Candle], txn_rows: int) -> float:
    """Raw psycopg: executemany of the writer's upsert, one transaction per batch."""
    conn = migrated(url)
    sql = translate(CANDLES.sql)
    astuple = msgspec.structs.astuple
    t0 = time.perf_counter()
    for start in range(0, len(rows), txn_rows):
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(sql, [astuple(r) for r in rows[start : start + txn_rows]])
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def pg_copy(url: str, rows: list[Candle], txn_rows: int) -> float:
    """Raw psycopg: binary COPY of a batch into a temporary table, then one INSERT ... SELECT
    with the upsert's ON CONFLICT clause, and the temporary table emptied."""
    conn = migrated(url)
    cols = ", ".join(CANDLES.columns)
    conn.execute(f"CREATE TEMPORARY TABLE stage AS SELECT {cols} FROM {CANDLES.table} WITH NO DATA")
    types = [
        r[0]
        for r in conn.execute(
            "SELECT atttypid FROM pg_attribute WHERE attrelid = 'stage'::regclass "
            "AND attnum > 0 ORDER BY attnum"
        )
    ]
    insert = f"INSERT INTO {CANDLES.table} ({cols}) SELECT {cols} FROM stage {CANDLES.conflict}"
    astuple = msgspec.structs.astuple
    t0 = time.perf_counter()
    for start in range(0, len(rows), txn_rows):
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY stage ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for r in rows[start : start + txn_rows]:
                    copy.write_row(astuple(r))
            cur.execute(insert)
            cur.execute("TRUNCATE stage")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


async def through_writer(
    location: engine.Location, rows: list[Candle], batch: int, txn_rows: int
) -> float:
    bus = Bus()
    writer = StorageWriter(
        location,
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


def in_scratch(url: str, measure: Callable[[str], float]) -> float:
    with pg.scratch_database(url) as scratch:
        return measure(scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=500, help="rows per published event")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every measurement")
    parser.add_argument("--db", type=pg.check_url, help="also measure this PostgreSQL server")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    print(machine())
    if args.db:
        print(pg.server_settings(args.db))
    print(f"rows: {len(rows):,}  event size: {args.batch}  transaction: <= {TXN_ROWS:,} rows")
    n = len(rows)
    times: dict[str, list[float]] = {}

    def timed(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)
        print(f"  run {len(times[name])}: {name:<34} {n / seconds:10,.0f} rows/s", flush=True)

    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            timed("sqlite raw", baseline(Path(tmp) / "raw.db", rows, TXN_ROWS))
            timed(
                "sqlite raw, writer's cache",
                baseline(Path(tmp) / "cached.db", rows, TXN_ROWS, cache_mib=WRITER_CACHE_MIB),
            )
            writer_s = trio.run(through_writer, Path(tmp) / "writer.db", rows, args.batch, TXN_ROWS)
            timed("sqlite writer", writer_s)
        if args.db:
            url = args.db
            timed("postgresql raw", in_scratch(url, lambda u: pg_executemany(u, rows, TXN_ROWS)))
            timed("postgresql raw copy", in_scratch(url, lambda u: pg_copy(u, rows, TXN_ROWS)))
            timed(
                "postgresql writer",
                in_scratch(url, lambda u: trio.run(through_writer, u, rows, args.batch, TXN_ROWS)),
            )

    def rate(name: str) -> float:
        return n / statistics.median(times[name])

    def spread(name: str) -> str:
        rates = sorted(n / s for s in times[name])
        return f" ({rates[0]:,.0f} to {rates[-1]:,.0f})" if len(rates) > 1 else ""

    of = f" (median of {args.repeat})" if args.repeat > 1 else ""
    print(f"SQLite{of}:")
    for label, name in (
        ("raw apsw executemany:", "sqlite raw"),
        (f"the same, {WRITER_CACHE_MIB} MiB cache:", "sqlite raw, writer's cache"),
        ("bus + storage writer:", "sqlite writer"),
    ):
        print(f"  {label:<26}{rate(name):10,.0f} rows/s{spread(name)}")
    writer, cached = rate("sqlite writer"), rate("sqlite raw, writer's cache")
    print(
        f"  ratio writer/raw: {writer / rate('sqlite raw'):.2f}  (target >= 0.70); "
        f"writer/raw with the writer's cache: {writer / cached:.2f}"
    )
    if args.db:
        print(f"PostgreSQL{of}:")
        for label, name in (
            ("raw psycopg executemany:", "postgresql raw"),
            ("raw COPY + INSERT..SELECT:", "postgresql raw copy"),
            ("bus + storage writer:", "postgresql writer"),
        ):
            print(f"  {label:<26}{rate(name):10,.0f} rows/s{spread(name)}")
        writer = rate("postgresql writer")
        print(
            f"  ratio writer/raw executemany: {writer / rate('postgresql raw'):.2f}  "
            f"(target >= 0.70); writer/raw COPY: {writer / rate('postgresql raw copy'):.2f}"
        )


if __name__ == "__main__":
    main()
