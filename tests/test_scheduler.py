"""Scheduler: drift-free cadence, overlap guard, failure isolation, recorded runs."""

from __future__ import annotations

import trio
import trio.testing

from marketmem.bus import Policy
from marketmem.events import RunFinished
from marketmem.runs import RunContext
from marketmem.runtime import ChannelSpec, Runtime
from marketmem.scheduler import Scheduler


def finished_runs(rx: trio.MemoryReceiveChannel) -> list[RunFinished]:
    out = []
    while True:
        try:
            out.append(rx.receive_nowait())
        except trio.WouldBlock:
            return out


async def run_for(rt: Runtime, specs: list[ChannelSpec], seconds: float) -> Scheduler:
    scheduler = Scheduler(rt, specs)
    with trio.move_on_after(seconds):
        await scheduler.run()
    return scheduler


async def test_ticks_are_drift_free(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    starts: list[float] = []
    t0 = trio.current_time()

    async def job(ctx: RunContext) -> None:
        starts.append(trio.current_time() - t0)
        await trio.sleep(3)  # work time must not push the next tick

    await run_for(runtime, [ChannelSpec("s", "c", 10, job)], 35)
    assert starts == [0, 10, 20, 30]


async def test_run_at_start_false_waits_one_cadence(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    starts: list[float] = []
    t0 = trio.current_time()

    async def job(ctx: RunContext) -> None:
        starts.append(trio.current_time() - t0)

    await run_for(runtime, [ChannelSpec("s", "c", 10, job, run_at_start=False)], 25)
    assert starts == [10, 20]


async def test_a_run_still_going_makes_the_tick_a_skip(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    starts: list[float] = []
    t0 = trio.current_time()

    async def slow(ctx: RunContext) -> None:
        starts.append(trio.current_time() - t0)
        await trio.sleep(25)

    scheduler = await run_for(runtime, [ChannelSpec("s", "slow", 10, slow)], 45)
    assert starts == [0, 30]  # 45 s: runs 0-25 and 30-55
    stats = scheduler.stats[("s", "slow")]
    assert stats.skipped == 3  # ticks at 10, 20 and 40
    assert stats.started == 2


async def test_one_failing_channel_never_stops_another(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    runs = runtime.bus.subscribe("t", [RunFinished], buffer=1000, policy=Policy.LOSSLESS)
    good_calls = 0

    async def bad(ctx: RunContext) -> None:
        raise RuntimeError("venue exploded")

    async def good(ctx: RunContext) -> None:
        nonlocal good_calls
        good_calls += 1

    await run_for(
        runtime, [ChannelSpec("s", "bad", 5, bad), ChannelSpec("s", "good", 10, good)], 31
    )
    finished = finished_runs(runs)
    bad_runs = [r for r in finished if r.channel == "bad"]
    good_runs = [r for r in finished if r.channel == "good"]
    assert len(bad_runs) == 7 and all(r.status == "failed" for r in bad_runs)
    assert bad_runs[0].error == "RuntimeError: venue exploded"
    assert good_calls == 4 and all(r.status == "ok" for r in good_runs)
