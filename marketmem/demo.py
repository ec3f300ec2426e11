"""The offline demo: local venues on 127.0.0.1, a config pointed at them, the whole service.

``run_demo`` starts the three local venues (Hyperliquid WebSocket + ``/info``, Polymarket
Gamma, DefiLlama with a Pro key for bridges), each driven by its deterministic simulator on the
given WallClock, derives a config that enables every channel on short cadences and points every
URL at the venues, runs the supervisor (``run_service``) and the HTTP API on a free port, and
stores a demo user token and a clone ``demo`` through the bus. When the service stops it reads
rows per table and channel health back from the database.

Tests run exactly this under MockClock, so the demo and the tests share one protocol.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial
from typing import Any, TextIO

import msgspec
import trio

from marketmem.bus import Bus
from marketmem.clock import SystemClock, WallClock
from marketmem.config import ChannelConfig, Config
from marketmem.events import ApiTokenCreated, ApiTokensRevoked, CloneSaved, Event
from marketmem.executors import Executor
from marketmem.http.auth import IssuedToken, issue_token
from marketmem.http.feed import bus_feed
from marketmem.http.server import serve_http
from marketmem.runtime import Runtime
from marketmem.sources.defillama.config import SECTION as DEFILLAMA
from marketmem.sources.hyperliquid.config import SECTION as HYPERLIQUID
from marketmem.sources.polymarket.config import SECTION as POLYMARKET
from marketmem.storage import engine
from marketmem.storage.models.runs import ChannelHealth
from marketmem.storage.reads.catalog import table_row_counts
from marketmem.storage.reads.runs import channel_health
from marketmem.supervisor import run_service
from marketmem.telemetry import Telemetry
from marketmem.venues.defillama import (
    DefillamaSimulator,
    DefillamaVenue,
    VenueUrls,
    serve_defillama_venue,
)
from marketmem.venues.hyperliquid import HyperliquidVenue, VenueAddress
from marketmem.venues.polymarket import Simulator as GammaSimulator
from marketmem.venues.polymarket import serve_polymarket_venue

DEMO_DB = "data/demo.db"
DEMO_COINS = ("BTC", "ETH", "SOL", "HYPE")
DEMO_USER = "demo"
DEMO_CLONE = "demo"
# The DefiLlama Pro key the local bridges API accepts (and the demo config sends).
DEMO_BRIDGES_KEY = "demo-pro-key"
DEMO_SEED = 7
# 1-minute history the Hyperliquid venue holds at start. The stream's backfill stores it at
# once: ended hours for the rollup and a full 240-bar window for the 1-minute indicators. The
# hourly and 24 h / 7 d features need days of bars, more than a quick start can simulate.
HISTORY_MINUTES = 300
# Stream channels record one run per window: short, so candles and mids show ok early.
STREAM_RUN_WINDOW_S = 15.0
# Demo cadence of every channel (seconds); each also runs once at start.
DEMO_CADENCES: dict[tuple[str, str], float] = {
    ("hyperliquid", "registry"): 60,
    ("hyperliquid", "candles"): 60,
    ("hyperliquid", "mids"): 60,
    ("hyperliquid", "technical_indicators"): 30,
    ("hyperliquid", "funding_pressure"): 30,
    ("hyperliquid", "liquidity_profiles"): 30,
    ("hyperliquid", "volatility_profiles"): 30,
    ("hyperliquid", "positioning_pressure"): 30,
    ("hyperliquid", "maintenance"): 30,
    ("polymarket", "discovery"): 60,
    ("polymarket", "immediate_markets"): 20,
    ("polymarket", "later_markets"): 20,
    ("polymarket", "recently_closed"): 20,
    ("defillama", "capital_base"): 60,
    ("defillama", "capital_flows"): 60,
    ("defillama", "economic_throughput"): 60,
}
COMMIT_WAIT_S = 30.0
# The banner waits (at most this long) until every channel finished its first run, so it comes
# after the start-up logs rather than among them (the stream channels close their first run
# window after STREAM_RUN_WINDOW_S).
BANNER_WAIT_S = 2 * STREAM_RUN_WINDOW_S
BANNER_POLL_S = 0.5
RULE = "=" * 78


@dataclass(frozen=True)
class DemoVenues:
    """The running venues and the URLs the demo config points at."""

    hyperliquid: HyperliquidVenue
    hyperliquid_address: VenueAddress
    polymarket: GammaSimulator
    gamma_url: str
    defillama: DefillamaVenue
    defillama_urls: VenueUrls


@dataclass(frozen=True)
class DemoAccess:
    port: int | None
    token: IssuedToken

    @property
    def base_url(self) -> str | None:
        return None if self.port is None else f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class DemoSummary:
    """What the demo left in its database: rows per table and every channel's health."""

    database: str
    rows: dict[str, int]
    channels: list[ChannelHealth]


# --- venues ------------------------------------------------------------------------------------


async def serve_demo_venues(
    clock: WallClock,
    *,
    seed: int = DEMO_SEED,
    history_minutes: int = HISTORY_MINUTES,
    task_status: trio.TaskStatus[DemoVenues] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the three venues on 127.0.0.1 until cancelled; reports their ``DemoVenues``."""
    hl = HyperliquidVenue(clock, seed=seed, history_minutes=history_minutes)
    gamma = GammaSimulator(clock, seed=seed)
    llama = DefillamaVenue(
        simulator=DefillamaSimulator(seed), clock=clock, bridges_key=DEMO_BRIDGES_KEY
    )
    async with trio.open_nursery() as nursery:
        address: VenueAddress = await nursery.start(hl.run)
        gamma_url: str = await nursery.start(partial(serve_polymarket_venue, gamma))
        urls: VenueUrls = await nursery.start(partial(serve_defillama_venue, llama))
        task_status.started(DemoVenues(hl, address, gamma, gamma_url, llama, urls))


# --- config ------------------------------------------------------------------------------------


def _channels(section: Any, source: str) -> Any:
    chans = section.channels
    enabled = {
        name: ChannelConfig(enabled=True, cadence_s=DEMO_CADENCES[(source, name)])
        for name in chans.__struct_fields__
    }
    return msgspec.structs.replace(chans, **enabled)


def demo_config(
    base: Config, venues: DemoVenues, *, http_port: int = 0, coins: tuple[str, ...] = DEMO_COINS
) -> Config:
    """``base`` with every channel enabled on demo cadences and every URL on the venues.

    Storage and the rest of ``base`` are kept; the HTTP API binds 127.0.0.1:``http_port``.
    """
    hl = HYPERLIQUID.of(base)
    hl = msgspec.structs.replace(
        hl,
        info_url=venues.hyperliquid_address.info_url,
        ws_url=venues.hyperliquid_address.ws_url,
        coins=list(coins),
        run_window_s=STREAM_RUN_WINDOW_S,
        channels=_channels(hl, "hyperliquid"),
    )
    polymarket = POLYMARKET.of(base)
    pm = msgspec.structs.replace(
        polymarket,
        gamma_url=venues.gamma_url,
        channels=_channels(polymarket, "polymarket"),
    )
    defillama = DEFILLAMA.of(base)
    dl = msgspec.structs.replace(
        defillama,
        api_url=venues.defillama_urls.api_url,
        stablecoins_url=venues.defillama_urls.stablecoins_url,
        bridges_url=venues.defillama_urls.bridges_url,
        api_key=DEMO_BRIDGES_KEY,
        tracked_assets=[],
        channels=_channels(defillama, "defillama"),
    )
    http = msgspec.structs.replace(base.http, enabled=True, bind=f"127.0.0.1:{http_port}")
    return msgspec.structs.replace(base, hyperliquid=hl, polymarket=pm, defillama=dl, http=http)


# --- access: a demo token and clone --------------------------------------------------------------


async def provision_access(
    rt: Runtime, *, user: str = DEMO_USER, clone_id: str = DEMO_CLONE, symbols: list[str]
) -> IssuedToken:
    """Revoke the demo user's earlier tokens, issue a new one, save the clone; each committed
    before the next."""
    now = rt.clock.now_ms()
    issued = issue_token()
    events: list[Event] = [
        ApiTokensRevoked(user=user, revoked_at_ms=now),
        ApiTokenCreated(
            token_id=issued.token_id,
            user=user,
            token_hash=issued.token_hash,
            created_at_ms=now,
        ),
        CloneSaved(clone_id=clone_id, owner=user, symbols=symbols, saved_at_ms=now),
    ]
    assert rt.writer is not None
    with trio.fail_after(COMMIT_WAIT_S):
        for event in events:
            await rt.writer.execute(event)
    return issued


# --- output ------------------------------------------------------------------------------------


def banner(access: DemoAccess, clone_id: str, symbol: str, database: str) -> str:
    """What a new user needs: dashboard URL, the token alone on its line, curl examples."""
    lines = ["", RULE, "marketmem demo: every channel runs against local venues on 127.0.0.1"]
    lines.append(f"  database:  {database}")
    base = access.base_url
    if base is not None:
        lines.append(f"  dashboard: {base}/dashboard")
    lines.append(f"  demo token (user {DEMO_USER}, clone {clone_id}):")
    lines.append(access.token.token)
    if base is not None:
        lines.append("  latest data for one asset:")
        lines.append(
            f'  curl -s -X POST -H "Authorization: Bearer {access.token.token}" '
            f"{base}/api/v1/clones/{clone_id}/assets/{symbol}/latest-data"
        )
        lines.append("  its 1-hour candles (see README, For agents):")
        lines.append(
            f'  curl -s -H "Authorization: Bearer {access.token.token}" '
            f'"{base}/api/v1/candles/{symbol}?interval=1h"'
        )
        lines.append(
            "  live stream of mids, closed candles and channel health (Server-Sent Events):"
        )
        lines.append(
            f'  curl -N -H "Authorization: Bearer {access.token.token}" '
            f'"{base}/api/v1/stream?symbols={symbol}&kinds=mid,candle,health"'
        )
    lines.append("  Ctrl-C stops the demo; service logs follow.")
    lines += [RULE, ""]
    return "\n".join(lines) + "\n"


def _unfinished(config: Config, since_ms: int, now_ms: int) -> list[str]:
    """Enabled channels without a run finished at or after ``since_ms``."""
    summary = read_summary(config, now_ms)
    return [
        f"{c.source}/{c.channel}"
        for c in summary.channels
        if c.enabled and (c.last_finished_at_ms is None or c.last_finished_at_ms < since_ms)
    ]


async def wait_first_runs(
    rt: Runtime, since_ms: int, timeout_s: float = BANNER_WAIT_S
) -> list[str]:
    """Wait (at most ``timeout_s``) until every enabled channel finished a run since
    ``since_ms``; returns those that had not (empty when all had)."""
    pending: list[str] = ["?"]
    with trio.move_on_after(timeout_s):
        while True:
            pending = await rt.executor(_unfinished, rt.config, since_ms, rt.clock.now_ms())
            if not pending:
                break
            await trio.sleep(BANNER_POLL_S)
    return pending


def read_summary(config: Config, now_ms: int) -> DemoSummary:
    path = config.database()
    conn = engine.open_ro(path, busy_timeout_ms=config.storage.busy_timeout_ms)
    try:
        return DemoSummary(
            engine.display(path), table_row_counts(conn), channel_health(conn, config, now_ms)
        )
    finally:
        conn.close()


def format_summary(summary: DemoSummary) -> str:
    lines = [f"demo stopped; database {summary.database}", "rows per table:"]
    width = max((len(t) for t in summary.rows), default=0)
    lines += [f"  {t.ljust(width)}  {n}" for t, n in sorted(summary.rows.items())]
    lines.append("channels:")
    for ch in summary.channels:
        if ch.enabled:
            name = f"{ch.source}/{ch.channel}"
            error = f"  ({ch.error[:80]})" if ch.error and ch.status != "ok" else ""
            lines.append(f"  {name.ljust(36)}  {ch.status}{error}")
    return "\n".join(lines) + "\n"


# --- the demo ----------------------------------------------------------------------------------


async def run_demo(
    config: Config,
    *,
    clock: WallClock | None = None,
    executor: Executor | None = None,
    duration_s: float | None = None,
    http: bool = True,
    http_port: int = 0,
    seed: int = DEMO_SEED,
    handle_signals: bool = True,
    out: TextIO | None = None,
    task_status: trio.TaskStatus[DemoAccess] = trio.TASK_STATUS_IGNORED,
) -> DemoSummary:
    """Venues + service + HTTP until a signal, ``duration_s`` or cancellation; then a summary.

    ``config`` supplies storage and tuning; channels, URLs and the HTTP bind are the demo's.
    ``task_status`` reports the HTTP port and the demo token once both are usable.
    """
    clock = clock or SystemClock()
    started_ms = clock.now_ms()
    stream = out if out is not None else sys.stdout
    async with trio.open_nursery() as outer:
        venues: DemoVenues = await outer.start(partial(serve_demo_venues, clock, seed=seed))
        cfg = demo_config(config, venues, http_port=http_port)
        # The API binds first: a port already taken stops the demo before anything starts.
        # It charts the service's telemetry, made here so both can have it from the start.
        # Telemetry and the live stream's hub are made here, on the bus the service will use,
        # so the API has both from the start.
        telemetry = Telemetry(clock.now_ms())
        bus = Bus()
        port: int | None = None
        feed = None
        if http:
            hub, feed = bus_feed(bus, cfg, clock)
            await outer.start(hub.run)
            serve = partial(serve_http, cfg, clock, telemetry=telemetry, streams=hub)
            port = await outer.start(serve)
        async with trio.open_nursery() as service:
            rt: Runtime = await service.start(
                partial(
                    run_service,
                    cfg,
                    clock=clock,
                    executor=executor,
                    duration_s=duration_s,
                    handle_signals=handle_signals,
                    http=False,
                    telemetry=telemetry,
                    bus=bus,
                )
            )
            if feed is not None:
                outer.start_soon(feed.run)
            coins = HYPERLIQUID.of(cfg).coins
            token = await provision_access(rt, symbols=list(coins))
            access = DemoAccess(port, token)
            pending = await wait_first_runs(rt, started_ms)
            if pending:
                stream.write(f"still waiting for a first run of: {', '.join(pending)}\n")
            stream.write(banner(access, DEMO_CLONE, coins[0], engine.display(cfg.database())))
            stream.flush()
            task_status.started(access)
        # run_service returned: the sources stopped and the writer made its final commit.
        outer.cancel_scope.cancel()
    summary = read_summary(cfg, clock.now_ms())
    stream.write(format_summary(summary))
    stream.flush()
    return summary
