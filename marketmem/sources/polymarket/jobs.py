"""The Polymarket poll jobs: discovery, and the refresh of one context bucket.

Discovery lists every open event and every event closed within the recently-closed window
(all pages first: a failing page fails the run and publishes nothing), converts them, links
their markets to assets and publishes one ``PolymarketDiscovered``.

A refresh run (immediate / later / recently closed) takes the stored markets its bucket looks
at (``storage.reads.polymarket.placement_candidates``), fetches the fresh state of those that
can still change, classifies every one of them at the run's time and publishes one ``PolymarketRefreshed``: a
market moves between the context tables in one transaction.

The immediate run first lists, the way discovery does, the open events ending within the
horizon, so a market created since the last discovery is not missed: they are stored with
their links through one ``PolymarketDiscovered`` (all pages first, as in discovery) and their
linked markets join the candidates with the state just listed.

Every refresh run works from discovery's stored output. While a discovery run of the same
runtime is under way, or its rows are not committed yet (a first start, ``ingest
polymarket``), a refresh run waits for them, at most one cadence of its channel. Before any
discovery run wrote rows, a later or recently-closed run fails with ``no input:
polymarket/discovery has no data`` (an ok with 0 rows would hide that it had nothing to work
from); an immediate run places what it listed itself, with that as a note, and fails the
same way only with nothing to place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import trio

from marketmem.config import Config
from marketmem.events import (
    PolymarketDiscovered,
    PolymarketMarketRow,
    PolymarketPlacement,
    PolymarketRefreshed,
)
from marketmem.httpclient import RetryPolicy
from marketmem.runs import RunContext
from marketmem.runtime import PollJob, Runtime
from marketmem.sources.polymarket.classify import CHANNEL_OF, Bucket, classify
from marketmem.sources.polymarket.client import Filters, GammaClient, Limiters, Progress
from marketmem.sources.polymarket.config import SECTION
from marketmem.sources.polymarket.convert import (
    Converted,
    asset_terms,
    context_row,
    convert_events,
    market_row,
)
from marketmem.sources.polymarket.matching import Terms, load_terms
from marketmem.sources.polymarket.wire import FieldError, GammaEvent, GammaMarket
from marketmem.storage import engine
from marketmem.storage.errors import CANNOT_OPEN
from marketmem.storage.models.polymarket import Candidate
from marketmem.storage.reads.polymarket import discovery_has_data, iso, placement_candidates

SOURCE = "polymarket"
MAX_NOTES = 5


@dataclass
class DiscoverySummary:
    """What the last discovery run found (for ``discover polymarket``)."""

    events: int = 0
    markets: int = 0
    links_per_asset: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    requests: int = 0


@dataclass
class DiscoveryProgress:
    """Discovery runs under way, and whether one published rows that the database may not
    show yet (the writer commits them a moment later)."""

    running: int = 0
    uncommitted: bool = False


@dataclass
class PolymarketShared:
    """What the Polymarket channels of one opening share: Gamma's rate limiters and the
    progress of discovery (which the refresh channels wait for)."""

    limiters: Limiters
    discovery: DiscoveryProgress = field(default_factory=DiscoveryProgress)

    @classmethod
    def of(cls, config: Config) -> PolymarketShared:
        cfg = SECTION.of(config)
        return cls(Limiters.per_10s(cfg.events_per_10s, cfg.markets_per_10s))


@asynccontextmanager
async def open_client(
    rt: Runtime, shared: PolymarketShared, progress: Progress | None = None
) -> AsyncIterator[GammaClient]:
    cfg = SECTION.of(rt.config)
    async with httpx.AsyncClient(
        timeout=cfg.timeout_s, headers={"user-agent": "marketmem"}
    ) as http:
        yield GammaClient(
            http=http,
            base_url=cfg.gamma_url,
            limiters=shared.limiters,
            page_size=cfg.page_size,
            max_pages=cfg.max_pages,
            policy=RetryPolicy(attempts=cfg.http_attempts),
            progress=progress,
        )


def _note_all(ctx: RunContext, problems: list[str]) -> None:
    for p in problems[:MAX_NOTES]:
        ctx.note(p)
    if len(problems) > MAX_NOTES:
        ctx.note(f"... and {len(problems) - MAX_NOTES} more")


async def discover_events(
    ctx: RunContext, client: GammaClient, queries: list[Filters], terms: Terms, now: int
) -> Converted:
    """List the events of every query (all pages of all queries first: a failing page raises
    and nothing is published), convert them, link their markets and publish them as one
    ``PolymarketDiscovered`` (one transaction), with the asset terms the links were made
    with (search expands by them)."""
    events: list[GammaEvent] = []
    for filters in queries:
        events += await client.list_events(filters)
    conv = convert_events(events, terms, now)
    _note_all(ctx, [str(s) for s in conv.skipped])
    if conv.events or conv.markets:
        await ctx.publish(
            PolymarketDiscovered(
                events=conv.events,
                markets=conv.markets,
                links=conv.links,
                terms=asset_terms(terms),
            )
        )
    return conv


def ending_soon(now: int, horizon_ms: int) -> Filters:
    """Open events ending within the immediate horizon (research/polymarket.md §2.3)."""
    start, end = iso(now), iso(now + horizon_ms)
    assert start is not None and end is not None
    return Filters(
        active=True,
        closed=False,
        archived=False,
        extra=(("end_date_min", start), ("end_date_max", end)),
    )


def discovery_job(
    shared: PolymarketShared,
    summary: DiscoverySummary | None = None,
    progress: Progress | None = None,
) -> PollJob:
    async def run(ctx: RunContext) -> None:
        rt = ctx.rt
        cfg = SECTION.of(rt.config)
        terms = load_terms(cfg.terms_path())
        now = rt.clock.now_ms()
        since = iso(now - int(cfg.recently_closed_window_s * 1000))
        assert since is not None
        discovering = shared.discovery
        discovering.running += 1
        try:
            async with open_client(rt, shared, progress) as client:
                conv = await discover_events(
                    ctx,
                    client,
                    [
                        Filters(active=True, closed=False, archived=False),
                        Filters(
                            active=True,
                            closed=True,
                            archived=False,
                            extra=(("end_date_min", since),),
                        ),
                    ],
                    terms,
                    now,
                )
                requests = client.requests
            discovering.uncommitted |= bool(conv.events or conv.markets)  # published
        finally:
            discovering.running -= 1
        if summary is not None:
            summary.events = len(conv.events)
            summary.markets = len(conv.markets)
            summary.links_per_asset = dict(sorted(Counter(x.asset for x in conv.links).items()))
            summary.skipped = len(conv.skipped)
            summary.requests = requests

    return run


class NoInput(Exception):
    """A run whose input another channel produces, before that channel produced any."""

    expected = True


NO_DISCOVERY = "no input: polymarket/discovery has no data"


# How often a refresh run waiting for discovery's rows looks at the database again.
DISCOVERY_POLL_S = 0.2


def _discovery_has_data(rt: Runtime) -> bool:
    try:
        conn = engine.open_ro(rt.database, busy_timeout_ms=rt.config.storage.busy_timeout_ms)
    except CANNOT_OPEN:
        return False
    try:
        return discovery_has_data(conn)
    finally:
        conn.close()


async def discovery_ready(rt: Runtime, progress: DiscoveryProgress, limit_s: float) -> bool:
    """Whether discovery has produced data; while a discovery run of this runtime is under
    way or its rows are not committed yet, waits for them (at most ``limit_s``)."""
    deadline = trio.current_time() + limit_s
    # One poll for a discovery run started at the same moment (a first start runs every
    # channel at once, in no set order) to register.
    grace = True
    while not _discovery_has_data(rt):
        waiting = grace or progress.running > 0 or progress.uncommitted
        if not waiting or trio.current_time() >= deadline:
            if not progress.running:
                progress.uncommitted = False  # not coming (rejected): do not wait again
            return False
        grace = False
        await trio.sleep(DISCOVERY_POLL_S)
    progress.uncommitted = False
    return True


def _candidates(
    rt: Runtime, bucket: Bucket, now: int, horizon_ms: int, window_ms: int
) -> list[Candidate]:
    # A few indexed reads on a read-only connection; quick enough to run on the trio thread.
    try:
        conn = engine.open_ro(rt.database, busy_timeout_ms=rt.config.storage.busy_timeout_ms)
    except CANNOT_OPEN:
        return []
    try:
        return placement_candidates(
            conn, bucket, now_ms=now, horizon_ms=horizon_ms, window_ms=window_ms
        )
    finally:
        conn.close()


def _changeable(row: PolymarketMarketRow | None) -> bool:
    """Closed markets only change while their resolution is pending."""
    return row is None or not row.closed or row.resolution == "pending"


def refresh_job(shared: PolymarketShared, bucket: Bucket) -> PollJob:
    async def run(ctx: RunContext) -> None:
        rt = ctx.rt
        cfg = SECTION.of(rt.config)
        horizon_ms = int(cfg.immediate_horizon_s * 1000)
        window_ms = int(cfg.recently_closed_window_s * 1000)
        now = rt.clock.now_ms()
        listed: dict[str, PolymarketMarketRow] = {}
        if bucket == "immediate":
            # Markets created since the last discovery that end within the horizon.
            terms = load_terms(cfg.terms_path())
            async with open_client(rt, shared) as client:
                conv = await discover_events(
                    ctx, client, [ending_soon(now, horizon_ms)], terms, now
                )
            linked_ids = {x.market_id for x in conv.links}
            listed = {m.market_id: m for m in conv.markets if m.market_id in linked_ids}
        cadence_s = rt.config.channel(SOURCE, CHANNEL_OF[bucket]).cadence_s
        discovered = await discovery_ready(rt, shared.discovery, limit_s=cadence_s)
        candidates = [
            c
            for c in _candidates(rt, bucket, now, horizon_ms, window_ms)
            if c.market_id not in listed
        ]
        candidates += [Candidate(mid, True, row) for mid, row in listed.items()]
        if not discovered:
            # Later and recently closed markets come from discovery alone; immediate ones
            # also from this run's own listing of its horizon.
            if bucket != "immediate" or not candidates:
                raise NoInput(NO_DISCOVERY)
            ctx.note(f"{NO_DISCOVERY}: placed only markets listed for the horizon")
        wanted = [
            c.market_id
            for c in candidates
            if c.linked and _changeable(c.stored) and c.market_id not in listed
        ]
        fetched: dict[str, GammaMarket] = {}
        if wanted:
            async with open_client(rt, shared) as client:
                fetched = {m.id: m for m in await client.markets_by_id(wanted)}
        wanted_set = set(wanted)
        markets: list[PolymarketMarketRow] = []
        placements: list[PolymarketPlacement] = []
        problems: list[str] = []
        for c in candidates:
            mid, row = c.market_id, c.stored
            if mid in fetched:
                try:
                    row = market_row(fetched[mid], now)
                except FieldError as exc:
                    problems.append(f"market {mid} not refreshed: {exc}")
                    continue
                markets.append(row)
            elif mid in wanted_set:
                problems.append(f"market {mid} not returned by Gamma (archived or removed)")
                row = None
            where: Bucket = "none"
            if row is not None:
                where = classify(
                    linked=c.linked,
                    closed=row.closed,
                    archived=row.archived,
                    end_ms=row.end_ms,
                    closed_time_ms=row.closed_time_ms,
                    now_ms=now,
                    horizon_ms=horizon_ms,
                    window_ms=window_ms,
                )
            placements.append(
                PolymarketPlacement(
                    market_id=mid,
                    bucket=where,
                    at_ms=now,
                    row=context_row(row, now) if row is not None and where != "none" else None,
                )
            )
        _note_all(ctx, problems)
        if markets or placements:
            await ctx.publish(PolymarketRefreshed(markets=markets, placements=placements))

    return run
