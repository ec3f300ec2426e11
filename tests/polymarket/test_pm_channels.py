"""The Polymarket channels end to end: local venue -> jobs -> bus -> writer -> database.

What the channels store and place runs on both engines (``engines``); the scheduler's
no-overlap rule and the plug-in's specs, which store nothing of their own, on SQLite only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import trio
from pm_helpers import bucket_of, open_pm, rows, settle

from marketmem.config import Config
from marketmem.runs import execute_run
from marketmem.runtime import ChannelSpec, Runtime
from marketmem.scheduler import Scheduler
from marketmem.source import open_sources
from marketmem.sources.polymarket.channels import build
from marketmem.sources.polymarket.classify import CHANNEL_OF, Bucket
from marketmem.sources.polymarket.jobs import (
    DiscoverySummary,
    PolymarketShared,
    discovery_job,
    refresh_job,
)
from marketmem.storage import engine
from marketmem.storage.reads.polymarket import markets_for_asset
from marketmem.venues.polymarket import HOUR_MS, SimMarket, Simulator
from tests.conftest import FIXTURES, T0_MS

H_S = 3600


def count(rt: Runtime, table: str) -> int:
    return rows(rt.database, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def links_of(rt: Runtime, market_id: str) -> set[str]:
    got = rows(
        rt.database,
        "SELECT asset FROM polymarket_market_asset_links WHERE market_id=?",
        (market_id,),
    )
    return {r["asset"] for r in got}


def sim_market(sim: Simulator, prefix: str) -> SimMarket:
    return next(m for ev in sim.events for m in ev.markets if m.question.startswith(prefix))


def context(rt: Runtime, asset: str) -> dict[str, list[dict]]:
    conn = engine.open_ro(rt.database)
    try:
        return msgspec.to_builtins(markets_for_asset(conn, asset, rt.clock.now_ms()))
    finally:
        conn.close()


async def discover(rt: Runtime, summary: DiscoverySummary | None = None) -> str:
    result = await execute_run(
        rt, "polymarket", "discovery", discovery_job(PolymarketShared.of(rt.config), summary)
    )
    await settle()
    return result.status


async def refresh(rt: Runtime, bucket: Bucket) -> tuple[str, str | None]:
    channel = CHANNEL_OF[bucket]
    result = await execute_run(
        rt, "polymarket", channel, refresh_job(PolymarketShared.of(rt.config), bucket)
    )
    await settle()
    return result.status, result.error


@pytest.mark.engines
async def test_discovery_writes_events_markets_and_links(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    fixtures = FIXTURES / "polymarket"
    sim_kwargs = {"fixtures_dir": fixtures if fixtures.is_dir() else None}
    async with open_pm(make_config, sim_kwargs) as (rt, sim):
        summary = DiscoverySummary()
        assert await discover(rt, summary) == "ok"
        n_events = count(rt, "polymarket_events")
        n_markets = count(rt, "polymarket_markets")
        assert (summary.events, summary.markets) == (n_events, n_markets)
        assert sum(summary.links_per_asset.values()) == count(rt, "polymarket_market_asset_links")
        assert {"BTC", "ETH", "SOL", "HYPE", "XRP"} <= set(summary.links_per_asset)
        # Open and recently closed events; the one closed 20 days ago is outside the window.
        assert links_of(rt, sim_market(sim, "Bitcoin all time high").id) == {"BTC"}
        assert links_of(rt, sim_market(sim, "Will Bitcoin close above").id) == {"BTC"}
        assert not rows(
            rt.database,
            "SELECT 1 FROM polymarket_markets WHERE market_id=?",
            (sim_market(sim, "Will Bitcoin be above").id,),
        )
        for false_friend in ("Will DOGE cut", "Will Sol Campbell", "Will Ethena", "Will the Fed"):
            assert links_of(rt, sim_market(sim, false_friend).id) == set()
        stored = rows(
            rt.database,
            "SELECT * FROM polymarket_markets WHERE market_id=?",
            (sim_market(sim, "Bitcoin all time high").id,),
        )[0]
        assert json.loads(stored["outcomes"]) == ["Yes", "No"] and not stored["closed"]
        assert (
            stored["event_title"].startswith("Bitcoin all time high") and "crypto" in stored["tags"]
        )
        if fixtures.is_dir():  # the recorded open up/down events are discovered and linked
            assert links_of(rt, "1106923") == {"BTC"}
        # A second run changes nothing in size: upserts by natural key.
        assert await discover(rt) == "ok"
        assert count(rt, "polymarket_markets") == n_markets
        assert count(rt, "polymarket_events") == n_events


@pytest.mark.engines
async def test_links_are_recomputed_with_the_terms(
    make_config: Callable[..., Config], tmp_path: Path, autojump_clock: object
) -> None:
    terms = tmp_path / "terms.toml"
    terms.write_text('[assets.BTC]\nterms = ["bitcoin"]\n[assets.SOL]\nterms = ["solana"]\n')
    async with open_pm(make_config, extra=f'terms_file = "{terms}"\n') as (rt, sim):
        sol = sim_market(sim, "Solana all time high").id
        assert await discover(rt) == "ok"
        assert links_of(rt, sol) == {"SOL"}
        stored = "SELECT asset, term FROM polymarket_asset_terms ORDER BY asset"
        assert [(r["asset"], r["term"]) for r in rows(rt.database, stored)] == [
            ("BTC", "bitcoin"),
            ("SOL", "solana"),
        ]
        terms.write_text('[assets.BTC]\nterms = ["bitcoin"]\n')
        assert await discover(rt) == "ok"
        assert links_of(rt, sol) == set()
        assert [(r["asset"], r["term"]) for r in rows(rt.database, stored)] == [("BTC", "bitcoin")]
        assert links_of(rt, sim_market(sim, "Bitcoin all time high").id) == {"BTC"}


@pytest.mark.engines
async def test_a_failing_page_fails_the_run_and_writes_nothing(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config, {"filler_events": 250}) as (rt, sim):
        sim.faults.add("malformed", after=1)  # page 2 of the open events
        assert await discover(rt) == "failed"
        run = rows(rt.database, "SELECT * FROM ingestion_runs WHERE channel='discovery'")[0]
        assert run["status"] == "failed"
        assert "PayloadError" in run["error"] and "page 2" in run["error"]
        for table in ("polymarket_events", "polymarket_markets", "polymarket_market_asset_links"):
            assert count(rt, table) == 0
        assert await discover(rt) == "ok"  # the next run recovers
        assert count(rt, "polymarket_events") > 250


@pytest.mark.engines
async def test_a_market_moves_later_immediate_recently_closed(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config) as (rt, sim):
        m = sim_market(sim, "Bitcoin all time high")  # ends at +40 h, "No" wins an hour later
        t0 = trio.current_time()
        assert await discover(rt) == "ok"
        assert await refresh(rt, "immediate") == ("ok", None)
        assert await refresh(rt, "later") == ("ok", None)
        assert bucket_of(rt.database, m.id) == ["later"]
        assert m.id in {x["market_id"] for x in context(rt, "BTC")["later"]}

        await trio.sleep_until(t0 + 16 * H_S + 600)  # inside the 24 h horizon now
        assert await refresh(rt, "immediate") == ("ok", None)
        assert bucket_of(rt.database, m.id) == ["immediate"]
        assert await refresh(rt, "later") == ("ok", None)  # does not take it back
        assert bucket_of(rt.database, m.id) == ["immediate"]
        item = next(x for x in context(rt, "BTC")["immediate"] if x["market_id"] == m.id)
        assert 0 < item["ends_in_s"] <= 24 * H_S
        assert [o["name"] for o in item["outcomes"]] == ["Yes", "No"]
        assert item["outcomes"][0]["price"] is not None

        await trio.sleep_until(t0 + 40 * H_S + 600)  # ended; Gamma still says open
        assert await refresh(rt, "immediate") == ("ok", None)
        assert bucket_of(rt.database, m.id) == ["recently_closed"]

        await trio.sleep_until(t0 + 41 * H_S + 600)  # closed and resolved
        assert await refresh(rt, "recently_closed") == ("ok", None)
        assert bucket_of(rt.database, m.id) == ["recently_closed"]
        item = next(x for x in context(rt, "BTC")["recently_closed"] if x["market_id"] == m.id)
        assert (item["resolution"], item["winner"]) == ("resolved", "No")
        assert item["outcomes"][1]["price"] == 1.0
        stored = rows(rt.database, "SELECT * FROM polymarket_markets WHERE market_id=?", (m.id,))
        assert stored[0]["closed"] and stored[0]["resolved_outcome"] == 1

        await trio.sleep_until(t0 + (41 + 7 * 24) * H_S + 600)  # past the 7-day window
        assert await refresh(rt, "recently_closed") == ("ok", None)
        assert bucket_of(rt.database, m.id) == []


@pytest.mark.engines
async def test_vanished_markets_leave_the_context_with_a_note(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config) as (rt, sim):
        m = sim_market(sim, "Ethereum all time high")
        assert await discover(rt) == "ok"
        assert await refresh(rt, "later") == ("ok", None)
        assert bucket_of(rt.database, m.id) == ["later"]
        m.archived = True
        status, error = await refresh(rt, "later")
        assert status == "ok" and error is not None and m.id in error
        assert bucket_of(rt.database, m.id) == []


@pytest.mark.engines
async def test_a_failed_refresh_moves_nothing(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config) as (rt, sim):
        m = sim_market(sim, "Solana all time high")
        assert await discover(rt) == "ok"
        assert await refresh(rt, "later") == ("ok", None)
        await trio.sleep(17 * H_S)
        sim.faults.add("500", 10)
        status, error = await refresh(rt, "immediate")
        assert status == "failed" and error is not None and "HTTP 500" in error
        assert bucket_of(rt.database, m.id) == ["later"]


async def test_scheduler_never_overlaps_a_run(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_pm(make_config) as (rt, sim):
        spec = ChannelSpec(
            "polymarket", "discovery", 10.0, discovery_job(PolymarketShared.of(rt.config))
        )
        sim.faults.add("hang", arg=15)  # one slow answer: the run outlasts its cadence
        scheduler = Scheduler(rt, [spec])
        with trio.move_on_after(35):
            await scheduler.run()
        stats = scheduler.stats[("polymarket", "discovery")]
        assert stats.skipped >= 1 and stats.started >= 2
        assert sim.max_in_flight == 1
        await settle()
        runs = rows(rt.database, "SELECT status FROM ingestion_runs WHERE channel='discovery'")
        assert [r["status"] for r in runs if r["status"] != "running"] and all(
            r["status"] in ("ok", "running", "failed") for r in runs
        )


async def test_build_and_registry(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    extra = (
        "[polymarket.channels]\n"
        "discovery = { enabled = true, cadence_s = 120 }\n"
        "immediate_markets = { enabled = true, cadence_s = 30 }\n"
        "later_markets = { cadence_s = 90 }\n"
        "recently_closed = { cadence_s = 240 }\n"
    )
    async with open_pm(make_config, extra=extra) as (rt, _sim):
        specs = build(rt)
        assert [(s.channel, s.cadence_s) for s in specs if isinstance(s, ChannelSpec)] == [
            ("discovery", 120),
            ("immediate_markets", 30),
            ("later_markets", 90),
            ("recently_closed", 240),
        ]
        async with open_sources(rt) as built:
            names = {s.channel for s in built if getattr(s, "source", None) == "polymarket"}
        assert names == {
            "discovery",
            "immediate_markets",
            "later_markets",
            "recently_closed",
        }
        assert rt.clock.now_ms() >= T0_MS and HOUR_MS == 3_600_000
