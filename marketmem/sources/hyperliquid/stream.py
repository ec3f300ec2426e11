"""The Hyperliquid stream actor: WebSocket ``candle`` 1m and ``allMids``, with gap backfill.

One actor owns every connection and composes the parts:

- ``planning``: at start it reads ``meta`` and keeps only configured coins that are listed
  perps (an unknown name is refused before anything is sent, a delisted one is skipped), and
  spreads the subscriptions over at most ``ws_max_connections`` sockets
  (``ws_subscriptions_per_connection`` each, ``ws_max_subscriptions`` in all).
- One ``marketmem.wslink.Link`` per socket, speaking Hyperliquid (``protocol``): connect,
  subscribe, wait for the acks, read; ping every ``ws_ping_interval_s``; a link silent for
  ``ws_resubscribe_after_s`` is resubscribed in place, still silent at ``ws_silence_timeout_s``
  it is dead; every failure reconnects after a capped, jittered backoff. Every client message
  draws from one per-minute message budget, every connection from a connects-per-minute
  budget (the process's one ``LinkLimits``).
- ``healer``: whenever a coin's feed may miss pushes (start-up, a lost or silent link, a
  re-plan) its gap opens; it closes when the link is acked again, and the healer fills it with
  ``candleSnapshot``, retried for as long as ``/info`` fails. A gap that failed past
  ``backfill_retry_budget_s`` fails the candles channel's windows until it is healed.
- ``outbox``: candle pushes and snapshot rows both pass through the ``CandleTracker`` (closed
  detection) and are published as ``CandleBatch`` in tracker order (pushes gathered); mids as
  ``MidBatch`` in 5-second buckets.

With ``coins = ["*"]`` the actor re-reads ``meta`` every ``ws_replan_interval_s`` and follows
the listing: the new selection is placed with ``replan_connections`` (delisted coins leave
their socket, new ones fill the sockets with room), and only the connections whose
subscriptions changed reconnect; the reconnect backfills their coins (a new coin like at
start-up), so no other coin gets a gap. The mids filter follows the new listing at once.

Runs are recorded per window (``StreamRunWindow``) for ``candles`` and ``mids``; reconnects
and backfills are noted in them, and a connection that cannot be (re)established fails them.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

import trio

from marketmem.runs import StreamRunWindow, describe_error
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.candles import CandleTracker
from marketmem.sources.hyperliquid.config import SECTION as CONFIG
from marketmem.sources.hyperliquid.healer import GapHealer
from marketmem.sources.hyperliquid.mids import MidFilter, mid_rows
from marketmem.sources.hyperliquid.outbox import Outbox
from marketmem.sources.hyperliquid.planning import (
    CoinSelection,
    candle_coins,
    channels_of,
    plan_connections,
    replan_connections,
    select_coins,
    subscriptions,
)
from marketmem.sources.hyperliquid.protocol import HyperliquidProtocol
from marketmem.sources.hyperliquid.resources import HyperliquidResources
from marketmem.storage import engine
from marketmem.storage.reads import hyperliquid as hyperliquid_reads
from marketmem.wslink import Link, LinkSettings, LinkStatistics

log = logging.getLogger(__name__)

SOURCE = "hyperliquid"
INTERVAL = "1m"


@dataclass
class StreamStatistics(LinkStatistics):
    backfills: int = 0
    backfill_rows: int = 0
    candle_rows: int = 0
    mid_rows: int = 0
    error_frames: list[str] = field(default_factory=list)


class HyperliquidStream:
    """The actor behind the ``hyperliquid/candles`` and ``hyperliquid/mids`` channels."""

    def __init__(
        self,
        rt: Runtime,
        res: HyperliquidResources,
        *,
        candles: bool = True,
        mids: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self.rt = rt
        cfg = CONFIG.of(rt.config)
        self.cfg = cfg
        self.want_candles = candles
        self.want_mids = mids
        self.info = res.info
        self.rng = rng or random.Random()
        self.stats = StreamStatistics()
        self.tracker = CandleTracker(INTERVAL, grace_ms=int(cfg.candle_close_grace_s * 1000))
        self.windows = {
            "candles": StreamRunWindow(rt, SOURCE, "candles", cfg.run_window_s),
            "mids": StreamRunWindow(rt, SOURCE, "mids", cfg.run_window_s),
        }
        self.outbox = Outbox(
            rt,
            self.tracker,
            candles=self.windows["candles"],
            mids=self.windows["mids"],
            stats=self.stats,
        )
        self.healer = GapHealer(
            rt,
            info=self.info,
            tracker=self.tracker,
            outbox=self.outbox,
            window=self.windows["candles"],
            stats=self.stats,
            rng=self.rng,
            enabled=candles,
            on_round=self._check_ready,
        )
        self.gaps = self.healer.gaps
        self.windows["candles"].check = self.healer.overdue
        self.protocol = HyperliquidProtocol(self.stats.error_frames)
        self.limits = res.ws_limits
        if rt.local:
            self.backoff = (cfg.local_backoff_initial_s, cfg.local_backoff_max_s)
        else:
            self.backoff = (cfg.ws_backoff_initial_s, cfg.ws_backoff_max_s)
        self.link_settings = LinkSettings(
            url=cfg.ws_url,
            connect_timeout_s=cfg.info_timeout_s,
            ping_interval_s=cfg.ws_ping_interval_s,
            resubscribe_after_s=cfg.ws_resubscribe_after_s,
            silence_timeout_s=cfg.ws_silence_timeout_s,
            backoff_initial_s=self.backoff[0],
            backoff_max_s=self.backoff[1],
        )
        self.selection: CoinSelection | None = None
        self.mid_filter = MidFilter((), ())
        self.connections: list[list[wire.Subscription]] = []
        # Per running connection loop (by index): its cancel scope (a re-plan restarts it) and
        # an event set once it has ended (its socket closed).
        self._loops: dict[int, tuple[trio.CancelScope, trio.Event]] = {}
        self._nursery: trio.Nursery | None = None
        self.replans = 0
        # Set once every connection has been acked and backfilled once (tests, demo).
        self.ready = trio.Event()
        self._ready_left = 0

    def configured_coins(self) -> list[str]:
        if self.rt.local:
            return list(self.cfg.local_coins[: self.cfg.local_max_coins])
        return list(self.cfg.coins)

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for window in self.windows.values():
                nursery.start_soon(window.run_windows)
            self._nursery = nursery
            await self._plan()
            nursery.start_soon(self.outbox.run_closer)
            nursery.start_soon(self.outbox.run_flusher)
            nursery.start_soon(self.healer.run)
            self._ready_left = len(self.connections)
            if not self.connections:
                self.ready.set()
            for index, subs in enumerate(self.connections):
                self._start_connection(index, subs, "start-up")
            if self.configured_coins() == ["*"]:
                nursery.start_soon(self._replanner)
            task_status.started()

    def _start_connection(self, index: int, subs: list[wire.Subscription], reason: str) -> None:
        """Run connection ``index`` on ``subs``; a loop it replaces is stopped first, and its
        socket closed before the new one opens (never one socket over the cap)."""
        assert self._nursery is not None
        previous = self._loops.pop(index, None)
        if previous is not None:
            previous[0].cancel()
        scope, ended = trio.CancelScope(), trio.Event()
        self._loops[index] = (scope, ended)
        link: Link[wire.Subscription, wire.Frame] = Link(
            self.link_settings,
            self.limits,
            self.protocol,
            subs,
            on_frame=self._on_frame,
            events=_Connection(self, index, subs),
            name=f"hyperliquid ws connection {index}",
            rng=self.rng,
            stats=self.stats,
        )

        async def loop() -> None:
            try:
                with scope:
                    if previous is not None:
                        await previous[1].wait()
                    await link.run(reason)
            finally:
                ended.set()

        self._nursery.start_soon(loop, name=f"hl-ws-{index}")

    def _select(self, meta: wire.Meta) -> CoinSelection:
        cfg = self.cfg
        budget = min(
            cfg.ws_max_subscriptions, cfg.ws_max_connections * cfg.ws_subscriptions_per_connection
        )
        max_coins = budget - (1 if self.want_mids else 0)
        return select_coins(
            self.configured_coins(),
            meta,
            max_coins=max_coins if self.want_candles else 0,
            shard=cfg.coin_shard(),
        )

    def _subscriptions(self, coins: list[str]) -> list[wire.Subscription]:
        return subscriptions(coins, mids=self.want_mids, interval=INTERVAL)

    async def _plan(self) -> None:
        meta = await self.info.meta()
        cfg = self.cfg
        sel = self._select(meta)
        self.selection = sel
        self.mid_filter = MidFilter(sel.perps, cfg.extra_mid_keys)
        if sel.refused:
            msg = (
                f"refused unknown coin(s) {', '.join(sel.refused)}: not in the meta universe "
                "(names are case-sensitive); never subscribed"
            )
            log.error("%s", msg)
            self.windows["candles"].fail(msg)
        if sel.delisted:
            self.windows["candles"].note(f"skipped delisted coin(s) {', '.join(sel.delisted)}")
        if sel.over_cap and self.want_candles:
            self.windows["candles"].note(
                f"{len(sel.over_cap)} coin(s) over the subscription cap not streamed"
            )
        self._load_stored(sel.coins)
        self.connections = plan_connections(
            self._subscriptions(sel.coins),
            per_connection=cfg.ws_subscriptions_per_connection,
            max_connections=cfg.ws_max_connections,
        )
        log.info(
            "hyperliquid stream: %d coin(s) on %d connection(s)%s",
            len(sel.coins),
            len(self.connections),
            " with allMids" if self.want_mids else "",
        )

    async def _replanner(self) -> None:
        """Follow the listing: re-read ``meta`` (shared info client and weight budget)."""
        while True:
            await trio.sleep(self.cfg.ws_replan_interval_s)
            try:
                meta = await self.info.meta()
            except Exception as exc:
                error = describe_error(exc)
                log.warning("hyperliquid stream re-plan skipped: meta failed (%s)", error)
                self.windows["candles"].note(f"re-plan skipped: meta failed: {error}")
                continue
            self._replan(meta)

    def _replan(self, meta: wire.Meta) -> None:
        """Apply a new selection: restart only the connections whose subscriptions changed."""
        old = self.selection
        sel = self._select(meta)
        self.selection = sel
        self.mid_filter = MidFilter(sel.perps, self.cfg.extra_mid_keys)
        old_coins = old.coins if old is not None else []
        added = [c for c in sel.coins if c not in old_coins]
        removed = [c for c in old_coins if c not in sel.coins]
        if not added and not removed:
            return
        self.replans += 1
        msg = (
            f"re-plan: listed {', '.join(added) or 'none'}; delisted {', '.join(removed) or 'none'}"
        )
        log.info("hyperliquid stream %s", msg)
        for window in self.windows.values():
            window.note(msg)
        self._load_stored(added)
        cfg = self.cfg
        before = self.connections
        after = replan_connections(
            before,
            self._subscriptions(sel.coins),
            per_connection=cfg.ws_subscriptions_per_connection,
            max_connections=cfg.ws_max_connections,
        )
        self.connections = after
        for index, subs in enumerate(after):
            if index < len(before) and before[index] == subs:
                continue
            if subs:
                self._start_connection(index, subs, "re-plan")
            elif index in self._loops:
                self._loops.pop(index)[0].cancel()  # every coin on it delisted: closed

    def _load_stored(self, coins: list[str]) -> None:
        """The last closed bar stored per coin, and the gaps an earlier process left."""
        path = self.rt.database
        if not engine.exists(path):
            return
        conn = engine.open_ro(path)
        try:
            for coin in coins:
                row = hyperliquid_reads.last_closed_candle(conn, coin, INTERVAL)
                if row is not None:
                    self.tracker.note_stored_closed(coin, row.open_time_ms)
            self.healer.restore(hyperliquid_reads.candle_gaps(conn), coins)
        finally:
            conn.close()

    def _connection_acked(self) -> None:
        self._ready_left -= 1
        self._check_ready()

    def _check_ready(self) -> None:
        if self._ready_left <= 0 and not self.healer.healing():
            self.ready.set()

    # --- frames -------------------------------------------------------------------------------

    async def _on_frame(self, frame: wire.Frame) -> None:
        """Every decoded frame but acks, from every connection."""
        if isinstance(frame, wire.CandleFrame):
            candles = self.tracker.on_push(frame.data, self.rt.clock.now_ms())
            await self.outbox.publish_candles(candles, push=True)
        elif isinstance(frame, wire.AllMidsFrame):
            if frame.data.dex:
                return
            now = self.rt.clock.now_ms()
            rows = mid_rows(frame.data.mids, self.mid_filter, now, self.cfg.mid_bucket_ms)
            await self.outbox.publish_mids(rows)


class _Connection:
    """What one connection's link going down and coming back means for the stream."""

    def __init__(self, stream: HyperliquidStream, index: int, subs: list[wire.Subscription]):
        self.stream = stream
        self.index = index
        self.coins = candle_coins(subs)
        self.windows = [stream.windows[ch] for ch in channels_of(subs)]

    async def on_down(self, reason: str) -> None:
        await self.stream.healer.link_lost(self.coins, reason)

    async def on_up(self, *, resubscribed: bool) -> None:
        await self.stream.healer.link_back(self.coins)
        if not resubscribed:
            self.stream._connection_acked()

    def on_lost(self, error: str, *, was_up: bool) -> None:
        for window in self.windows:
            if was_up:
                window.note(f"reconnect (connection {self.index}): {error}")
            else:
                window.fail(f"connection {self.index} failed: {error}")

    def on_silent(self, silent_s: float) -> None:
        for window in self.windows:
            window.note(f"resubscribe (connection {self.index}) after {silent_s:.0f}s silent")
