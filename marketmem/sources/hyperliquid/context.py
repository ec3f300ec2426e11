"""The Hyperliquid context poller: the ``/info`` inputs of the snapshot feature channels.

One long-running actor fetches, through the process's one ``InfoClient`` (one weight budget),
what ``funding_pressure``, ``liquidity_profiles`` and ``positioning_pressure`` compute from,
converts it at this boundary (``convert``) and publishes it on the bus as typed events
(``marketmem.events``: ``AssetContexts``, ``PredictedFundings``, ``FundingHistory``,
``L2BookSweep`` + ``L2Book``; a failed fetch as ``ContextUnavailable`` with the error). The
feature runs take them from the bus (``marketmem.features.feed``); nothing here knows them.

Schedule: the ticks of the enabled channels, each at ``origin + k * cadence`` on trio's clock
(drift-free, like ``marketmem.scheduler``, whose channels start at the same instant as this
actor, so the two tick together). The origin is kept across restarts, so a restarted poller
stays in step with the scheduler. At each tick, for the channels due:

- ``metaAndAssetCtxs`` for any of them, unless the last answer is younger than
  ``ctx_max_age_s`` (less ``REUSE_MARGIN_MS``): one answer serves every channel of a tick.
  Failures are not kept: the next tick asks again.
- funding: ``predictedFundings``, then the incremental ``fundingHistory`` refresh
  (``FundingHistories``: 7 days per coin, at most ``funding_history_requests_per_run``
  requests per tick). Skipped when ``metaAndAssetCtxs`` failed (the funding run fails on it).
- liquidity: an ``l2Book`` sweep over the coins, one request every
  ``min(l2_request_spacing_s, 0.8 * cadence / coins)`` (never fired at once, within 80% of
  the cadence); it stops after ``l2_max_consecutive_failures`` failures with no success.

A tick's funding fetch or sweep still going at the next one makes that one a skip, published
as ``ContextUnavailable`` so the run waiting for it fails at once with the reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from marketmem.bus import Policy
from marketmem.clock import HOUR_MS
from marketmem.events import (
    AssetContexts,
    ContextUnavailable,
    ContextWanted,
    Event,
    FundingHistory,
    L2Book,
    L2BookSweep,
    PredictedFundings,
)
from marketmem.features.config import SECTION as FEATURES
from marketmem.runs import describe_error
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid import convert
from marketmem.sources.hyperliquid.config import SECTION, HyperliquidConfig
from marketmem.sources.hyperliquid.info import InfoClient
from marketmem.storage import engine
from marketmem.storage.reads import hyperliquid as hyperliquid_reads

log = logging.getLogger(__name__)

FUNDING = "funding_pressure"
LIQUIDITY = "liquidity_profiles"
POSITIONING = "positioning_pressure"
# The channels this actor serves (it is started when any of them is enabled).
CONTEXT_CHANNELS = (FUNDING, LIQUIDITY, POSITIONING)

# A context this much younger than ctx_max_age_s is reused: a run starting a few ms after
# the tick still finds it younger than ctx_max_age_s.
REUSE_MARGIN_MS = 1_000
# Share of the liquidity cadence one sweep's requests are spread over at most.
SWEEP_SHARE = 0.8
# Ticks of different cadences closer than this (seconds) are one tick.
SAME_TICK_S = 1e-6
# A channel ticked this recently (ms) is not ticked again, on schedule or on demand.
RECENT_TICK_MS = 1_000
WANTED_BUFFER = 64

# The window of funding history held per coin.
FUNDING_WINDOW_MS = 7 * 24 * HOUR_MS
# A settlement lands a few ms to a couple of minutes after the hour.
SETTLE_GRACE_MS = 120_000
# A coin whose fetch failed (or found nothing new) is not retried sooner than this.
RETRY_AFTER_MS = 600_000
MAX_CONSECUTIVE_FAILURES = 3


# --- pure parts --------------------------------------------------------------------------------


def tracked_coins(cfg: HyperliquidConfig, local: bool) -> list[str] | None:
    """The coins the service tracks; None for every listed perp (``["*"]``)."""
    coins = cfg.local_coins[: cfg.local_max_coins] if local else cfg.coins
    return None if "*" in coins else list(coins)


@dataclass(frozen=True)
class ContextSchedule:
    """When the poller ticks: channel -> cadence (s) of the enabled channels it serves."""

    cadences: dict[str, float]

    def next_tick(self, origin: float, after: float) -> tuple[float, frozenset[str]]:
        """The first tick strictly after ``after`` (ticks fall at ``origin + k * cadence``),
        and the channels due at it. Ticks missed before ``after`` are skipped."""
        if not self.cadences:
            raise ValueError("no channel to tick for")
        times: dict[str, float] = {}
        for name, cadence in self.cadences.items():
            # The slack keeps a tick computed as origin + k * cadence from coming back.
            k = 0 if after < origin else math.floor((after - origin) / cadence + 1e-9) + 1
            times[name] = origin + k * cadence
        t = min(times.values())
        return t, frozenset(n for n, at in times.items() if at - t <= SAME_TICK_S)


def sweep_spacing(spacing_s: float, cadence_s: float, coins: int) -> float:
    """Seconds between two ``l2Book`` requests of one sweep."""
    return min(spacing_s, SWEEP_SHARE * cadence_s / max(1, coins))


def _expected(exc: BaseException) -> bool:
    """Errors of the outside world (HTTP, payloads, unknown coins) rather than of this code."""
    return getattr(exc, "expected", False) is True or isinstance(exc, LookupError)


# --- funding history ---------------------------------------------------------------------------


class FundingHistories:
    """Per-coin hourly funding of the last 7 days, fetched incrementally.

    A coin is due when it has no history or a newer hour has settled; at most ``max_requests``
    coins are fetched per refresh (each request weighs 20+), those without any history first.
    """

    def __init__(self) -> None:
        self.points: dict[str, list[tuple[int, float]]] = {}
        self._attempted: dict[str, int] = {}

    def due(self, coins: list[str], now_ms: int) -> list[str]:
        """Coins whose history should be fetched now, most needed first."""
        out: list[tuple[int, int, str]] = []
        for coin in coins:
            if now_ms - self._attempted.get(coin, -RETRY_AFTER_MS) < RETRY_AFTER_MS:
                continue
            pts = self.points.get(coin)
            if pts is None:
                out.append((0, 0, coin))
            elif not pts or now_ms - pts[-1][0] > HOUR_MS + SETTLE_GRACE_MS:
                out.append((1, pts[-1][0] if pts else 0, coin))
        out.sort()
        return [c for _, _, c in out]

    async def refresh(
        self, client: InfoClient, coins: list[str], now_ms: int, max_requests: int
    ) -> dict[str, str]:
        """Fetch what is due (at most ``max_requests`` coins); returns coin -> error.

        Stops after ``MAX_CONSECUTIVE_FAILURES`` failures in a row: the endpoint is down, and
        every further request would only wait out its retries.
        """
        failures: dict[str, str] = {}
        since = now_ms - FUNDING_WINDOW_MS
        in_a_row = 0
        for coin in self.due(coins, now_ms)[:max_requests]:
            if in_a_row >= MAX_CONSECUTIVE_FAILURES:
                break
            self._attempted[coin] = now_ms
            held = self.points.get(coin) or []
            start = held[-1][0] + 1 if held else since
            try:
                rows = await client.funding_history(coin, start, now_ms)
            except Exception as exc:
                failures[coin] = describe_error(exc)
                in_a_row += 1
                if not _expected(exc):
                    log.error("fundingHistory %s: %s", coin, failures[coin], exc_info=exc)
                continue
            in_a_row = 0
            fresh = [p for p in convert.funding_points(rows) if not held or p[0] > held[-1][0]]
            self.points[coin] = [p for p in held + fresh if p[0] >= since]
        return failures

    def history(self, coin: str) -> list[tuple[int, float]] | None:
        return self.points.get(coin)


# --- the actor ---------------------------------------------------------------------------------


@dataclass
class ContextStatistics:
    ticks: int = 0
    ctx_fetches: int = 0
    ctx_reused: int = 0
    sweeps: int = 0
    skipped: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class ContextPoller:
    """The actor behind the inputs of funding_pressure, liquidity_profiles and
    positioning_pressure. Built once per process; ``run`` may be restarted and keeps the
    schedule's origin, the funding histories and the last context."""

    def __init__(self, rt: Runtime, info: InfoClient) -> None:
        self.rt = rt
        self.cfg = FEATURES.of(rt.config)
        chans = {name: rt.config.channel("hyperliquid", name) for name in CONTEXT_CHANNELS}
        self.schedule = ContextSchedule(
            {name: chans[name].cadence_s for name in CONTEXT_CHANNELS if chans[name].enabled}
        )
        self.liquidity_cadence_s: float = chans["liquidity_profiles"].cadence_s
        self.coins = tracked_coins(SECTION.of(rt.config), rt.local)
        self._info = info
        self.histories = FundingHistories()
        self.stats = ContextStatistics()
        self._origin: float | None = None
        self._ctx_lock = trio.Lock()
        self._contexts: AssetContexts | None = None
        # Fetches ("funding", "l2Book") whose tick is still going.
        self._busy: set[str] = set()
        # Channel -> wall time of its last tick (scheduled or wanted).
        self._ticked_ms: dict[str, int] = {}
        # NOTE: subscribed at build time, so a run's request made while the actor (re)starts
        # waits in the queue; drop-oldest: a request is re-made by the run that waits on it.
        self._wanted = rt.bus.subscribe(
            "hyperliquid.context-wanted",
            [ContextWanted],
            buffer=WANTED_BUFFER,
            policy=Policy.DROP_OLDEST,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        now = trio.current_time()
        async with trio.open_nursery() as nursery:
            task_status.started()
            nursery.start_soon(self._serve_wanted, nursery)
            if not self.schedule.cadences:
                log.info("context poller: no feature channel enabled; fetching on demand only")
                return
            if self._origin is None:
                self._origin = now
                t, due = now, frozenset(self.schedule.cadences)
            else:
                t, due = self.schedule.next_tick(self._origin, now)
            log.info(
                "context poller: %s, every %s s",
                ", ".join(sorted(self.schedule.cadences)),
                "/".join(f"{c:g}" for c in sorted(set(self.schedule.cadences.values()))),
            )
            while True:
                await trio.sleep_until(t)
                self._start_tick(nursery, due)
                t, due = self.schedule.next_tick(self._origin, trio.current_time())

    def _start_tick(self, nursery: trio.Nursery, channels: frozenset[str]) -> None:
        """Tick for ``channels``, leaving out those ticked within ``RECENT_TICK_MS``."""
        now_ms = self.rt.clock.now_ms()
        due = frozenset(
            c for c in channels if now_ms - self._ticked_ms.get(c, -RECENT_TICK_MS) > RECENT_TICK_MS
        )
        if not due:
            return
        for channel in due:
            self._ticked_ms[channel] = now_ms
        self.stats.ticks += 1
        nursery.start_soon(self._tick, now_ms, due)

    async def _serve_wanted(self, nursery: trio.Nursery) -> None:
        """Tick at once for a run that found no inputs of its own tick."""
        async for event in self._wanted:
            assert isinstance(event, ContextWanted)
            if event.channel in CONTEXT_CHANNELS:
                self._start_tick(nursery, frozenset({event.channel}))

    async def _tick(self, tick_ms: int, due: frozenset[str]) -> None:
        snap = await self._asset_contexts(tick_ms)
        async with trio.open_nursery() as nursery:
            if FUNDING in due:
                kinds = (PredictedFundings.KIND, FundingHistory.KIND)
                nursery.start_soon(self._once, "funding", kinds, self._funding, tick_ms, snap)
            if LIQUIDITY in due:
                nursery.start_soon(self._once, "l2Book", (L2Book.KIND,), self._sweep, tick_ms, snap)

    async def _once(
        self,
        name: str,
        kinds: tuple[str, ...],
        fetch: Callable[[int, AssetContexts | None], Awaitable[None]],
        tick_ms: int,
        snap: AssetContexts | None,
    ) -> None:
        """Run ``fetch`` unless the previous tick's is still going (then publish the skip)."""
        if name in self._busy:
            self.stats.skipped += 1
            error = f"skipped: the previous {name} fetch is still going"
            log.warning("context poller: %s", error)
            for kind in kinds:
                await self._publish(ContextUnavailable(tick_ms=tick_ms, kind=kind, error=error))
            return
        self._busy.add(name)
        try:
            await fetch(tick_ms, snap)
        finally:
            self._busy.discard(name)

    async def _publish(self, event: Event) -> None:
        kind = event.kind if isinstance(event, ContextUnavailable) else type(event).__name__
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        await self.rt.bus.publish(event)

    async def _unavailable(
        self, tick_ms: int, kind: str, exc: Exception, *, coin: str = ""
    ) -> None:
        error = describe_error(exc)
        what = f"{kind} {coin}" if coin else kind
        if _expected(exc):
            log.warning("context poller: %s unavailable: %s", what, error)
        else:
            log.error("context poller: %s unavailable: %s", what, error, exc_info=exc)
        await self._publish(ContextUnavailable(tick_ms=tick_ms, kind=kind, coin=coin, error=error))

    async def _asset_contexts(self, tick_ms: int) -> AssetContexts | None:
        """This tick's ``metaAndAssetCtxs`` (fetched, or the last one while young enough)."""
        async with self._ctx_lock:
            last = self._contexts
            max_age_ms = self.cfg.ctx_max_age_s * 1000 - REUSE_MARGIN_MS
            if last is not None and tick_ms - last.tick_ms < max_age_ms:
                self.stats.ctx_reused += 1
                return last
            try:
                answer = await self._info.meta_and_asset_ctxs()
                by_coin, delisted = convert.asset_ctx_snapshots(answer, tick_ms)
            except Exception as exc:
                await self._unavailable(tick_ms, AssetContexts.KIND, exc)
                return None
            self.stats.ctx_fetches += 1
            event = AssetContexts(tick_ms=tick_ms, by_coin=by_coin, delisted=frozenset(delisted))
            self._contexts = event
            await self._publish(event)
            return event

    async def _funding(self, tick_ms: int, snap: AssetContexts | None) -> None:
        if snap is None:
            return  # the funding run fails on metaAndAssetCtxs: nothing else is fetched for it
        client = self._info
        try:
            predicted = convert.predicted_fundings(await client.predicted_fundings())
        except Exception as exc:
            await self._unavailable(tick_ms, PredictedFundings.KIND, exc)
        else:
            await self._publish(PredictedFundings(tick_ms=tick_ms, by_coin=predicted))
        coins = self.coins if self.coins is not None else sorted(snap.by_coin)
        listed = [c for c in coins if c in snap.by_coin]
        # As of the context it goes with (the same instant unless the context was reused).
        failures = await self.histories.refresh(
            client, listed, snap.tick_ms, self.cfg.funding_history_requests_per_run
        )
        await self._publish(
            FundingHistory(tick_ms=tick_ms, points=dict(self.histories.points), failures=failures)
        )

    async def _sweep(self, tick_ms: int, snap: AssetContexts | None) -> None:
        coins = self.coins
        if coins is None:
            coins = sorted(snap.by_coin) if snap is not None else self._registry_perps()
        self.stats.sweeps += 1
        await self._publish(L2BookSweep(tick_ms=tick_ms, coins=coins))
        client = self._info
        spacing = sweep_spacing(self.cfg.l2_request_spacing_s, self.liquidity_cadence_s, len(coins))
        t0 = trio.current_time()
        consecutive = 0
        fetched = 0
        for i, coin in enumerate(coins):
            await trio.sleep_until(t0 + i * spacing)
            try:
                answer = await client.l2_book(coin)
                if answer is None:
                    raise LookupError("l2Book answered null (unknown coin)")
                event = L2Book(tick_ms=tick_ms, book=convert.book(answer))
            except Exception as exc:
                await self._unavailable(tick_ms, L2Book.KIND, exc, coin=coin)
                consecutive += 1
                if consecutive >= self.cfg.l2_max_consecutive_failures and not fetched:
                    log.warning(
                        "context poller: l2Book failed for the first %d coin(s); sweep stopped",
                        consecutive,
                    )
                    return
                continue
            consecutive = 0
            fetched += 1
            await self._publish(event)

    def _registry_perps(self) -> list[str]:
        """Listed perps as the registry stored them (``coins = ["*"]`` without a context).

        A small synchronous read, like the stream's start-up read."""
        path = self.rt.database
        if not engine.exists(path):
            return []
        conn = engine.open_ro(path)
        try:
            return sorted(a.coin for a in hyperliquid_reads.list_assets(conn))
        finally:
            conn.close()
