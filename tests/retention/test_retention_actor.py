"""The retention actor in a pipeline on MockClock: schedule, exact boundaries, corrections.

The exact boundaries of every retained table and a backlog deleted in short transactions run
on both engines (``engines``); the schedule, a late minute's correction and a rejected
command are the actor's own behaviour (the SQL under them runs on both engines in
test_retention_tables.py), on SQLite only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import apsw
import pytest
import trio
import trio.testing
from retention_helpers import H0, minute

from marketmem.clock import HOUR_MS, MINUTE_MS, TrioWallClock
from marketmem.config import Config
from marketmem.events import (
    CandleBatch,
    ExpireRows,
    MidBatch,
    MidPrice,
    TechnicalIndicators,
    TechnicalIndicatorsBatch,
)
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.retention import tables as retention_tables
from marketmem.retention.actor import Maintainer, PassReport
from marketmem.retention.build import build
from marketmem.runs import execute_run
from marketmem.runtime import ChannelSpec, Runtime
from marketmem.scheduler import Scheduler
from tests.conftest import stored_tuples

DAY_MS = 24 * HOUR_MS


@asynccontextmanager
async def pipeline(config: Config) -> AsyncIterator[tuple[Runtime, TrioWallClock]]:
    clock = TrioWallClock(H0)
    clock.now_ms()  # wall time H0 is trio time now
    async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
        yield rt, clock


async def at_wall(clock: TrioWallClock, wall_ms: int) -> None:
    """Sleep (trio time) until the injected wall clock reads ``wall_ms``."""
    await trio.sleep((wall_ms - clock.now_ms()) / 1000)
    assert clock.now_ms() == wall_ms


async def run_pass(rt: Runtime, maintainer: Maintainer) -> PassReport:
    result = await execute_run(rt, "hyperliquid", "maintenance", maintainer.job)
    assert result.status == "ok", result.error
    assert maintainer.last_report is not None
    return maintainer.last_report


def read(config: Config, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return stored_tuples(config.database(), sql, params)


def indicators(coin: str, computed_at_ms: int) -> TechnicalIndicators:
    fields: dict[str, Any] = dict.fromkeys(TechnicalIndicators.__struct_fields__)
    fields.update(coin=coin, computed_at_ms=computed_at_ms)
    return TechnicalIndicators(**fields)


async def test_the_channel_runs_every_60_s_each_pass_its_own_run(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config(
        "[hyperliquid.channels]\nmaintenance = { enabled = true, cadence_s = 60 }\n"
    )
    async with pipeline(config) as (rt, _):
        specs = build(rt)
        assert [
            (s.source, s.channel, s.cadence_s) for s in specs if isinstance(s, ChannelSpec)
        ] == [("hyperliquid", "maintenance", 60.0)]
        channels = [s for s in specs if isinstance(s, ChannelSpec)]
        with trio.move_on_after(185):
            await Scheduler(rt, channels).run()
    rows = read(
        config,
        "SELECT status, started_at_ms FROM ingestion_runs "
        "WHERE source = 'hyperliquid' AND channel = 'maintenance' ORDER BY started_at_ms",
    )
    assert rows == [("ok", H0 + i * 60_000) for i in range(4)]


@pytest.mark.engines
async def test_retention_boundaries_are_exact(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config()
    async with pipeline(config) as (rt, clock):
        maintainer = Maintainer(rt)
        # Two hours of minutes, rolled up an hour and a second after the second one began.
        await rt.bus.publish(
            CandleBatch(rows=[minute("BTC", H0 - HOUR_MS + 5 * MINUTE_MS), minute("BTC", H0)])
        )
        await at_wall(clock, H0 + HOUR_MS + 1000)
        assert (await run_pass(rt, maintainer)).hours_rolled_up == 2

        now = H0 + 7 * DAY_MS
        await rt.bus.publish(
            CandleBatch(rows=[minute("BTC", now - DAY_MS - 1), minute("BTC", now - DAY_MS)])
        )
        await rt.bus.publish(
            MidBatch(
                rows=[
                    MidPrice(coin="BTC", bucket_ms=t, price=1.0, observed_at_ms=t)
                    for t in (now - 30 * MINUTE_MS - 1, now - 30 * MINUTE_MS)
                ]
            )
        )
        await rt.bus.publish(
            TechnicalIndicatorsBatch(
                rows=[indicators("BTC", now - 7 * DAY_MS - 1), indicators("BTC", now - 7 * DAY_MS)]
            )
        )
        await at_wall(clock, now)
        report = await run_pass(rt, maintainer)
    assert report.now_ms == now
    assert read(config, "SELECT open_time_ms FROM hyperliquid_candles") == [(now - DAY_MS,)]
    assert read(config, "SELECT open_time_ms FROM hyperliquid_candles_1h ORDER BY 1") == [
        (now - 7 * DAY_MS,),  # exactly 7 days old: kept; the hour before it is gone
        (now - DAY_MS - HOUR_MS,),  # the hours of the two new minutes
        (now - DAY_MS,),
    ]
    assert read(config, "SELECT bucket_ms FROM hyperliquid_mid_prices") == [(now - 30 * MINUTE_MS,)]
    assert read(config, "SELECT computed_at_ms FROM hyperliquid_technical_indicators") == [
        (now - 7 * DAY_MS,)
    ]
    assert report.deleted["hyperliquid_candles"] == 3
    assert report.deleted["hyperliquid_candles_1h"] == 1
    assert report.deleted["hyperliquid_mid_prices"] == 1
    assert report.deleted["hyperliquid_technical_indicators"] == 1


async def test_a_late_minute_corrects_its_hour_on_the_next_pass(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config()
    async with pipeline(config) as (rt, clock):
        maintainer = Maintainer(rt)
        await rt.bus.publish(
            CandleBatch(rows=[minute("ETH", H0 + m * MINUTE_MS, v=2.0) for m in range(59)])
        )
        await at_wall(clock, H0 + HOUR_MS + 10_000)
        await run_pass(rt, maintainer)
        before = read(config, "SELECT close, volume, minute_count FROM hyperliquid_candles_1h")
        # Backfill brings the missing last minute a few minutes later.
        await rt.bus.publish(
            CandleBatch(rows=[minute("ETH", H0 + 59 * MINUTE_MS, h=9.0, c=8.0, v=2.0)])
        )
        await at_wall(clock, H0 + HOUR_MS + 70_000)
        report = await run_pass(rt, maintainer)
    assert before == [(1.5, 118.0, 59)]
    assert report.hours_rolled_up == 1
    assert read(
        config,
        "SELECT high, close, volume, minute_count, rolled_up_at_ms FROM hyperliquid_candles_1h",
    ) == [(9.0, 8.0, 120.0, 60, H0 + HOUR_MS + 70_000)]


@pytest.mark.engines
async def test_a_backlog_is_deleted_in_many_short_transactions(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config("[hyperliquid]\nretention_chunk_rows = 100\n")
    async with pipeline(config) as (rt, clock):
        await rt.bus.publish(
            MidBatch(
                rows=[
                    MidPrice(coin=c, bucket_ms=H0 + i * 5000, price=1.0, observed_at_ms=H0)
                    for i in range(500)
                    for c in ("BTC", "ETH")
                ]
            )
        )
        await at_wall(clock, H0 + DAY_MS)
        writer = rt.writer
        transactions = writer.stats.transactions
        report = await run_pass(rt, Maintainer(rt))
        # Ten chunks of 100 and the chunk that finds the table empty, each committed alone.
        assert report.deleted["hyperliquid_mid_prices"] == 1000
        assert writer.stats.transactions - transactions >= 11


async def test_a_command_the_writer_rejects_fails_the_run(
    make_config: Callable[..., Config],
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(conn: apsw.Connection, ev: ExpireRows) -> dict[str, int]:
        raise RuntimeError("disk says no")

    monkeypatch.setitem(retention_tables.WRITERS, ExpireRows, broken)
    config = make_config("[hyperliquid]\nretention_command_timeout_s = 30\n")
    async with pipeline(config) as (rt, clock):
        await rt.bus.publish(
            MidBatch(rows=[MidPrice(coin="BTC", bucket_ms=H0, price=1.0, observed_at_ms=H0)])
        )
        await at_wall(clock, H0 + DAY_MS)
        result = await execute_run(rt, "hyperliquid", "maintenance", Maintainer(rt).job)
    assert result.status == "failed"
    assert result.error is not None
    # The writer's rejection answers at once; the run does not sit out the 30 s timeout.
    assert result.error.startswith(
        "CommandNotConfirmed: the storage writer rejected ExpireRows: RuntimeError: disk says no"
    )
    assert result.finished_at_ms - result.started_at_ms < 30_000
    assert read(config, "SELECT status FROM ingestion_runs") == [("failed",)]
    assert read(config, "SELECT count(*) FROM hyperliquid_mid_prices") == [(1,)]
