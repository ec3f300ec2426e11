"""Storage faults: a full or read-only database, a slow subscriber, a slow writer.

All on MockClock with the inline executor (autojump would treat a worker thread as idle).

- Full disk / read-only: the writer keeps its batch and retries with capped backoff (no crash,
  no spin), runs and stream windows ending meanwhile are recorded failed naming the error,
  channels keep their schedule, and once the condition clears every accepted row is committed
  and runs are ok again.
- A lossy subscriber that never reads stays at its buffer size, its drops are counted and
  exported, and the writer (lossless) still commits every row.
- A slow writer makes publishers wait: its queue never grows past the configured buffer.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

from marketmem import metrics
from marketmem.bus import Bus, Policy, SubscriberStatistics
from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import MidBatch
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.runs import RunContext, StreamRunWindow
from marketmem.runtime import ChannelSpec
from marketmem.scheduler import Scheduler
from marketmem.storage.writer import StorageWriter
from marketmem.supervisor import observe_bus
from tests.conftest import T0_MS
from tests.faults.storage_helpers import (
    DISK_FULL,
    READ_ONLY,
    RowSource,
    StorageFault,
    WriterOutcomes,
    count_rows,
    read_rows,
)

POLL_CADENCE_S = 10.0
WINDOW_S = 60.0
FEED_EVERY_S = 5.0
FAULT_AT_S = 35.0
OUTAGE_S = 300.0
STOP_AT_S = 427.0  # not on a feed tick: a publish cancelled after delivery is not counted
CANDLES_PER_RUN = 200


def subscriber(bus: Bus, name: str) -> SubscriberStatistics:
    return next(s for s in bus.statistics().subscribers if s.name == name)


@pytest.mark.parametrize("fault", [DISK_FULL, READ_ONLY], ids=lambda f: f.name)
async def test_storage_outage_fails_runs_then_recovers_without_loss(
    fault: StorageFault,
    make_config: Callable[..., Config],
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    config = make_config()
    clock = TrioWallClock(T0_MS)
    source = RowSource()
    t0 = trio.current_time()

    async def poll_job(ctx: RunContext) -> None:
        await ctx.publish(source.candles(CANDLES_PER_RUN))
        await trio.sleep(1)  # a real job takes a while (HTTP) after its first rows

    # The recorder outlives the pipeline: it reads to the end once the bus is closed.
    async with (
        trio.open_nursery() as outer,
        open_pipeline(config, clock=clock, executor=inline_executor) as rt,
    ):
        writer: StorageWriter = rt.writer
        outcomes = WriterOutcomes(rt.bus, clock)
        outer.start_soon(outcomes.collect)
        spec = ChannelSpec("hyperliquid", "registry", POLL_CADENCE_S, poll_job)
        scheduler = Scheduler(rt, [spec])
        window = StreamRunWindow(rt, "hyperliquid", "mids", WINDOW_S)

        async def feed_stream() -> None:
            while True:
                batch = source.mids()
                await rt.bus.publish(batch)
                window.add(len(batch.rows))
                await trio.sleep(FEED_EVERY_S)

        async with trio.open_nursery() as nursery:
            await nursery.start(scheduler.run)
            nursery.start_soon(window.run_windows)
            nursery.start_soon(feed_stream)
            await trio.sleep_until(t0 + FAULT_AT_S)
            await fault.apply(writer)
            await trio.sleep_until(t0 + FAULT_AT_S + OUTAGE_S)
            assert writer.failure == fault.error  # still failing at the end of the outage
            assert metrics.WRITER_FAILING.value() == 1
            await fault.clear(writer)
            await trio.sleep_until(t0 + STOP_AT_S)
            nursery.cancel_scope.cancel()
        assert writer.failure is None
        assert metrics.WRITER_FAILING.value() == 0

    # --- the writer: held on, backed off to its cap, never spun ------------------------------
    fail_times = [t - t0 for t, _ in outcomes.failures]
    # The first commit that needs a new page (or any write) after the fault fails.
    assert FAULT_AT_S <= fail_times[0] <= FAULT_AT_S + POLL_CADENCE_S + 0.1
    assert all(ev.error == fault.error and ev.will_retry for _, ev in outcomes.failures)
    gaps = [b - a for a, b in itertools.pairwise(fail_times)]
    assert gaps[:7] == pytest.approx([0.5, 1, 2, 4, 8, 16, 30])
    assert gaps[7:] == pytest.approx([30.0] * len(gaps[7:]))
    # 300 s of outage: 6 attempts to reach the cap, then one per 30 s; not a busy loop.
    assert 14 <= len(outcomes.failures) <= 18
    assert writer.stats.retries == len(outcomes.failures)
    recovered = outcomes.recovered_at() - t0
    assert FAULT_AT_S + OUTAGE_S <= recovered <= FAULT_AT_S + OUTAGE_S + 30.0
    assert writer.stats.rejected == 0

    # --- runs: failed during the outage, naming the error; ok before and after ---------------
    path = config.db_path()
    runs = read_rows(path, "SELECT * FROM ingestion_runs ORDER BY finished_at_ms")
    assert {r["run_id"] for r in runs} == {r.run_id for r in outcomes.runs}
    assert all(r["status"] in ("ok", "failed") for r in runs)  # none left running
    fail_ms = T0_MS + round(fail_times[0] * 1000)
    recovered_ms = T0_MS + round(recovered * 1000)
    storage_error = f"storage unavailable: {fault.error}"
    for r in runs:
        if fail_ms <= r["finished_at_ms"] < recovered_ms:
            assert r["status"] == "failed" and r["error"] == storage_error, r
        else:
            assert r["status"] == "ok" and r["error"] is None, r
    failed = [r for r in runs if r["status"] == "failed"]
    polls = [r for r in runs if r["channel"] == "registry"]
    assert sum(r["channel"] == "registry" for r in failed) >= OUTAGE_S / POLL_CADENCE_S - 1
    assert sum(r["channel"] == "mids" for r in failed) >= OUTAGE_S / WINDOW_S - 1
    assert [r["status"] for r in polls[-3:]] == ["ok"] * 3  # ok again after recovery

    # --- the schedule kept its ticks through the outage ---------------------------------------
    stats = scheduler.stats[("hyperliquid", "registry")]
    ticks = int(STOP_AT_S // POLL_CADENCE_S) + 1
    assert (stats.started, stats.skipped) == (ticks, 0)
    starts = sorted(r["started_at_ms"] for r in polls)
    assert starts == [T0_MS + i * round(POLL_CADENCE_S * 1000) for i in range(ticks)]

    # --- nothing accepted was lost ----------------------------------------------------------
    assert count_rows(path, "hyperliquid_candles") == len(source.candle_keys) == ticks * 200
    assert count_rows(path, "hyperliquid_mid_prices") == len(source.mid_keys)
    assert sum(r["rows_written"] for r in polls) == len(source.candle_keys)
    mids_runs = [r for r in runs if r["channel"] == "mids"]
    assert sum(r["rows_written"] for r in mids_runs) == len(source.mid_keys)

    # --- logs name the error -------------------------------------------------------------------
    def logged(logger: str, level: int, text: str) -> bool:
        return any(
            rec.name == logger and rec.levelno == level and text in rec.getMessage()
            for rec in caplog.records
        )

    assert logged("marketmem.storage.writer", logging.ERROR, fault.error)
    assert logged("marketmem.storage.writer", logging.INFO, "commits succeed again")
    # The writer's ERROR is the cause; each run it failed is one WARNING line naming it.
    assert logged("marketmem.runs", logging.WARNING, storage_error)


async def test_a_full_disk_that_rolls_back_the_whole_transaction_is_still_retried(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    """On SQLITE_FULL SQLite may roll the whole transaction back itself; leaving ``with conn``
    then raises SQLError("cannot rollback ...") over the FullError. That is a full disk, not a
    batch of bad events: nothing may be rejected."""
    config = make_config()
    clock = TrioWallClock(T0_MS)
    source = RowSource()
    # The recorder outlives the pipeline: it reads to the end once the bus is closed.
    async with (
        trio.open_nursery() as outer,
        open_pipeline(config, clock=clock, executor=inline_executor) as rt,
    ):
        writer: StorageWriter = rt.writer
        outcomes = WriterOutcomes(rt.bus, clock)
        outer.start_soon(outcomes.collect)
        await DISK_FULL.apply(writer)
        # Queued at once: one transaction of many statements (the case SQLite rolls back).
        for _ in range(200):
            rt.bus.publish_nowait(source.mids(("BTC", "ETH", "SOL")))
        await trio.sleep(10)
        assert writer.failure == DISK_FULL.error
        await DISK_FULL.clear(writer)
        await trio.sleep(20)
        assert writer.failure is None
    assert writer.stats.rejected == 0
    assert [ev.error for _, ev in outcomes.failures] == [DISK_FULL.error] * len(outcomes.failures)
    assert len(outcomes.failures) >= 3
    assert count_rows(config.db_path(), "hyperliquid_mid_prices") == len(source.mid_keys) == 600


@pytest.mark.parametrize("policy", [Policy.DROP_OLDEST, Policy.DROP_NEWEST])
async def test_a_lossy_subscriber_that_never_reads_stays_bounded(
    policy: Policy, make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    buffer, published = 16, 2000
    name = f"never-reads-{policy.value}"
    source = RowSource()
    config = make_config()
    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        stalled = rt.bus.subscribe(name, [MidBatch], buffer=buffer, policy=policy)
        batches = []
        for _ in range(published):
            batch = source.mids()
            batches.append(batch)
            await rt.bus.publish(batch)
            assert subscriber(rt.bus, name).queued <= buffer
        view = subscriber(rt.bus, name)
        assert (view.queued, view.dropped) == (buffer, published - buffer)
        assert subscriber(rt.bus, "storage-writer").dropped == 0
        # The supervisor's observer exports the drops.
        with trio.move_on_after(1):
            await observe_bus(rt)
        assert metrics.BUS_DROPPED.value(subscriber=name) == published - buffer
        assert metrics.BUS_QUEUED.value(subscriber=name) == buffer
        kept = [stalled.receive_nowait() for _ in range(buffer)]
        expected = batches[-buffer:] if policy is Policy.DROP_OLDEST else batches[:buffer]
        assert kept == expected
    assert count_rows(config.db_path(), "hyperliquid_mid_prices") == len(source.mid_keys)
    assert len(source.mid_keys) == 2 * published


async def test_a_slow_writer_makes_publishers_wait(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    buffer, rows_per_event, events = 8, 10, 300
    config = make_config(f"writer_buffer = {buffer}\nwriter_max_rows = 50\n")
    commit_s = 0.2

    async def slow_executor(fn: Callable[..., Any], *args: Any) -> Any:
        await trio.sleep(commit_s)
        return fn(*args)

    source = RowSource()
    depths: list[int] = []
    backlog: list[int] = []
    waits: list[float] = []
    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=slow_executor) as rt:
        writer: StorageWriter = rt.writer

        async def sample() -> None:
            while True:
                depths.append(subscriber(rt.bus, "storage-writer").queued)
                await trio.sleep(0.01)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample)
            start = trio.current_time()
            for sent in range(1, events + 1):
                t = trio.current_time()
                await rt.bus.publish(source.candles(rows_per_event))
                waits.append(trio.current_time() - t)
                depths.append(subscriber(rt.bus, "storage-writer").queued)
                backlog.append(sent - writer.stats.events)
            elapsed = trio.current_time() - start
            nursery.cancel_scope.cancel()
    # The queue never outgrows its buffer; what is not yet committed is the queue plus the one
    # batch in the writer's hands (at most writer_max_rows rows).
    assert max(depths) == buffer
    assert max(backlog) <= buffer + 50 // rows_per_event + 1
    # Publishers waited for the writer: about one wait per commit, and all the publishing time
    # was spent waiting (it took as long as the writer's commits).
    transactions = writer.stats.transactions
    assert transactions >= events * rows_per_event // 50
    assert sum(w > 0 for w in waits) >= transactions - 3
    assert sum(waits) == pytest.approx(elapsed)
    assert elapsed >= (transactions - 3) * commit_s
    assert count_rows(config.db_path(), "hyperliquid_candles") == events * rows_per_event
