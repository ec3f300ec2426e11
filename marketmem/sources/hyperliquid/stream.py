"""The Hyperliquid stream actor: WebSocket ``candle`` 1m and ``allMids``, with gap backfill.

One actor owns every connection. At start it reads ``meta`` and keeps only configured coins
that are listed perps: an unknown name is refused before anything is sent (the venue drops the
whole socket on one), a delisted one is skipped. Subscriptions are spread over at most
``ws_max_connections`` sockets (``ws_subscriptions_per_connection`` each, ``ws_max_subscriptions``
in all) and every client message (subscribe, ping) draws from one per-minute message budget;
new connections draw from a connects-per-minute budget.

Each connection loops: connect, subscribe one frame per subscription, wait for every ack
(matched by meaning: type, coin, interval), then read. It pings every ``ws_ping_interval_s``.
A link silent (no data, no pong) for ``ws_resubscribe_after_s`` first gets every subscription
sent again on the same socket. Still silent at ``ws_silence_timeout_s`` it is dead. Any failure
closes it and the loop reconnects after a capped, jittered exponential backoff and subscribes
everything again.

Gaps (see ``gaps``): whenever a coin's feed may miss pushes (start-up, a lost or silent link, a
re-plan) its gap opens at the latest bar known; it closes when the link is acked again. The
healer task, apart from every socket, fills each closed gap with ``candleSnapshot`` and keeps
it, retried with capped backoff inside the shared weight budget, for as long as ``/info``
fails, whatever the sockets do meanwhile. Every change is stored (``hyperliquid_candle_gaps``),
so a process started later heals what an earlier one left. A gap that failed
``backfill_retry_budget`` attempts fails the candles channel's windows until it is healed.

With ``coins = ["*"]`` the actor re-reads ``meta`` every ``ws_replan_interval_s`` and follows
the listing: the new selection is placed with ``replan_connections`` (delisted coins leave
their socket, new ones fill the sockets with room), and only the connections whose
subscriptions changed reconnect; the reconnect backfills their coins (a new coin like at
start-up), so no other coin gets a gap. The mids filter follows the new listing at once.

Candle pushes and snapshot rows both pass through the ``CandleTracker`` (closed detection) and
are published as ``CandleBatch`` on the bus in tracker order (rows of pushes wait up to
``PUSH_GATHER_S`` to share one batch: an event per push cost more than decoding it); mids as
``MidBatch`` in 5-second buckets. Runs are recorded per window (``StreamRunWindow``) for
``candles`` and ``mids``; reconnects and backfills are noted in them, and a connection that
cannot be (re)established fails them.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field

import msgspec
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from marketmem import metrics
from marketmem.events import (
    Candle,
    CandleBatch,
    CandleGap,
    CandleGapBatch,
    CandleGapsHealed,
    MidBatch,
)
from marketmem.runs import StreamRunWindow, describe_error
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.budget import spend
from marketmem.sources.hyperliquid.candles import CandleTracker
from marketmem.sources.hyperliquid.config import SECTION as CONFIG
from marketmem.sources.hyperliquid.gaps import Gap, GapBook, minute_of, retry_delay_s
from marketmem.sources.hyperliquid.mids import MidFilter, mid_rows
from marketmem.sources.hyperliquid.resources import HyperliquidResources
from marketmem.storage import db
from marketmem.storage.reads import hyperliquid as hyperliquid_reads

log = logging.getLogger(__name__)

SOURCE = "hyperliquid"
INTERVAL = "1m"
MINUTE_MS = 60_000
ACK_TIMEOUT_S = 15.0
CLOSE_CHECK_S = 1.0
BACKFILL_RETRY_INITIAL_S = 1.0
# A session that got all its acks resets the reconnect backoff.
MESSAGE_QUEUE = 4096
# Rows of candle pushes are published together: at most this late, or once this many.
PUSH_GATHER_S = 0.002
PUSH_BATCH_ROWS = 1000
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


GAPS_PENDING = metrics.REGISTRY.gauge(
    "marketmem_candle_gaps_pending",
    "Candle gaps waiting for a candleSnapshot backfill, by coin",
    ("coin",),
)
GAP_OLDEST_AGE = metrics.REGISTRY.gauge(
    "marketmem_candle_gap_oldest_age_seconds",
    "Seconds since the oldest pending candle gap was detected (0: none pending)",
)


class DeadLink(Exception):
    """No frame (data or pong) within the silence timeout."""

    expected = True


class SubscribeTimeout(Exception):
    """Subscriptions not acknowledged in time."""

    expected = True


class VenueError(Exception):
    """An ``error`` frame that makes the connection useless (limits)."""

    expected = True


# --- planning (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CoinSelection:
    coins: list[str]  # listed perps to stream, in config (or universe) order
    refused: list[str]  # names not in the universe: never subscribed
    delisted: list[str]  # in the universe but delisted: skipped
    over_cap: list[str]  # beyond the subscription cap
    perps: list[str]  # every listed perp (mids filter)


def select_coins(configured: list[str], meta: wire.Meta, *, max_coins: int) -> CoinSelection:
    """Configured coins checked against the live universe (``["*"]``: every listed perp)."""
    listed = [a.name for a in meta.universe if not a.is_delisted]
    delisted_names = {a.name for a in meta.universe if a.is_delisted}
    wanted = listed if configured == ["*"] else list(dict.fromkeys(configured))
    known = set(listed)
    coins = [c for c in wanted if c in known]
    refused = [c for c in wanted if c not in known and c not in delisted_names]
    delisted = [c for c in wanted if c in delisted_names]
    over = coins[max_coins:] if max_coins >= 0 else []
    return CoinSelection(coins[: max(0, max_coins)], refused, delisted, over, listed)


def plan_connections(
    subs: list[wire.Subscription], *, per_connection: int, max_connections: int
) -> list[list[wire.Subscription]]:
    """Spread subscriptions round-robin over as few sockets as the per-socket cap allows."""
    if not subs:
        return []
    n = min(max_connections, max(1, math.ceil(len(subs) / per_connection)))
    return [subs[i::n] for i in range(n)]


def replan_connections(
    current: list[list[wire.Subscription]],
    subs: list[wire.Subscription],
    *,
    per_connection: int,
    max_connections: int,
) -> list[list[wire.Subscription]]:
    """``subs`` placed with the least change to ``current``: kept subscriptions stay on their
    socket, dropped ones leave it (a socket may end up empty: closed), new ones go to the
    emptiest socket with room, then to new sockets up to ``max_connections``."""
    wanted = {s.key() for s in subs}
    out = [[s for s in conn if s.key() in wanted] for conn in current]
    placed = {s.key() for conn in out for s in conn}
    for sub in subs:
        if sub.key() in placed:
            continue
        room = [conn for conn in out if len(conn) < per_connection]
        if room:
            min(room, key=len).append(sub)
        elif len(out) < max_connections:
            out.append([sub])
        else:
            continue  # over the cap (select_coins already keeps within it)
        placed.add(sub.key())
    return out


def backoff_s(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: uniform in [0.5, 1] x min(max, initial x 2^n)."""
    return min(max_s, initial_s * 2 ** min(attempt, 30)) * rng.uniform(0.5, 1.0)


# --- the actor -----------------------------------------------------------------------------------


@dataclass
class StreamStatistics:
    connects: int = 0
    reconnects: int = 0
    backfills: int = 0
    backfill_rows: int = 0
    candle_rows: int = 0
    mid_rows: int = 0
    frames: int = 0
    bad_frames: int = 0
    error_frames: list[str] = field(default_factory=list)
    subscribed: int = 0
    resubscribes: int = 0


@dataclass
class _Link:
    ws: WebSocketConnection
    last_rx: float
    pending: set[tuple[str, str | None, str | None, str | None]]
    sent: trio.Event = field(default_factory=trio.Event)
    acked: trio.Event = field(default_factory=trio.Event)
    # Set by every frame received; renewed when a silence makes us resubscribe.
    heard: trio.Event = field(default_factory=trio.Event)
    # ``last_rx`` of the silence already answered by a resubscribe (one per silence).
    resubscribed_for: float | None = None


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
        self.tracker = CandleTracker(INTERVAL, grace_ms=int(cfg.candle_close_grace_s * 1000))
        self.windows = {
            "candles": StreamRunWindow(
                rt, SOURCE, "candles", cfg.run_window_s, check=self._gaps_overdue
            ),
            "mids": StreamRunWindow(rt, SOURCE, "mids", cfg.run_window_s),
        }
        self.gaps = GapBook(cfg.backfill_max_bars)
        self._gaps_changed = trio.Event()
        self.messages = res.ws_messages
        self.connects = res.ws_connects
        if rt.local:
            self.backoff = (cfg.local_backoff_initial_s, cfg.local_backoff_max_s)
        else:
            self.backoff = (cfg.ws_backoff_initial_s, cfg.ws_backoff_max_s)
        self.stats = StreamStatistics()
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
        # Candle rows not yet published, in tracker order; the flusher publishes pushes.
        self._outbox: list[Candle] = []
        self._outbox_due = trio.Event()

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
            nursery.start_soon(self._clock_closer)
            nursery.start_soon(self._push_flusher)
            nursery.start_soon(self._healer)
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

        async def loop() -> None:
            try:
                with scope:
                    if previous is not None:
                        await previous[1].wait()
                    await self._connection_loop(index, subs, reason)
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
            self.configured_coins(), meta, max_coins=max_coins if self.want_candles else 0
        )

    def _subscriptions(self, coins: list[str]) -> list[wire.Subscription]:
        subs: list[wire.Subscription] = []
        if self.want_mids:
            subs.append(wire.all_mids_subscription())
        subs.extend(wire.candle_subscription(c, INTERVAL) for c in coins)
        return subs

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
        self._load_stored_closed(sel.coins)
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
        self._load_stored_closed(added)
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

    def _load_stored_closed(self, coins: list[str]) -> None:
        """The last closed bar stored per coin, and the gaps an earlier process left."""
        path = self.rt.db_path
        if not path.exists():
            return
        conn = db.open_ro(path)
        try:
            for coin in coins:
                row = hyperliquid_reads.last_closed_candle(conn, coin, INTERVAL)
                if row is not None:
                    self.tracker.note_stored_closed(coin, row.open_time_ms)
            wanted = set(coins)
            for g in hyperliquid_reads.candle_gaps(conn):
                if g.coin in wanted:
                    self.gaps.restore(
                        Gap(
                            coin=g.coin,
                            first_ms=g.first_open_ms,
                            last_ms=None,  # the link is down until this process is acked
                            reason=g.reason,
                            detected_at_ms=g.detected_at_ms,
                            attempts=g.attempts,
                            last_error=g.last_error,
                        )
                    )
        finally:
            conn.close()

    # --- one connection ------------------------------------------------------------------------

    async def _connection_loop(
        self, index: int, subs: list[wire.Subscription], reason: str = "start-up"
    ) -> None:
        channels = self._channels_of(subs)
        coins = _candle_coins(subs)
        attempt = 0
        await self._link_lost(coins, reason)
        while True:
            await spend(self.connects)
            link_up = [False]
            try:
                await self._session(index, subs, reason, link_up)
                error = "connection ended"
            except Exception as exc:
                error = describe_error(exc)
            await self._link_lost(coins, "reconnect")
            if link_up[0]:
                attempt = 0
                for ch in channels:
                    self.windows[ch].note(f"reconnect (connection {index}): {error}")
            else:
                for ch in channels:
                    self.windows[ch].fail(f"connection {index} failed: {error}")
            self.stats.reconnects += 1
            delay = backoff_s(attempt, *self.backoff, self.rng)
            attempt += 1
            log.warning(
                "hyperliquid ws connection %d lost (%s); reconnecting in %.1fs", index, error, delay
            )
            reason = "reconnect"
            await trio.sleep(delay)

    def _channels_of(self, subs: list[wire.Subscription]) -> list[str]:
        out = []
        if any(s.type == "candle" for s in subs):
            out.append("candles")
        if any(s.type == "allMids" for s in subs):
            out.append("mids")
        return out

    async def _session(
        self, index: int, subs: list[wire.Subscription], reason: str, link_up: list[bool]
    ) -> None:
        async with open_websocket_url(
            self.cfg.ws_url,
            message_queue_size=MESSAGE_QUEUE,
            max_message_size=MAX_MESSAGE_BYTES,
            connect_timeout=self.cfg.info_timeout_s,
            disconnect_timeout=2.0,
        ) as ws:
            self.stats.connects += 1
            link = _Link(ws, trio.current_time(), {s.key() for s in subs})
            coins = _candle_coins(subs)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watchdog, link, index, subs, nursery)
                nursery.start_soon(self._pinger, ws)
                nursery.start_soon(self._subscribe, link, subs)
                nursery.start_soon(self._after_acks, link, coins, reason, link_up)
                await self._receive(link)

    async def _subscribe(self, link: _Link, subs: list[wire.Subscription]) -> None:
        # One frame per subscription, paced by the per-IP message budget.
        for sub in subs:
            await spend(self.messages)
            await link.ws.send_message(wire.encode_subscribe(sub).decode())
        self.stats.subscribed += len(subs)
        link.sent.set()

    async def _pinger(self, ws: WebSocketConnection) -> None:
        while True:
            await trio.sleep(self.cfg.ws_ping_interval_s)
            await spend(self.messages)
            await ws.send_message(wire.PING_FRAME.decode())

    async def _watchdog(
        self, link: _Link, index: int, subs: list[wire.Subscription], nursery: trio.Nursery
    ) -> None:
        """Escalate a silence: resubscribe in place first, then declare the link dead."""
        timeout = self.cfg.ws_silence_timeout_s
        resubscribe_s = self.cfg.ws_resubscribe_after_s
        while True:
            silent_since = link.last_rx
            if trio.current_time() >= silent_since + timeout:
                raise DeadLink(f"no frame for {timeout:.0f}s: dead link")
            due = resubscribe_s < timeout and link.resubscribed_for != silent_since
            if due and trio.current_time() >= silent_since + resubscribe_s:
                link.resubscribed_for = silent_since
                nursery.start_soon(self._resubscribe, link, index, subs)
                continue
            await trio.sleep_until(silent_since + (resubscribe_s if due else timeout))

    async def _resubscribe(self, link: _Link, index: int, subs: list[wire.Subscription]) -> None:
        """Send every subscription again on this socket; once anything comes back (an ack, an
        "Already subscribed", data), backfill the candles the silence may have cost."""
        if not link.acked.is_set():
            return  # still subscribing: the ack timeout covers this socket
        link.heard = trio.Event()
        self.stats.resubscribes += 1
        silent_s = trio.current_time() - link.last_rx
        log.warning("hyperliquid ws connection %d silent for %.0fs; resubscribing", index, silent_s)
        for ch in self._channels_of(subs):
            self.windows[ch].note(f"resubscribe (connection {index}) after {silent_s:.0f}s silent")
        coins = _candle_coins(subs)
        await self._link_lost(coins, "resubscribe")
        for sub in subs:
            await spend(self.messages)
            await link.ws.send_message(wire.encode_subscribe(sub).decode())
        await link.heard.wait()
        await self._link_back(coins)

    async def _after_acks(
        self, link: _Link, coins: list[str], reason: str, link_up: list[bool]
    ) -> None:
        await link.sent.wait()
        with trio.move_on_after(ACK_TIMEOUT_S) as scope:
            await link.acked.wait()
        if scope.cancelled_caught:
            missing = ", ".join(_show(k) for k in sorted(link.pending, key=str))
            raise SubscribeTimeout(f"not acknowledged within {ACK_TIMEOUT_S:.0f}s: {missing}")
        link_up[0] = True
        await self._link_back(coins)
        self._ready_left -= 1
        self._check_ready()

    async def _receive(self, link: _Link) -> None:
        while True:
            message = await link.ws.get_message()
            link.last_rx = trio.current_time()
            link.heard.set()
            self.stats.frames += 1
            try:
                frame = wire.decode_frame(message)
            except (wire.FrameError, msgspec.ValidationError) as exc:
                self.stats.bad_frames += 1
                log.warning("hyperliquid ws: undecodable frame skipped: %s", exc)
                continue
            await self._on_frame(link, frame)

    async def _on_frame(self, link: _Link, frame: wire.Frame) -> None:
        now = self.rt.clock.now_ms()
        if isinstance(frame, wire.CandleFrame):
            await self._publish_candles(self.tracker.on_push(frame.data, now), push=True)
        elif isinstance(frame, wire.AllMidsFrame):
            if frame.data.dex:
                return
            rows = mid_rows(frame.data.mids, self.mid_filter, now, self.cfg.mid_bucket_ms)
            if rows:
                self.stats.mid_rows += len(rows)
                self.windows["mids"].add(len(rows))
                await self.rt.bus.publish(MidBatch(rows=rows, run_id=self.windows["mids"].run_id))
        elif isinstance(frame, wire.SubscriptionResponseFrame):
            if frame.data.method == "subscribe":
                self._acked(link, frame.data.subscription)
        elif isinstance(frame, wire.ErrorFrame):
            self._on_error(link, frame.data)

    def _acked(self, link: _Link, sub: wire.Subscription) -> None:
        link.pending.discard(sub.key())
        if not link.pending:
            link.acked.set()

    def _on_error(self, link: _Link, text: str) -> None:
        self.stats.error_frames.append(text)
        if text.startswith("Already subscribed: "):
            # Subscribed already on this socket: as good as an ack.
            try:
                sub = msgspec.json.decode(text.split(": ", 1)[1], type=wire.Subscription)
            except msgspec.MsgspecError:
                log.warning("hyperliquid ws error: %s", text)
                return
            self._acked(link, sub)
            return
        log.error("hyperliquid ws error frame: %s", text)
        if text.startswith(("Cannot subscribe to more", "Cannot send more")):
            raise VenueError(f"venue refused: {text}")

    async def _publish_candles(self, rows: list[Candle], *, push: bool = False) -> None:
        """Queue rows behind those not yet published; pushes wait for the flusher (or a full
        batch), other rows (closes, snapshots) go out at once with everything before them."""
        if not rows:
            return
        self.stats.candle_rows += len(rows)
        self.windows["candles"].add(len(rows))
        self._outbox.extend(rows)
        if push and len(self._outbox) < PUSH_BATCH_ROWS:
            self._outbox_due.set()
            return
        await self._flush_candles()

    async def _flush_candles(self) -> None:
        rows, self._outbox = self._outbox, []
        if rows:
            # Concurrent flushes reach the bus in the order they took their rows (its
            # subscribers' channels queue blocked senders first come, first served).
            await self.rt.bus.publish(CandleBatch(rows=rows, run_id=self.windows["candles"].run_id))

    async def _push_flusher(self) -> None:
        try:
            while True:
                await self._outbox_due.wait()
                await trio.sleep(PUSH_GATHER_S)
                self._outbox_due = trio.Event()
                await self._flush_candles()
        finally:
            if self._outbox and not self.rt.bus.closed:
                # Stopped: hand over what is queued without waiting (a cancelled publish
                # would be lost the same way); say so if the writer's queue is full.
                try:
                    self.rt.bus.publish_nowait(
                        CandleBatch(rows=self._outbox, run_id=self.windows["candles"].run_id)
                    )
                    self._outbox = []
                except trio.WouldBlock:
                    log.warning("stream stopped: %d candle row(s) not published", len(self._outbox))

    async def _clock_closer(self) -> None:
        while True:
            await trio.sleep(CLOSE_CHECK_S)
            now_ms = self.rt.clock.now_ms()
            await self._publish_candles(self.tracker.on_clock(now_ms))
            pending = self.gaps.pending()
            oldest = min((g.detected_at_ms for g in pending), default=now_ms)
            GAP_OLDEST_AGE.set(max(0, now_ms - oldest) / 1000)

    # --- gaps ----------------------------------------------------------------------------------

    def _latest_known_ms(self, coin: str) -> int:
        """Open time of the latest bar the tracker knows for ``coin`` (0: none)."""
        bar = self.tracker.open.get(coin)
        return max(bar.open_time_ms if bar else 0, self.tracker.last_closed_ms(coin) or 0)

    async def _link_lost(self, coins: list[str], reason: str) -> None:
        """The feed of ``coins`` may miss pushes from now on: open (or widen) their gaps."""
        if not coins or not self.want_candles:
            return
        now_ms = self.rt.clock.now_ms()
        for coin in coins:
            self.gaps.open(coin, self._latest_known_ms(coin), reason, now_ms)
        await self._persist_gaps(coins)

    async def _link_back(self, coins: list[str]) -> None:
        """Acked again: pushes carry full bar states from the bar forming now."""
        now_ms = self.rt.clock.now_ms()
        closed = [c for c in coins if self.gaps.link_up(c, now_ms) is not None]
        if closed:
            await self._persist_gaps(closed)
            self._gaps_changed.set()

    async def _persist_gaps(self, coins: list[str]) -> None:
        now_ms = self.rt.clock.now_ms()
        rows: list[CandleGap] = []
        healed: list[str] = []
        for coin in coins:
            gap = self.gaps.gaps.get(coin)
            GAPS_PENDING.set(0 if gap is None else 1, coin=coin)
            if gap is None:
                healed.append(coin)
                continue
            rows.append(
                CandleGap(
                    coin=coin,
                    first_open_ms=gap.first_ms,
                    last_open_ms=gap.last_ms,
                    reason=gap.reason,
                    detected_at_ms=gap.detected_at_ms,
                    attempts=gap.attempts,
                    last_error=gap.last_error,
                    updated_at_ms=now_ms,
                )
            )
        if rows:
            await self.rt.bus.publish(CandleGapBatch(rows=rows))
        if healed:
            await self.rt.bus.publish(CandleGapsHealed(coins=healed))

    def _gaps_overdue(self) -> str | None:
        """The candles window's failure while gaps fail past their retry budget."""
        budget_s = self.cfg.backfill_retry_budget_s
        overdue = self.gaps.overdue(self.rt.clock.now_ms(), round(budget_s * 1000))
        if not overdue:
            return None
        shown = "; ".join(
            f"{g.coin} from {_hhmm(g.first_ms)} ({g.attempts} failed attempts, last: "
            f"{g.last_error})"
            for g in overdue[:5]
        )
        more = f"; and {len(overdue) - 5} more" if len(overdue) > 5 else ""
        return (
            f"{len(overdue)} candle gap(s) pending past the retry budget "
            f"({budget_s:g}s): {shown}{more}"
        )

    def _check_ready(self) -> None:
        if self._ready_left <= 0 and not any(g.closed for g in self.gaps.pending()):
            self.ready.set()

    async def _healer(self) -> None:
        """Fill every closed gap with ``candleSnapshot``, retrying for as long as it fails."""
        while True:
            dropped = self.gaps.expire(self.rt.clock.now_ms())
            if dropped:
                await self._note_dropped(dropped)
            due = self.gaps.due(trio.current_time())
            if not due:
                changed = self._gaps_changed
                wake = self.gaps.next_retry_at()
                with trio.move_on_at(math.inf if wake is None else wake):
                    await changed.wait()
                self._gaps_changed = trio.Event()
                continue
            healed: dict[str, list[int]] = {}
            for gap in due:
                reason = gap.reason
                rows = await self._heal(gap.coin)
                if rows is not None:
                    healed.setdefault(reason, []).append(rows)
            for reason, counts in healed.items():
                self.stats.backfills += 1
                self.stats.backfill_rows += sum(counts)
                msg = f"backfill after {reason}: {sum(counts)} row(s) for {len(counts)} coin(s)"
                self.windows["candles"].note(msg)
                log.info("%s", msg)
            self._check_ready()

    async def _heal(self, coin: str) -> int | None:
        """One snapshot for ``coin``'s gap; the rows published, or None when it failed."""
        request = self.gaps.request(coin, self.rt.clock.now_ms())
        if request is None:
            return None
        try:
            bars = await self.info.candle_snapshot(
                coin, INTERVAL, request.start_ms, request.asked_ms
            )
        except Exception as exc:
            error = describe_error(exc)
            gap = self.gaps.failed(request, error, 0.0)
            if gap is None:
                return None
            delay = retry_delay_s(
                gap.attempts, BACKFILL_RETRY_INITIAL_S, self.cfg.backfill_retry_max_s, self.rng
            )
            gap.retry_at = trio.current_time() + delay
            log.warning(
                "backfill of %s failed (%s); attempt %d, retry in %.1fs",
                coin,
                error,
                gap.attempts,
                delay,
            )
            if gap.attempts == 1:
                self.windows["candles"].note(f"backfill of {coin} failed (retrying): {error}")
            await self._persist_gaps([coin])
            return None
        rows = self.tracker.on_snapshot(bars, request.asked_ms)
        await self._publish_candles(rows)
        self.gaps.healed(request)
        await self._persist_gaps([coin])
        return len(rows)

    async def _note_dropped(self, dropped: list[Gap]) -> None:
        for gap in dropped:
            msg = (
                f"candle gap of {gap.coin} from {_hhmm(gap.first_ms)} fell past the backfill "
                f"horizon ({self.cfg.backfill_max_bars} bars) and was not healed"
            )
            log.error("%s", msg)
            self.windows["candles"].fail(msg)
        await self._persist_gaps([g.coin for g in dropped])


def _candle_coins(subs: list[wire.Subscription]) -> list[str]:
    return [s.coin for s in subs if s.type == "candle" and s.coin]


def _hhmm(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(minute_of(ms) / 1000)) + "Z"


def _show(key: tuple[str, str | None, str | None, str | None]) -> str:
    return "/".join(k for k in key if k)
