"""Run recording: ok/failed rows in ingestion_runs, notes, stream windows."""

from __future__ import annotations

import trio
import trio.testing

from marketmem.bus import Policy
from marketmem.events import CandleBatch, RunFinished
from marketmem.runs import RunContext, StreamRunWindow, execute_run
from marketmem.runtime import Runtime
from marketmem.storage import db
from tests.conftest import T0_MS, minute_candle


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


async def test_runs_reach_the_database(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    async def job(ctx: RunContext) -> None:
        await ctx.publish(CandleBatch(rows=[minute_candle(1)]))

    result = await execute_run(runtime, "hyperliquid", "candles", job)
    # The run row is committed after the rows it counts: wait until the writer caught up.
    while runtime.shared["writer"].stats.rows_by_table.get("ingestion_runs", 0) < 2:
        await trio.sleep(0.01)
    conn = db.open_ro(runtime.db_path)
    row = db.query(conn, "SELECT * FROM ingestion_runs")[0]
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
