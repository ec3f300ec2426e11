"""The refresh channels without discovery's output: later and recently closed take every
market from what discovery stored, so without it they fail with a one-line reason (and ask
Gamma nothing); immediate lists its own horizon and fails only with nothing to place. A run
beside a discovery in flight, or right after one, waits for its rows (at most a cadence).

On SQLite only: the read these rest on (``discovery_has_data``) runs on both engines in
tests/polymarket/test_pm_context.py, the rest is the channels' own logic and timing.
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from pm_helpers import open_pm, open_venue, pm_config, rows, settle
from trio.testing import MockClock

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.pipeline import open_pipeline
from marketmem.runs import execute_run
from marketmem.runtime import Runtime
from marketmem.sources.polymarket.classify import CHANNEL_OF, Bucket
from marketmem.sources.polymarket.jobs import PolymarketShared, discovery_job, refresh_job
from marketmem.venues.polymarket import DAY_MS, HOUR_MS, Simulator
from tests.conftest import T0_MS

NO_INPUT = "NoInput: no input: polymarket/discovery has no data"


async def run(
    rt: Runtime, channel: str, shared: PolymarketShared | None = None
) -> tuple[str, str | None, int]:
    """One run of ``channel``; channels that see each other's discovery share ``shared``."""
    shared = shared or PolymarketShared.of(rt.config)
    bucket: Bucket | None = next((b for b, c in CHANNEL_OF.items() if c == channel), None)
    job = discovery_job(shared) if bucket is None else refresh_job(shared, bucket)
    result = await execute_run(rt, "polymarket", channel, job)
    await settle()
    return result.status, result.error, result.rows_written


def count(rt: Runtime, table: str) -> int:
    return rows(rt.database, f"SELECT count(*) AS n FROM {table}")[0]["n"]


async def test_later_and_recently_closed_fail_without_discovery_data(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config) as (rt, sim):
        for channel in ("later_markets", "recently_closed"):
            assert await run(rt, channel) == ("failed", NO_INPUT, 0)
        assert sim.requests == []  # nothing to refresh: Gamma was not asked
        # The immediate channel stored markets of its own horizon: still no discovery data.
        status, error, _ = await run(rt, "immediate_markets")
        assert status == "ok" and error is not None and "discovery has no data" in error
        assert count(rt, "polymarket_markets") > 0
        assert (await run(rt, "later_markets"))[:2] == ("failed", NO_INPUT)
        # A failed discovery produces nothing either.
        sim.faults.add("500", 10)
        assert (await run(rt, "discovery"))[0] == "failed"
        assert (await run(rt, "recently_closed"))[:2] == ("failed", NO_INPUT)
        sim.faults.clear()
        assert (await run(rt, "discovery"))[0] == "ok"
        for channel in ("later_markets", "recently_closed", "immediate_markets"):
            status, error, written = await run(rt, channel)
            assert (status, error) == ("ok", None) and written > 0, channel
        stored = rows(
            rt.database, "SELECT status, error FROM ingestion_runs WHERE error = ?", (NO_INPUT,)
        )
        assert len(stored) == 4 and all(r["status"] == "failed" for r in stored)


async def test_an_empty_discovery_is_no_data_and_immediate_fails_with_nothing_to_place(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config, {"catalog": False}) as (rt, sim):
        assert await run(rt, "discovery") == ("ok", None, 0)  # Gamma had no events
        for channel in ("later_markets", "recently_closed", "immediate_markets"):
            assert await run(rt, channel) == ("failed", NO_INPUT, 0), channel
        # Something to link appears within the horizon: immediate places it on its own.
        sim.add_event(
            "Bitcoin Up or Down - 2h",
            tags=["crypto", "bitcoin"],
            markets=[("Bitcoin Up or Down - 2h", 2 * HOUR_MS)],
        )
        status, error, written = await run(rt, "immediate_markets")
        assert status == "ok" and written > 0
        assert (
            error
            == "no input: polymarket/discovery has no data: placed only markets listed for the horizon"
        )
        assert count(rt, "polymarket_immediate_markets") == 1
        sim.add_event(
            "Will Bitcoin reach $200k?",
            tags=["crypto"],
            markets=[("Will Bitcoin reach $200k?", 30 * DAY_MS)],
        )
        assert (await run(rt, "discovery"))[0] == "ok"
        assert (await run(rt, "later_markets"))[:2] == ("ok", None)
        assert count(rt, "polymarket_later_markets") == 1


async def test_a_run_beside_a_discovery_in_flight_waits_for_its_rows(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    """As at a first start, where every channel runs at once."""
    async with open_pm(make_config) as (rt, sim):
        sim.faults.add("hang", arg=30)  # discovery's first page takes 30 s
        done: dict[str, tuple[str, str | None, int]] = {}
        shared = PolymarketShared.of(rt.config)

        async def one(channel: str) -> None:
            done[channel] = await run(rt, channel, shared)

        async with trio.open_nursery() as nursery:
            for channel in ("discovery", "later_markets", "recently_closed"):
                nursery.start_soon(one, channel)
        assert {c: r[:2] for c, r in done.items()} == {
            "discovery": ("ok", None),
            "later_markets": ("ok", None),
            "recently_closed": ("ok", None),
        }
        assert done["later_markets"][2] > 0 and done["recently_closed"][2] > 0


async def test_back_to_back_with_the_writer_thread_as_ingest_runs_them(
    make_config: Callable[..., Config], autojump_clock: MockClock
) -> None:
    """The writer commits in its own thread: the run after discovery must not read first."""
    autojump_clock.autojump_threshold = 0.05  # a real thread commits: let it run
    clock = TrioWallClock(T0_MS)
    sim = Simulator(clock)
    async with (
        open_venue(sim) as url,
        open_pipeline(pm_config(make_config, url), clock=clock) as rt,
    ):
        assert (
            await execute_run(
                rt, "polymarket", "discovery", discovery_job(PolymarketShared.of(rt.config))
            )
        ).status == "ok"
        for bucket in ("later", "recently_closed"):
            result = await execute_run(
                rt,
                "polymarket",
                CHANNEL_OF[bucket],
                refresh_job(PolymarketShared.of(rt.config), bucket),
            )
            assert (result.status, result.error) == ("ok", None)
            assert result.rows_written > 0


async def test_the_wait_for_discovery_is_bounded_by_the_cadence(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    extra = "[polymarket.channels]\nlater_markets = { cadence_s = 60 }\n"
    async with open_pm(make_config, extra=extra) as (rt, sim):
        sim.faults.add("hang", 4, arg=600)  # every attempt of discovery's first page
        shared = PolymarketShared.of(rt.config)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, rt, "discovery", shared)
            await trio.sleep(1)
            t0 = trio.current_time()
            assert (await run(rt, "later_markets", shared))[:2] == ("failed", NO_INPUT)
            assert 60 <= trio.current_time() - t0 < 62
            nursery.cancel_scope.cancel()
