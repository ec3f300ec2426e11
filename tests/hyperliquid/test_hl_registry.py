"""The registry channel, the readers, and the plug-in running under the supervisor.

What the registry stores and the candle, price and empty-database reads run on both engines
(``engines``); the taxonomy, the plug-in's specs and the supervisor's ``run --local`` (an end
to end run whose storage is covered by those) on SQLite only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import trio

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.events import Candle, CandleBatch, MidBatch, MidPrice, RunFinished
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.runs import execute_run
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.build import build
from marketmem.sources.hyperliquid.registry import registry_batch, registry_job
from marketmem.sources.hyperliquid.resources import open_resources
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from marketmem.sources.hyperliquid.taxonomy import load_taxonomy
from marketmem.storage import db, engine
from marketmem.storage.reads import hyperliquid as reads
from marketmem.storage.reads.runs import channel_health
from marketmem.supervisor import run_service
from marketmem.venues.hyperliquid import HyperliquidVenue
from tests.conftest import T0_MS, fixture_path

M = 60_000


async def run_registry(rt: Runtime) -> RunFinished:
    """One registry run with an info client of its own, as the source opens it."""
    async with open_resources(rt.config) as res:
        return await execute_run(rt, "hyperliquid", "registry", registry_job(res.info))


def ro(rt: Runtime) -> Any:
    return engine.open_ro(rt.database)


@pytest.mark.engines
async def test_registry_run_stores_assets_and_categories(
    hl_rt: Runtime, venue: HyperliquidVenue, autojump_clock: object
) -> None:
    finished = await run_registry(hl_rt)
    assert finished.status == "ok", finished.error
    await trio.sleep(1)
    conn = ro(hl_rt)
    everything = reads.list_assets(conn, include_delisted=True)
    assert [a.coin for a in everything] == [a.name for a in venue.sim.assets]
    matic = next(a for a in everything if a.coin == "MATIC")
    assert matic.asset_index == 3 and matic.is_delisted is True  # keeps its slot
    btc = everything[0]
    assert btc.sz_decimals == 5 and btc.max_leverage == 40 and btc.margin_table_id == 56
    assert json.loads(btc.margin_tiers) == [
        {"lower_bound": "0.0", "max_leverage": 40},
        {"lower_bound": "150000000.0", "max_leverage": 20},
    ]
    # The same text on both engines (PostgreSQL's JSONB comes back with spaces).
    assert btc.margin_tiers == (
        '[{"lower_bound":"0.0","max_leverage":40},{"lower_bound":"150000000.0","max_leverage":20}]'
    )
    assert btc.first_seen_ms == btc.last_seen_ms
    assert (
        "l1" in btc.categories
        and "exchange" in next(a for a in everything if a.coin == "HYPE").categories
    )
    listed = reads.list_assets(conn)
    assert "MATIC" not in {a.coin for a in listed}
    memes = {a.coin for a in reads.list_assets(conn, category="meme")}
    assert memes == {"DOGE", "kPEPE"}
    tax = {t.category_id: t for t in reads.category_taxonomy(conn)}
    assert {"l1", "l2", "defi", "meme", "ai", "gaming", "rwa", "uncategorized"} <= set(tax)
    assert tax["meme"].coins == 2
    conn.close()

    # A second run later keeps first_seen and moves last_seen.
    await trio.sleep(3600)
    assert (await run_registry(hl_rt)).status == "ok"
    await trio.sleep(1)
    conn = ro(hl_rt)
    again = reads.list_assets(conn)[0]
    assert again.first_seen_ms == btc.first_seen_ms
    assert again.last_seen_ms > btc.last_seen_ms
    conn.close()


def test_uncategorized_coins_are_counted() -> None:
    meta = wire.Meta(
        universe=[
            wire.AssetMeta(name="BTC", sz_decimals=5, max_leverage=40),
            wire.AssetMeta(name="NEWCOIN", sz_decimals=1, max_leverage=3),
        ]
    )
    batch, uncategorized, _ = registry_batch(
        meta, load_taxonomy("config/hyperliquid_taxonomy.toml"), 1
    )
    assert uncategorized == ["NEWCOIN"]
    assert ("NEWCOIN", "uncategorized") in {(c.coin, c.category_id) for c in batch.categories}


async def test_registry_notes_uncategorized_in_the_run(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, tmp_path: Any, autojump_clock: object
) -> None:
    tax = tmp_path / "tax.toml"
    tax.write_text('[[category]]\nid = "l1"\nlabel = "L1"\ncoins = ["BTC", "ETH"]\n')
    config = hl_config(f'taxonomy_path = "{tax}"\n')
    async with open_pipeline(config, clock=venue.clock, executor=inline_executor) as rt:
        finished = await run_registry(rt)
    assert finished.status == "ok"
    assert finished.error is not None and finished.error.startswith("6 coin(s) uncategorized: ATOM")


def test_shipped_taxonomy_covers_the_recorded_perps() -> None:
    body = fixture_path("hyperliquid", "info_metaAndAssetCtxs.json").read_bytes()
    meta = msgspec.json.decode(body, type=wire.MetaAndAssetCtxs).meta
    _, uncategorized, unknown = registry_batch(
        meta, load_taxonomy("config/hyperliquid_taxonomy.toml"), 1
    )
    assert uncategorized == []
    # Names in the file that are not perps of the recording are few (newer listings).
    assert len(unknown) <= 5, unknown


async def test_registry_run_fails_on_a_bad_taxonomy(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, tmp_path: Any, autojump_clock: object
) -> None:
    config = hl_config(f'taxonomy_path = "{tmp_path / "missing.toml"}"\n')
    async with open_pipeline(config, clock=venue.clock, executor=inline_executor) as rt:
        finished = await run_registry(rt)
    assert finished.status == "failed" and "cannot read taxonomy" in (finished.error or "")


# --- readers on a database filled directly ---------------------------------------------------


@pytest.fixture
async def filled(config: Config, autojump_clock: object) -> Runtime:
    async with open_pipeline(config, clock=FixedClock(T0_MS), executor=inline_executor) as rt:

        def candle(t: int, close: float, closed: bool, updated: int) -> Candle:
            return Candle(
                coin="BTC",
                interval="1m",
                open_time_ms=t,
                close_time_ms=t + M - 1,
                open=1.0,
                high=2.0,
                low=0.5,
                close=close,
                volume=3.0,
                trades=4,
                closed=closed,
                updated_at_ms=updated,
            )

        await rt.bus.publish(
            CandleBatch(
                rows=[
                    candle(T0_MS - 3 * M, 10.0, True, T0_MS - 2 * M + 5),
                    candle(T0_MS - 2 * M, 11.0, True, T0_MS),
                    candle(T0_MS - M, 12.0, False, T0_MS - 20_000),
                ]
            )
        )
        await rt.bus.publish(
            MidBatch(
                rows=[
                    MidPrice(
                        coin="BTC",
                        bucket_ms=T0_MS - 10_000,
                        price=12.5,
                        observed_at_ms=T0_MS - 9_000,
                    ),
                    MidPrice(
                        coin="ETH",
                        bucket_ms=T0_MS - 10_000,
                        price=3.5,
                        observed_at_ms=T0_MS - 9_000,
                    ),
                ]
            )
        )
    return rt


@pytest.mark.engines
async def test_candle_reads(filled: Runtime, autojump_clock: object) -> None:
    conn = ro(filled)
    all_rows = reads.candles(conn, "BTC", "1m")
    assert [r.close for r in all_rows] == [10.0, 11.0, 12.0]
    assert [r.close for r in reads.candles(conn, "BTC", "1m", limit=2)] == [11.0, 12.0]
    window = reads.candles(conn, "BTC", "1m", start_ms=T0_MS - 2 * M, end_ms=T0_MS - 2 * M)
    assert [r.close for r in window] == [11.0] and window[0].closed is True
    assert reads.candles(conn, "BTC", "1h") == []  # no 1h table yet
    last = reads.last_closed_candle(conn, "BTC")
    assert last is not None and last.close == 11.0
    assert reads.last_closed_candle(conn, "ETH") is None
    with pytest.raises(ValueError, match="interval"):
        reads.candles(conn, "BTC", "5m")
    conn.close()


@pytest.mark.engines
async def test_execution_price_rules(filled: Runtime, autojump_clock: object) -> None:
    conn = ro(filled)
    fresh = reads.execution_price(conn, "BTC", T0_MS, max_mid_age_ms=15_000)
    assert fresh is not None and msgspec.structs.asdict(fresh) == {
        "coin": "BTC",
        "price": 12.5,
        "source": "mid",
        "at_ms": T0_MS - 9_000,
        "age_ms": 9_000,
    }
    stale = reads.execution_price(conn, "BTC", T0_MS + 10_000, max_mid_age_ms=15_000)
    assert stale is not None and stale.source == "candle_close" and stale.price == 12.0
    assert stale.at_ms == T0_MS - 20_000 and stale.age_ms == 30_000
    # No candle at all: the stale mid is all there is.
    eth = reads.execution_price(conn, "ETH", T0_MS + 60_000, max_mid_age_ms=15_000)
    assert eth is not None and eth.source == "mid" and eth.age_ms == 69_000
    assert reads.execution_price(conn, "SOL", T0_MS, max_mid_age_ms=15_000) is None
    conn.close()


@pytest.mark.engines
def test_reads_on_an_empty_database(database: Any) -> None:
    import apsw

    if not engine.is_postgres(database):
        apsw.Connection(str(database)).close()
    conn = engine.open_ro(database)
    assert reads.list_assets(conn) == [] and reads.candles(conn, "BTC", "1m") == []
    assert reads.execution_price(conn, "BTC", T0_MS, max_mid_age_ms=1) is None
    conn.close()


# --- the plug-in -------------------------------------------------------------------------------


async def test_build_returns_registry_stream_and_context_specs(config: Config) -> None:
    from marketmem.bus import Bus

    async with open_resources(config) as res:
        specs = build(Runtime(config=config, bus=Bus()), res)
    kinds = {(type(s).__name__, getattr(s, "channel", None)) for s in specs}
    assert kinds == {("ChannelSpec", "registry"), ("ActorSpec", "candles"), ("ActorSpec", None)}
    actors = {s.name: s for s in specs if isinstance(s, ActorSpec)}
    actor = actors["hyperliquid.stream"]
    assert actor.serves() == ("candles", "mids") and actor.source == "hyperliquid"
    poller = actors["hyperliquid.context"]
    assert poller.source == "hyperliquid"
    assert poller.serves() == ("funding_pressure", "liquidity_profiles", "positioning_pressure")
    chan = next(s for s in specs if isinstance(s, ChannelSpec))
    assert chan.cadence_s == 3600


async def test_local_run_keeps_stream_channels_ok(
    hl_config: Callable[..., Config], venue: HyperliquidVenue, autojump_clock: object
) -> None:
    """``run --local`` against the venue: registry, candles and mids all ok in health."""
    config = hl_config(
        'local_coins = ["ETH", "BTC", "SOL", "DOGE"]\nlocal_max_coins = 2\n'
        "[hyperliquid.channels]\n"
        "registry = { enabled = true, cadence_s = 3600 }\n"
        "candles = { enabled = true, cadence_s = 60 }\n"
        "mids = { enabled = true, cadence_s = 60 }\n"
    )
    async with trio.open_nursery() as nursery:
        rt: Runtime = await nursery.start(
            lambda task_status: run_service(
                config,
                clock=venue.clock,
                executor=inline_executor,
                local=True,
                duration_s=200,
                handle_signals=False,
                http=False,
                task_status=task_status,
            )
        )
    conn = db.open_ro(rt.database)
    health = {
        h.channel: h
        for h in channel_health(conn, config, venue.clock.now_ms())
        if h.source == "hyperliquid"
    }
    for channel in ("registry", "candles", "mids"):
        assert health[channel].status == "ok", health[channel]
    coins = {r["coin"] for r in db.query(conn, "SELECT DISTINCT coin FROM hyperliquid_candles")}
    assert coins == {"ETH", "BTC"}  # local_coins capped at local_max_coins
    conn.close()
    async with open_resources(config) as res:
        stream = HyperliquidStream(rt, res)
    assert rt.local and stream.backoff == (0.2, 2.0)
