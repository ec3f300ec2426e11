"""Helpers of the network fault tests: the three local venues on one clock, configs, reads.

``open_venues`` starts the Hyperliquid, Polymarket and DefiLlama venues on 127.0.0.1, all moved
by one ``TrioWallClock`` (under MockClock their markets move with the test), and
``Venues.config`` points a marketmem config at all three. ``closed_port`` gives a port nothing
listens on (connection refused). ``populate`` fills a database the way the service does (every
channel against its venue) for the API tests.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import ApiTokenCreated, ApiTokensRevoked, CloneSaved, Event
from marketmem.executors import inline_executor
from marketmem.http.auth import issue_token
from marketmem.pipeline import open_pipeline
from marketmem.runtime import ChannelSpec
from marketmem.source import open_sources
from marketmem.storage import db
from marketmem.supervisor import run_channels_once
from marketmem.venues.defillama import DefillamaSimulator, DefillamaVenue, serve_defillama_venue
from marketmem.venues.hyperliquid import HyperliquidVenue
from marketmem.venues.polymarket import Simulator as PolymarketSimulator
from marketmem.venues.polymarket import serve_polymarket_venue
from tests.conftest import T0_MS
from tests.defillama.dl_helpers import SEED as DL_SEED
from tests.defillama.dl_helpers import Llama
from tests.hyperliquid.test_hl_stream import streaming


def closed_port() -> int:
    """A local TCP port with no listener: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class Venues:
    clock: TrioWallClock
    hl: HyperliquidVenue
    pm: PolymarketSimulator
    pm_url: str
    llama: Llama

    def config(
        self,
        extra: str = "",
        *,
        hyperliquid: str = "",
        polymarket: str = "",
        dead: str | None = None,
        **defillama: Any,
    ) -> Config:
        """A config pointed at the three venues. ``hyperliquid``/``polymarket``: lines for those
        sections, ``defillama``: settings of its own; ``extra`` TOML comes last (with its own
        headers); ``dead`` names a source whose URL points at a closed port instead."""
        assert self.hl.address is not None
        refused = f"http://127.0.0.1:{closed_port()}"
        info_url = refused if dead == "hyperliquid" else self.hl.address.info_url
        gamma_url = refused if dead == "polymarket" else self.pm_url
        if dead == "defillama":
            defillama = {**defillama, "api_url": refused + "/api"}
        sections = (
            "[hyperliquid]\n"
            f'info_url = "{info_url}"\n'
            f'ws_url = "{self.hl.address.ws_url}"\n'
            'coins = ["BTC", "ETH", "ATOM"]\n'
            f"{hyperliquid}\n"
            "[polymarket]\n"
            f'gamma_url = "{gamma_url}"\n'
            f"{polymarket}\n{extra}"
        )
        return self.llama.config(sections, **defillama)


@asynccontextmanager
async def open_venues(make_config: Callable[..., Config]) -> AsyncIterator[Venues]:
    """The three venues on 127.0.0.1 for the block, on one wall clock from trio time."""
    clock = TrioWallClock(T0_MS)
    clock.now_ms()  # pin the clock's origin to now
    async with trio.open_nursery() as nursery:
        hl = HyperliquidVenue(clock, seed=7, history_minutes=30)
        await nursery.start(lambda task_status: hl.run(task_status=task_status))
        pm = PolymarketSimulator(clock)
        pm_url = await nursery.start(partial(serve_polymarket_venue, pm))
        dl = DefillamaVenue(simulator=DefillamaSimulator(DL_SEED), clock=clock)
        urls = await nursery.start(partial(serve_defillama_venue, dl))
        try:
            yield Venues(clock, hl, pm, pm_url, Llama(dl, urls, clock, make_config))
        finally:
            nursery.cancel_scope.cancel()


def db_rows(config: Config, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = db.open_ro(config.db_path())
    try:
        return db.query(conn, sql, params)
    finally:
        conn.close()


@asynccontextmanager
async def open_hl_venue() -> AsyncIterator[HyperliquidVenue]:
    """The local Hyperliquid alone (info and WebSocket), on a wall clock from trio time."""
    clock = TrioWallClock(T0_MS)
    clock.now_ms()
    venue = HyperliquidVenue(clock, seed=7, history_minutes=30)
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: venue.run(task_status=task_status))
        try:
            yield venue
        finally:
            nursery.cancel_scope.cancel()


def hl_config(make_config: Callable[..., Config], venue: HyperliquidVenue, extra: str) -> Config:
    assert venue.address is not None
    return make_config(
        "[hyperliquid]\n"
        f'info_url = "{venue.address.info_url}"\n'
        f'ws_url = "{venue.address.ws_url}"\n'
        'coins = ["BTC", "ETH", "ATOM"]\n' + extra
    )


async def wait_until(
    condition: Callable[[], bool], *, limit_s: float = 600, step_s: float = 0.1
) -> float:
    """Poll ``condition`` every ``step_s`` of trio time; returns the time it first held."""
    with trio.fail_after(limit_s):
        while not condition():
            await trio.sleep(step_s)
    return trio.current_time()


# --- a database populated by the real channels, for the API tests ------------------------------

# Poll channels run once, in this order, while the Hyperliquid stream runs.
POPULATE_ORDER = (
    ("hyperliquid", "registry"),
    ("polymarket", "discovery"),
    ("polymarket", "immediate_markets"),
    ("polymarket", "later_markets"),
    ("polymarket", "recently_closed"),
    ("defillama", "capital_base"),
    ("defillama", "capital_flows"),
    ("defillama", "economic_throughput"),
    ("hyperliquid", "technical_indicators"),
    ("hyperliquid", "funding_pressure"),
    ("hyperliquid", "liquidity_profiles"),
    ("hyperliquid", "volatility_profiles"),
    ("hyperliquid", "positioning_pressure"),
)


@dataclass(frozen=True)
class ApiWorld:
    """A database filled by the real channels, its time, and tokens of three users."""

    config: Config
    now_ms: int
    alice: str  # owns clone "c1" (BTC, ETH)
    bob: str  # owns clone "c2" (SOL)
    revoked: str  # carol's token, revoked
    runs: dict[tuple[str, str], str]  # (source, channel) -> status of its run

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


async def populate(make_config: Callable[..., Config], stream_s: float = 240) -> ApiWorld:
    """Run every source against its venue (the stream for ``stream_s``, each poll channel once)
    and add tokens and clones: a database as the service leaves it. Run under MockClock."""
    alice, bob, carol = issue_token(), issue_token(), issue_token()
    runs: dict[tuple[str, str], str] = {}
    async with open_venues(make_config) as v:
        config = v.config()
        async with (
            open_pipeline(config, clock=v.clock, executor=inline_executor) as rt,
            open_sources(rt) as built,
        ):
            specs = {(s.source, s.channel): s for s in built if isinstance(s, ChannelSpec)}
            async with streaming(rt):
                await trio.sleep(stream_s / 2)
                for key in POPULATE_ORDER:
                    # With the actors that feed it (the context poller and feed).
                    (done,) = await run_channels_once(rt, built, [specs[key]])
                    runs[key] = done.status
                    await trio.sleep(1)  # committed before the next channel reads it
                await trio.sleep(stream_s / 2)
            now = v.clock.now_ms()
            events: list[Event] = [
                ApiTokenCreated(
                    token_id=t.token_id, user=user, token_hash=t.token_hash, created_at_ms=now
                )
                for t, user in ((alice, "alice"), (bob, "bob"), (carol, "carol"))
            ]
            events += [
                ApiTokensRevoked(token_id=carol.token_id, revoked_at_ms=now),
                CloneSaved(clone_id="c1", owner="alice", symbols=["BTC", "ETH"], saved_at_ms=now),
                CloneSaved(clone_id="c2", owner="bob", symbols=["SOL"], saved_at_ms=now),
            ]
            for event in events:
                await rt.bus.publish(event)
            await trio.sleep(1)
    return ApiWorld(config, now, alice.token, bob.token, carol.token, runs)
