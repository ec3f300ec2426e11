"""Run recording: ok/failed rows in ingestion_runs, notes, stream windows, and what the
writer committed (rows_written) or rejected (a failed run) of each run.

The tests of what reaches the database run on both engines (``engines``); those of runs that
never leave the bus (failures, notes, cancellation, empty stream windows) on SQLite only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from marketmem.bus import Policy
from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import CandleBatch, Row, RowBatch, RunFinished
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.runs import RunContext, StreamRunWindow, execute_run
from marketmem.runtime import Runtime
from marketmem.storage import engine, schema
from marketmem.storage.tables import Upsert, rows_writer
from marketmem.storage.writer import CommitRejected
from tests.conftest import T0_MS, minute_candle, stored


@pytest.mark.engines
async def test_ok_run_counts_rows_and_is_stored(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    async def job(ctx: RunContext) -> None:
        await ctx.publish(CandleBatch(rows=[minute_candle(1), minute_candle(2)]))
        await trio.sleep(2)
        await ctx.publish(CandleBatch(rows=[minute_candle(3)]))

    result = await execute_run(runtime, "hyperliquid", "candles", job)
    assert result.status == "ok" and result.rows_written == 3 and result.error is None
    assert result.started_at_ms == T0_MS
    assert T0_MS + 2000 <= result.finished_at_ms < T0_MS + 2100


async def test_failed_run_names_the_exception_and_notes_add_to_error(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    async def job(ctx: RunContext) -> None:
        ctx.note("coin XYZ: no book")
        raise ValueError("payload missing field `universe`")

    result = await execute_run(runtime, "s", "c", job)
    assert result.status == "failed"
    assert result.error == "ValueError: payload missing field `universe`; coin XYZ: no book"

    async def partial(ctx: RunContext) -> None:
        ctx.note("coin XYZ: no book")

    result = await execute_run(runtime, "s", "c", partial)
    assert result.status == "ok" and result.error == "coin XYZ: no book"


@pytest.mark.engines
async def test_runs_reach_the_database(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    async def job(ctx: RunContext) -> None:
        await ctx.publish(CandleBatch(rows=[minute_candle(1)]))

    result = await execute_run(runtime, "hyperliquid", "candles", job)
    # The run row is committed after the rows it counts: wait until the writer caught up.
    while runtime.writer.stats.rows_by_table.get("ingestion_runs", 0) < 2:
        await trio.sleep(0.01)
    row = stored(runtime.database, "SELECT * FROM ingestion_runs")[0]
    assert row["run_id"] == result.run_id and row["status"] == "ok" and row["rows_written"] == 1


async def test_cancelled_run_is_recorded_failed(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    runs = runtime.bus.subscribe("t", [RunFinished], buffer=10, policy=Policy.LOSSLESS)

    async def forever(ctx: RunContext) -> None:
        await trio.sleep_forever()

    with trio.move_on_after(1):
        await execute_run(runtime, "s", "c", forever)
    ev = runs.receive_nowait()
    assert isinstance(ev, RunFinished)
    assert ev.status == "failed" and ev.error is not None and "cancelled" in ev.error


async def test_stream_windows_record_only_when_rows_arrive(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    runs = runtime.bus.subscribe("t", [RunFinished], buffer=10, policy=Policy.LOSSLESS)
    window = StreamRunWindow(runtime, "hyperliquid", "mids", window_s=60)

    async def feed() -> None:
        window.add(10)
        await trio.sleep(61)  # second window: nothing arrives
        await trio.sleep(60)
        window.add(5)
        window.note("reconnected once")
        await trio.sleep(60)
        window.fail("socket stalled")

    with trio.move_on_after(200):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(window.run_windows)
            await feed()
            await trio.sleep_forever()
    got = []
    while True:
        try:
            got.append(runs.receive_nowait())
        except trio.WouldBlock:
            break
    assert [(r.status, r.rows_written, r.error) for r in got] == [
        ("ok", 10, None),
        ("ok", 5, "reconnected once"),
        ("failed", 0, "socket stalled"),
    ]


# --- what the writer committed -------------------------------------------------------------


class Gadget(Row):
    gadget_id: str
    colour: str
    size: int


class GadgetBatch(RowBatch):
    rows: list[Gadget]


@pytest.fixture
def gadget_table(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row type whose table lacks its ``size`` column: the writer rejects every batch."""
    conn = engine.open_writer(config.database())
    conn.execute("CREATE TABLE test_gadgets (gadget_id TEXT PRIMARY KEY, colour TEXT)")
    conn.close()
    real = schema.writers
    upsert = Upsert("test_gadgets", Gadget, key=("gadget_id",))
    monkeypatch.setattr(
        schema, "writers", lambda sources=None: {**real(sources), GadgetBatch: rows_writer(upsert)}
    )


# The error each engine gives for the missing column.
NO_SIZE_COLUMN = r'no column named size|column "size" of relation "test_gadgets" does not exist'


def gadgets(n: int) -> GadgetBatch:
    return GadgetBatch(rows=[Gadget(gadget_id=f"g{i}", colour="red", size=i) for i in range(n)])


def stored_run(location: str | Path, run_id: str) -> dict[str, Any]:
    return stored(location, "SELECT * FROM ingestion_runs WHERE run_id=?", (run_id,))[0]


@pytest.mark.engines
async def test_rows_the_writer_rejects_fail_the_run_and_do_not_count(
    config: Config, gadget_table: None, autojump_clock: trio.testing.MockClock
) -> None:
    async def job(ctx: RunContext) -> None:
        await ctx.publish(CandleBatch(rows=[minute_candle(1), minute_candle(2)]))
        await ctx.publish(gadgets(3))

    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        result = await execute_run(rt, "hyperliquid", "registry", job)
    assert result.status == "failed"
    assert result.rows_written == 2  # the candles; the gadgets were rejected
    assert result.error is not None
    assert result.error.startswith("storage rejected 1 event(s) of this run: GadgetBatch: ")
    assert re.search(NO_SIZE_COLUMN, result.error)
    row = stored_run(config.database(), result.run_id)
    assert (row["status"], row["rows_written"], row["error"]) == ("failed", 2, result.error)


@pytest.mark.engines
async def test_a_run_counts_what_was_committed_not_what_it_announced(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    async def job(ctx: RunContext) -> None:
        # The same bar twice: one row in the table, but two upserts committed.
        await ctx.publish(CandleBatch(rows=[minute_candle(1)]))
        await ctx.publish(CandleBatch(rows=[minute_candle(1), minute_candle(2)]))
        # NULL rows written for want of input are not the run's rows.
        await ctx.publish(CandleBatch(rows=[minute_candle(3)]), counted=False)

    result = await execute_run(runtime, "hyperliquid", "registry", job)
    assert (result.status, result.rows_written) == ("ok", 3)
    assert stored_run(runtime.database, result.run_id)["rows_written"] == 3


@pytest.mark.engines
async def test_stream_windows_record_what_the_writer_committed(
    config: Config, gadget_table: None, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        window = StreamRunWindow(rt, "hyperliquid", "candles", window_s=60)
        await rt.bus.publish(CandleBatch(rows=[minute_candle(1)], run_id=window.run_id))
        await rt.bus.publish(_tagged(gadgets(1), window))
        window.add(2)
        finished = await window.close_window()
        assert finished is not None
        await trio.sleep(1)
    row = stored_run(config.database(), finished.run_id)
    assert row["status"] == "failed" and row["rows_written"] == 1
    assert "storage rejected 1 event(s)" in row["error"]


def _tagged(batch: GadgetBatch, window: StreamRunWindow) -> GadgetBatch:
    return msgspec.structs.replace(batch, run_id=window.run_id)


@pytest.mark.engines
async def test_execute_returns_the_commit_or_raises_the_writers_reason(
    config: Config, gadget_table: None, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        assert rt.writer is not None
        result = await rt.writer.execute(CandleBatch(rows=[minute_candle(1), minute_candle(2)]))
        assert result.counts == {"hyperliquid_candles": 2}
        with pytest.raises(CommitRejected, match=NO_SIZE_COLUMN):
            await rt.writer.execute(gadgets(1))


@pytest.mark.engines
async def test_every_run_names_the_instance_that_ran_it(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    cfg = make_config('[service]\nname = "ingest-a"\n')
    async with open_pipeline(cfg, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:

        async def job(ctx: RunContext) -> None:
            await ctx.publish(CandleBatch(rows=[minute_candle(1)]))

        polled = await execute_run(rt, "hyperliquid", "registry", job)
        window = StreamRunWindow(rt, "hyperliquid", "candles", window_s=60)
        window.add(1)
        streamed = await window.close_window()
        assert streamed is not None
        await trio.sleep(1)
    rows = {
        r["run_id"]: r["instance"] for r in stored(cfg.database(), "SELECT * FROM ingestion_runs")
    }
    assert rows == {polled.run_id: "ingest-a", streamed.run_id: "ingest-a"}


def test_the_default_instance_name_is_host_and_pid(make_config: Callable[..., Config]) -> None:
    import os
    import socket

    assert make_config().service.instance() == f"{socket.gethostname()}:{os.getpid()}"
