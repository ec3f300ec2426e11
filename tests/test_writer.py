"""The storage writer: idempotent upserts, batching, final flush, retries, bad events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apsw
import pytest
import trio
import trio.testing

from marketmem.bus import Bus, Policy
from marketmem.config import StorageConfig
from marketmem.events import (
    CandleBatch,
    Command,
    Committed,
    Event,
    MidBatch,
    MidPrice,
    RunStarted,
)
from marketmem.executors import inline_executor
from marketmem.plugins import SOURCES
from marketmem.storage import db, schema
from marketmem.storage.writer import StorageWriter, _transactions
from tests.conftest import minute_candle


def count(path: Path, table: str) -> int:
    conn = db.open_ro(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


async def run_writer(path: Path, events: list[Event], **kw: Any) -> StorageWriter:
    bus = Bus()
    writer = StorageWriter(path, bus, sources=SOURCES, executor=inline_executor, **kw)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        for ev in events:
            await bus.publish(ev)
        bus.close()
    return writer


async def test_replays_and_duplicates_never_create_rows_twice(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    batch = CandleBatch(rows=[minute_candle(i) for i in range(100)])
    await run_writer(path, [batch, batch, CandleBatch(rows=[minute_candle(5, close=9.0)])])
    assert count(path, "hyperliquid_candles") == 100
    conn = db.open_ro(path)
    assert conn.execute(
        "SELECT close FROM hyperliquid_candles WHERE open_time_ms=?", (5 * 60_000,)
    ).fetchone() == (9.0,)
    # A second process writing the same rows again changes nothing either.
    await run_writer(path, [batch])
    assert count(path, "hyperliquid_candles") == 100


async def test_closed_bar_never_reopens(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    await run_writer(
        path,
        [
            CandleBatch(rows=[minute_candle(1, closed=True)]),
            CandleBatch(rows=[minute_candle(1, closed=False)]),
        ],
    )
    conn = db.open_ro(path)
    assert conn.execute("SELECT closed FROM hyperliquid_candles").fetchone() == (1,)


async def test_latest_mid_in_bucket_wins_whatever_the_order(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    late = MidPrice(coin="BTC", bucket_ms=5000, price=2.0, observed_at_ms=9000)
    early = MidPrice(coin="BTC", bucket_ms=5000, price=1.0, observed_at_ms=6000)
    await run_writer(path, [MidBatch(rows=[late]), MidBatch(rows=[early])])
    conn = db.open_ro(path)
    assert conn.execute("SELECT price, observed_at_ms FROM hyperliquid_mid_prices").fetchall() == [
        (2.0, 9000)
    ]


async def test_queued_events_are_batched_into_few_transactions(tmp_path: Path) -> None:
    bus = Bus()
    writer = StorageWriter(
        tmp_path / "w.db",
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
    assert count(tmp_path / "w.db", "hyperliquid_candles") == 50


async def test_batches_are_bounded_by_rows(tmp_path: Path) -> None:
    bus = Bus()
    writer = StorageWriter(
        tmp_path / "w.db",
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


async def test_committed_is_published_with_rows_per_table(tmp_path: Path) -> None:
    bus = Bus()
    writer = StorageWriter(tmp_path / "w.db", bus, sources=SOURCES, executor=inline_executor)
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


async def test_final_flush_commits_everything_accepted_when_cancelled(tmp_path: Path) -> None:
    bus = Bus()
    writer = StorageWriter(tmp_path / "w.db", bus, sources=SOURCES, executor=inline_executor)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        for i in range(20):
            bus.publish_nowait(CandleBatch(rows=[minute_candle(i)]))
        # Cancel before the writer had a chance to read: the shielded final flush commits.
        nursery.cancel_scope.cancel()
    assert count(tmp_path / "w.db", "hyperliquid_candles") == 20


class Poison(Event):
    n: int


class Solo(Command):
    """A test command (solo, with a request id)."""


@pytest.fixture
def extra_writers(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Registers test-only write functions: Poison fails for odd n, Solo reports a count."""
    calls = {"busy": 0}
    real = schema.writers

    def write_poison(conn: apsw.Connection, ev: Any) -> dict[str, int]:
        if ev.n < 0 and calls["busy"] < 2:
            calls["busy"] += 1
            raise apsw.BusyError("database is locked")
        if ev.n % 2:
            raise ValueError(f"bad event {ev.n}")
        conn.execute(
            "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, status) "
            "VALUES (?, 'test', 'poison', 0, 'ok')",
            (f"p{ev.n}",),
        )
        return {"ingestion_runs": 1}

    def write_solo(conn: apsw.Connection, ev: Any) -> dict[str, int]:
        return {"nothing": 7}

    monkeypatch.setattr(
        schema,
        "writers",
        lambda sources=None: {**real(sources), Poison: write_poison, Solo: write_solo},
    )
    return calls


async def test_a_bad_event_is_rejected_alone(tmp_path: Path, extra_writers: dict[str, int]) -> None:
    bus = Bus()
    writer = StorageWriter(tmp_path / "w.db", bus, sources=SOURCES, executor=inline_executor)
    for n in range(6):
        bus.publish_nowait(Poison(n=n))
    bus.close()
    await writer.run()
    assert writer.stats.rejected == 3
    assert count(tmp_path / "w.db", "ingestion_runs") == 3  # 0, 2, 4 survived


async def test_retryable_errors_are_retried_without_losing_the_batch(
    tmp_path: Path, extra_writers: dict[str, int], autojump_clock: trio.testing.MockClock
) -> None:
    bus = Bus()
    writer = StorageWriter(
        tmp_path / "w.db", bus, sources=SOURCES, executor=inline_executor, retry_initial_s=1
    )
    bus.publish_nowait(Poison(n=-2))
    bus.publish_nowait(CandleBatch(rows=[minute_candle(1)]))
    bus.close()
    t0 = trio.current_time()
    await writer.run()
    assert extra_writers["busy"] == 2
    assert writer.stats.retries == 2
    assert trio.current_time() - t0 >= 3  # backed off 1 s, then 2 s
    assert count(tmp_path / "w.db", "hyperliquid_candles") == 1
    assert count(tmp_path / "w.db", "ingestion_runs") == 1


async def test_solo_events_get_their_own_transaction_and_report_results(
    tmp_path: Path, extra_writers: dict[str, int]
) -> None:
    c1, c2 = CandleBatch(rows=[minute_candle(1)]), CandleBatch(rows=[minute_candle(2)])
    s = Solo()
    assert _transactions([c1, s, c2, c1]) == [[c1], [s], [c2, c1]]
    bus = Bus()
    writer = StorageWriter(tmp_path / "w.db", bus, sources=SOURCES, executor=inline_executor)
    seen = bus.subscribe("obs", [Committed], buffer=10, policy=Policy.DROP_OLDEST)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        result = await writer.execute(s)
        ev = await seen.receive()
        bus.close()
    assert result.counts == {"nothing": 7} and result.written is s
    assert isinstance(ev, Committed) and ev.events == 1


async def test_interrupted_runs_are_closed_by_the_service_writer_only(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    await run_writer(path, [RunStarted(run_id="r1", source="s", channel="c", started_at_ms=1)])
    await run_writer(path, [])  # a one-off command's writer leaves it alone
    conn = db.open_ro(path)
    assert conn.execute("SELECT status FROM ingestion_runs").fetchone() == ("running",)
    conn.close()
    await run_writer(path, [], close_interrupted=True)
    conn = db.open_ro(path)
    status, error = conn.execute("SELECT status, error FROM ingestion_runs").fetchone()
    assert status == "failed" and "interrupted" in error


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


async def test_consecutive_batches_merge_into_one_executemany_in_order(tmp_path: Path) -> None:
    bus = Bus()
    writer = StorageWriter(tmp_path / "w.db", bus, sources=SOURCES, executor=inline_executor)
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
    conn = db.open_ro(tmp_path / "w.db")
    assert conn.execute(
        "SELECT close FROM hyperliquid_candles WHERE open_time_ms=60000"
    ).fetchone() == (7.0,)
