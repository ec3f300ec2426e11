"""The immediate channel lists the open events ending within its horizon, so a market created
after the last discovery is stored, linked and placed without waiting for the next one. On
SQLite only: the writes and reads it makes are discovery's and the refresh channels', on both
engines in tests/polymarket/test_pm_channels.py."""

from __future__ import annotations

from collections.abc import Callable

import trio
from pm_helpers import bucket_of, open_pm, rows, settle

from marketmem.config import Config
from marketmem.runs import execute_run
from marketmem.runtime import Runtime
from marketmem.sources.polymarket.jobs import PolymarketShared, discovery_job, refresh_job
from marketmem.storage.reads.polymarket import iso
from marketmem.venues.polymarket import DAY_MS, HOUR_MS, SimMarket, Simulator

# Small pages so the horizon listing takes several (10 catalog events end within 24 h).
EXTRA = "page_size = 4\n"
STATE = {"active": "true", "closed": "false", "archived": "false"}


async def run(rt: Runtime, channel: str) -> tuple[str, str | None]:
    job = (
        discovery_job(PolymarketShared.of(rt.config))
        if channel == "discovery"
        else refresh_job(PolymarketShared.of(rt.config), "immediate")
    )
    result = await execute_run(rt, "polymarket", channel, job)
    await settle()
    return result.status, result.error


def count(rt: Runtime, table: str) -> int:
    return rows(rt.database, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def links_of(rt: Runtime, market_id: str) -> set[str]:
    got = rows(
        rt.database,
        "SELECT asset FROM polymarket_market_asset_links WHERE market_id=?",
        (market_id,),
    )
    return {r["asset"] for r in got}


def stored(rt: Runtime, market_id: str) -> bool:
    return bool(
        rows(rt.database, "SELECT 1 FROM polymarket_markets WHERE market_id=?", (market_id,))
    )


def new_market(sim: Simulator, title: str, ends_in_ms: int) -> SimMarket:
    """A BTC market created now on the venue, ending ``ends_in_ms`` from now."""
    offset = sim.clock.now_ms() - sim.start_ms + ends_in_ms
    tags = ["crypto", "up-or-down", "bitcoin"]
    return sim.add_event(title, tags=tags, markets=[(title, offset)]).markets[0]


def horizon_pages(sim: Simulator) -> list[list[tuple[str, str]]]:
    return [p for path, p in sim.requests if path == "/events/keyset"]


async def test_a_new_short_market_is_placed_without_a_new_discovery(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config, extra=EXTRA) as (rt, sim):
        assert await run(rt, "discovery") == ("ok", None)
        await trio.sleep(600)  # created after the discovery run
        short = new_market(sim, "Bitcoin Up or Down - new 2h window", 2 * HOUR_MS)
        far = new_market(sim, "Bitcoin Up or Down - far window", 30 * DAY_MS)
        assert not stored(rt, short.id)
        sim.requests.clear()
        now = rt.clock.now_ms()

        assert await run(rt, "immediate_markets") == ("ok", None)

        assert bucket_of(rt.database, short.id) == ["immediate"]
        assert links_of(rt, short.id) == {"BTC"}
        event = sim.events[-2]
        got = rows(rt.database, "SELECT title FROM polymarket_events WHERE event_id=?", (event.id,))
        assert got == [{"title": event.title}]
        # The listing: every page re-sends every filter, pages chained by after_cursor.
        pages = horizon_pages(sim)
        assert len(pages) >= 3
        first = {k: v for k, v in pages[0] if k != "after_cursor"}
        assert first == {
            "limit": "4",
            **STATE,
            "end_date_min": iso(now),
            "end_date_max": iso(now + DAY_MS),
        }
        assert "after_cursor" not in dict(pages[0])
        for page in pages[1:]:
            assert {k: v for k, v in page if k != "after_cursor"} == first
            assert sum(k == "after_cursor" for k, _ in page) == 1
        # The market far beyond the horizon is not in what that query selects, nor stored.
        selected = {o["id"] for o in sim.list_events(pages[0], default_closed=True)}
        assert event.id in selected and sim.events[-1].id not in selected
        assert not stored(rt, far.id)


async def test_a_failing_horizon_page_fails_the_run_and_writes_nothing(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config, extra=EXTRA) as (rt, sim):
        assert await run(rt, "discovery") == ("ok", None)
        short = new_market(sim, "Bitcoin Up or Down - new 2h window", 2 * HOUR_MS)
        tables = ("polymarket_events", "polymarket_markets", "polymarket_market_asset_links")
        before = {t: count(rt, t) for t in tables}
        sim.faults.add("malformed", after=1)  # page 2 of the horizon listing

        status, error = await run(rt, "immediate_markets")

        assert status == "failed" and error is not None and "page 2" in error
        assert {t: count(rt, t) for t in tables} == before
        assert not stored(rt, short.id) and links_of(rt, short.id) == set()
        assert count(rt, "polymarket_immediate_markets") == 0
        assert await run(rt, "immediate_markets") == ("ok", None)  # the next run recovers
        assert bucket_of(rt.database, short.id) == ["immediate"]
