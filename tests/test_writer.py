"""The storage writer: idempotent upserts, batching, final flush, retries, bad events.

Every test runs on both engines (``engines``), on the ``database`` fixture's location, but
the schema version checks, each engine's own (SQLite's ``PRAGMA user_version`` and WAL;
PostgreSQL's ``marketmem_schema`` table and migration lock), and the PostgreSQL sessions cut
under the writer (a terminated backend, a database turned read-only).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import apsw
import psycopg
import psycopg.sql
import pytest
import trio
import trio.testing

from marketmem.bus import Bus, Policy
from marketmem.config import StorageConfig
from marketmem.events import (
    CandleBatch,
    Command,
    CommitFailed,
    Committed,
    Event,
    MidBatch,
    MidPrice,
    RunStarted,
)
from marketmem.executors import inline_executor, thread_executor
from marketmem.plugins import SOURCES
from marketmem.storage import db, engine, schema
from marketmem.storage.postgres import catalog as pg_catalog
from marketmem.storage.postgres import migrations as pg_migrations
from marketmem.storage.writer import StorageWriter, _transactions
from tests.conftest import minute_candle, stored_tuples

pytestmark = pytest.mark.engines
Location = str | Path


def count(path: Location, table: str) -> int:
    value: int = stored_tuples(path, f"SELECT count(*) FROM {table}")[0][0]
    return value


async def run_writer(path: Location, events: list[Event], **kw: Any) -> StorageWriter:
    bus = Bus()
    writer = StorageWriter(path, bus, sources=SOURCES, executor=inline_executor, **kw)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        for ev in events:
            await bus.publish(ev)
        bus.close()
    return writer


async def test_replays_and_duplicates_never_create_rows_twice(database: Location) -> None:
    path = database
    batch = CandleBatch(rows=[minute_candle(i) for i in range(100)])
    await run_writer(path, [batch, batch, CandleBatch(rows=[minute_candle(5, close=9.0)])])
    assert count(path, "hyperliquid_candles") == 100
    assert stored_tuples(
        path, "SELECT close FROM hyperliquid_candles WHERE open_time_ms=?", (5 * 60_000,)
    ) == [(9.0,)]
    # A second process writing the same rows again changes nothing either.
    await run_writer(path, [batch])
    assert count(path, "hyperliquid_candles") == 100


async def test_closed_bar_never_reopens(database: Location) -> None:
    path = database
    await run_writer(
        path,
        [
            CandleBatch(rows=[minute_candle(1, closed=True)]),
            CandleBatch(rows=[minute_candle(1, closed=False)]),
        ],
    )
    assert stored_tuples(path, "SELECT count(*) FROM hyperliquid_candles WHERE closed") == [(1,)]


async def test_latest_mid_in_bucket_wins_whatever_the_order(database: Location) -> None:
    path = database
    late = MidPrice(coin="BTC", bucket_ms=5000, price=2.0, observed_at_ms=9000)
    early = MidPrice(coin="BTC", bucket_ms=5000, price=1.0, observed_at_ms=6000)
    await run_writer(path, [MidBatch(rows=[late]), MidBatch(rows=[early])])
    assert stored_tuples(path, "SELECT price, observed_at_ms FROM hyperliquid_mid_prices") == [
        (2.0, 9000)
    ]


async def test_queued_events_are_batched_into_few_transactions(database: Location) -> None:
    bus = Bus()
    writer = StorageWriter(
        database,
        bus,
        sources=SOURCES,
        executor=inline_executor,
        settings=StorageConfig(writer_max_gather_s=0),
    )
    # Queue everything before the writer starts reading.
    for i in range(50):
        bus.publish_nowait(CandleBatch(rows=[minute_candle(i)]))
    bus.close()
    await writer.run()
    assert writer.stats.events == 50
    assert writer.stats.transactions == 1
    assert count(database, "hyperliquid_candles") == 50


async def test_batches_are_bounded_by_rows(database: Location) -> None:
    bus = Bus()
    writer = StorageWriter(
        database,
        bus,
        sources=SOURCES,
        executor=inline_executor,
        settings=StorageConfig(writer_max_rows=100),
    )
    for i in range(10):
        bus.publish_nowait(CandleBatch(rows=[minute_candle(i * 50 + j) for j in range(50)]))
    bus.close()
    await writer.run()
    assert writer.stats.transactions == 5
    assert writer.stats.rows == 500


async def test_committed_is_published_with_rows_per_table(database: Location) -> None:
    bus = Bus()
    writer = StorageWriter(database, bus, sources=SOURCES, executor=inline_executor)
    seen = bus.subscribe("obs", [Committed], buffer=100, policy=Policy.DROP_OLDEST)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        bus.publish_nowait(CandleBatch(rows=[minute_candle(1), minute_candle(2)]))
        bus.publish_nowait(RunStarted(run_id="r1", source="s", channel="c", started_at_ms=1))
        ev = await seen.receive()
        bus.close()
    assert isinstance(ev, Committed)
    assert ev.rows_by_table == {"hyperliquid_candles": 2, "ingestion_runs": 1}
    assert writer.stats.rows_by_table == ev.rows_by_table


async def test_final_flush_commits_everything_accepted_when_cancelled(database: Location) -> None:
    bus = Bus()
    writer = StorageWriter(database, bus, sources=SOURCES, executor=inline_executor)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        for i in range(20):
            bus.publish_nowait(CandleBatch(rows=[minute_candle(i)]))
        # Cancel before the writer had a chance to read: the shielded final flush commits.
        nursery.cancel_scope.cancel()
    assert count(database, "hyperliquid_candles") == 20


class Poison(Event):
    n: int


class Solo(Command):
    """A test command (solo, with a request id)."""


@pytest.fixture
def extra_writers(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Registers test-only write functions: Poison fails for odd n, Solo reports a count."""
    calls = {"busy": 0}
    real = schema.writers

    def write_poison(conn: engine.Connection, ev: Any) -> dict[str, int]:
        if ev.n < 0 and calls["busy"] < 2:
            calls["busy"] += 1
            if engine.dialect_of(conn) == "postgresql":
                raise psycopg.errors.LockNotAvailable("could not obtain lock")
            raise apsw.BusyError("database is locked")
        if ev.n % 2:
            raise ValueError(f"bad event {ev.n}")
        conn.execute(
            "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, status) "
            "VALUES (?, 'test', 'poison', 0, 'ok')",
            (f"p{ev.n}",),
        )
        return {"ingestion_runs": 1}

    def write_solo(conn: engine.Connection, ev: Any) -> dict[str, int]:
        return {"nothing": 7}

    monkeypatch.setattr(
        schema,
        "writers",
        lambda sources=None: {**real(sources), Poison: write_poison, Solo: write_solo},
    )
    return calls


async def test_a_bad_event_is_rejected_alone(
    database: Location, extra_writers: dict[str, int]
) -> None:
    bus = Bus()
    writer = StorageWriter(database, bus, sources=SOURCES, executor=inline_executor)
    for n in range(6):
        bus.publish_nowait(Poison(n=n))
    bus.close()
    await writer.run()
    assert writer.stats.rejected == 3
    assert count(database, "ingestion_runs") == 3  # 0, 2, 4 survived


async def test_retryable_errors_are_retried_without_losing_the_batch(
    database: Location, extra_writers: dict[str, int], autojump_clock: trio.testing.MockClock
) -> None:
    bus = Bus()
    writer = StorageWriter(
        database, bus, sources=SOURCES, executor=inline_executor, retry_initial_s=1
    )
    bus.publish_nowait(Poison(n=-2))
    bus.publish_nowait(CandleBatch(rows=[minute_candle(1)]))
    bus.close()
    t0 = trio.current_time()
    await writer.run()
    assert extra_writers["busy"] == 2
    assert writer.stats.retries == 2
    assert trio.current_time() - t0 >= 3  # backed off 1 s, then 2 s
    assert count(database, "hyperliquid_candles") == 1
    assert count(database, "ingestion_runs") == 1


async def test_solo_events_get_their_own_transaction_and_report_results(
    database: Location, extra_writers: dict[str, int]
) -> None:
    c1, c2 = CandleBatch(rows=[minute_candle(1)]), CandleBatch(rows=[minute_candle(2)])
    s = Solo()
    assert _transactions([c1, s, c2, c1]) == [[c1], [s], [c2, c1]]
    bus = Bus()
    writer = StorageWriter(database, bus, sources=SOURCES, executor=inline_executor)
    seen = bus.subscribe("obs", [Committed], buffer=10, policy=Policy.DROP_OLDEST)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        result = await writer.execute(s)
        ev = await seen.receive()
        bus.close()
    assert result.counts == {"nothing": 7} and result.written is s
    assert isinstance(ev, Committed) and ev.events == 1


async def test_interrupted_runs_are_closed_by_the_service_writer_only(database: Location) -> None:
    path = database
    await run_writer(path, [RunStarted(run_id="r1", source="s", channel="c", started_at_ms=1)])
    await run_writer(path, [])  # a one-off command's writer leaves it alone
    assert stored_tuples(path, "SELECT status FROM ingestion_runs") == [("running",)]
    await run_writer(path, [], close_interrupted=True)
    [(status, error)] = stored_tuples(path, "SELECT status, error FROM ingestion_runs")
    assert status == "failed" and "interrupted" in error


# --- the schema version: each engine's own -------------------------------------------------


async def test_schema_is_versioned(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    await run_writer(path, [])
    conn = db.open_ro(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = db.open_rw(path)
    conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.RaisesGroup(schema.SchemaTooNew):
        await run_writer(path, [])


def postgres_version(url: str) -> list[tuple[Any, ...]]:
    return stored_tuples(url, f"SELECT version FROM {pg_catalog.VERSION_TABLE}")


async def test_postgres_schema_is_versioned_and_a_second_start_migrates_nothing(
    pg_database: str,
) -> None:
    await run_writer(pg_database, [CandleBatch(rows=[minute_candle(1)])])
    assert postgres_version(pg_database) == [(pg_migrations.SCHEMA_VERSION,)]
    conn = engine.open_writer(pg_database)
    try:
        assert isinstance(conn, engine.PostgresConnection)
        # The version it started at is the current one: no migration ran.
        assert schema.migrate(conn, SOURCES) == pg_migrations.SCHEMA_VERSION
    finally:
        conn.close()
    await run_writer(pg_database, [])
    assert postgres_version(pg_database) == [(pg_migrations.SCHEMA_VERSION,)]
    assert count(pg_database, "hyperliquid_candles") == 1


async def test_postgres_newer_schema_is_refused(pg_database: str) -> None:
    await run_writer(pg_database, [])
    with psycopg.connect(pg_database, autocommit=True) as admin:
        admin.execute(
            f"UPDATE {pg_catalog.VERSION_TABLE} SET version = %s",
            (pg_migrations.SCHEMA_VERSION + 1,),
        )
    with pytest.RaisesGroup(
        pytest.RaisesExc(schema.SchemaTooNew, match="newer than this marketmem")
    ):
        await run_writer(pg_database, [])


async def test_two_writers_starting_at_once_on_an_empty_postgres_database_both_start(
    pg_database: str,
) -> None:
    """The migration runs under an advisory lock: one migrates, the other finds it done
    (without it, two concurrent CREATE TABLE IF NOT EXISTS collide in the catalog)."""
    bus = Bus()
    writers = [
        StorageWriter(pg_database, bus, sources=SOURCES, executor=thread_executor())
        for _ in range(3)
    ]
    async with trio.open_nursery() as nursery:
        for writer in writers:
            nursery.start_soon(writer.run)
        with trio.fail_after(30):
            for writer in writers:
                await writer.ready.wait()
        await bus.publish(CandleBatch(rows=[minute_candle(1)]))
        bus.close()
    assert postgres_version(pg_database) == [(pg_migrations.SCHEMA_VERSION,)]
    assert count(pg_database, "hyperliquid_candles") == 1


# --- PostgreSQL sessions cut under the writer ----------------------------------------------


def terminate_writer_sessions(pg_url: str, database: str) -> int:
    """Terminate every session of ``database`` but this one (and the server's own, such as
    autovacuum's), from an admin connection, and wait until they are gone (the server ends
    a backend after it answers)."""
    with psycopg.connect(pg_url, autocommit=True) as admin:
        pids = [
            pid
            for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND usename = current_user",
                (database,),
            )
        ]
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        deadline = time.monotonic() + 30
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "terminated sessions are still there"
            time.sleep(0.01)
    return len(pids)


async def committed_once(seen: Any) -> None:
    with trio.fail_after(30):
        while not isinstance(await seen.receive(), Committed):
            pass


async def test_the_writer_reconnects_when_its_postgres_session_is_cut(
    pg_url: str, pg_database: str
) -> None:
    bus = Bus()
    writer = StorageWriter(
        pg_database, bus, sources=SOURCES, executor=thread_executor(), retry_initial_s=0.05
    )
    seen = bus.subscribe("obs", [Committed], buffer=100, policy=Policy.DROP_OLDEST)
    name = pg_database.rsplit("/", 1)[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        await bus.publish(CandleBatch(rows=[minute_candle(1)]))
        await committed_once(seen)
        assert terminate_writer_sessions(pg_url, name) >= 1
        await bus.publish(CandleBatch(rows=[minute_candle(2), minute_candle(3)]))
        await committed_once(seen)
        bus.close()
    assert writer.stats.retries >= 1 and writer.failure is None
    assert count(pg_database, "hyperliquid_candles") == 3


async def test_a_read_only_postgres_database_is_waited_out(pg_url: str, pg_database: str) -> None:
    bus = Bus()
    writer = StorageWriter(
        pg_database,
        bus,
        sources=SOURCES,
        executor=thread_executor(),
        retry_initial_s=0.05,
        retry_max_s=0.2,
    )
    seen = bus.subscribe("obs", [Committed, CommitFailed], buffer=100, policy=Policy.DROP_OLDEST)
    name = pg_database.rsplit("/", 1)[1]
    ident = psycopg.sql.Identifier(name)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                    ident
                )
            )
        terminate_writer_sessions(pg_url, name)
        await bus.publish(CandleBatch(rows=[minute_candle(1)]))
        with trio.fail_after(30):
            while True:
                ev = await seen.receive()
                assert not isinstance(ev, Committed), "committed on a read-only database"
                if ev.will_retry and "ReadOnlySqlTransaction" in ev.error:
                    break
        assert writer.failure is not None and "read-only" in writer.failure
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(
                    ident
                )
            )
        with trio.fail_after(30):
            while not isinstance(await seen.receive(), Committed):
                pass
        bus.close()
    assert writer.failure is None
    assert count(pg_database, "hyperliquid_candles") == 1


async def test_consecutive_batches_merge_into_one_executemany_in_order(database: Location) -> None:
    bus = Bus()
    writer = StorageWriter(database, bus, sources=SOURCES, executor=inline_executor)
    first = CandleBatch(rows=[minute_candle(1, close=1.0), minute_candle(2)])
    second = CandleBatch(rows=[minute_candle(1, close=7.0)])  # same key later: it must win
    mids = MidBatch(rows=[MidPrice(coin="BTC", bucket_ms=0, price=1.0, observed_at_ms=1)])
    third = CandleBatch(rows=[minute_candle(3)])
    runs = writer._runs([first, second, mids, third])
    assert [len(events) for _, events in runs] == [2, 1, 1]
    for ev in (first, second, mids, third):
        bus.publish_nowait(ev)
    bus.close()
    await writer.run()
    assert writer.stats.rows_by_table == {"hyperliquid_candles": 4, "hyperliquid_mid_prices": 1}
    assert stored_tuples(
        database, "SELECT close FROM hyperliquid_candles WHERE open_time_ms=60000"
    ) == [(7.0,)]
