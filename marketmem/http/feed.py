"""The stream feeds: committed rows turned into the live events ``/api/v1/stream`` serves.

A stream client sees a row only once the database holds it, so the live events and a resume
with ``Last-Event-ID`` (read from the stored bars) always agree. Two feeds publish the same
events (``LiveCandles``, ``LiveMids``, ``LiveHealth``) on their hub's bus, reading through a
read pool of their own:

- ``BusFeed`` (``bin/marketmem run`` and the demo, beside the writer): the closed bars (of
  every coin) and the mids (of the coins open streams want) of the ``CandleBatch`` and
  ``MidBatch`` events published on the service's bus are hints. After a ``Committed`` of their
  table the feed reads those keys back and publishes the rows as stored; a hint whose row is
  not stored yet is read again after the next commit (or ``RETRY_S``), and forgotten after
  ``PENDING_MAX_S`` (an event the writer rejected). Looks are at least ``MIN_LOOK_S`` apart:
  each one wakes every client, so under load hints gather (a fan-out costs a send per client
  per look, whatever it carries). Its own subscription is lossy: the feed never makes a
  publisher wait.
- ``DbFeed`` (``bin/marketmem serve``, a process with no bus of its own): polls every
  ``POLL_S``, for the coins open streams want, the closed bars opened in the last
  ``WINDOW_MS`` that it has not published as they are stored, every ``SWEEP_S`` the older bars
  rewritten since its last sweep (gap healing), and each coin's latest mid; it publishes on
  the hub's local bus.

Both re-read channel health after a commit of ``ingestion_runs`` (``BusFeed``) or every
``HEALTH_S`` (statuses also change with time: stale), and publish every status when any
changed; each stream tells its client what differs from what it told it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from marketmem.bus import Bus, BusClosed, Policy
from marketmem.clock import WallClock
from marketmem.config import Config
from marketmem.events import (
    Candle,
    CandleBatch,
    ChannelStatusChange,
    Committed,
    Event,
    LiveCandles,
    LiveHealth,
    LiveMids,
    MidBatch,
    MidPrice,
)
from marketmem.http.errors import ApiError
from marketmem.http.pool import ReadPool
from marketmem.http.sse import REPLAY_HORIZON_MS, RESUME_SLACK_MS
from marketmem.http.stream import Reader, StreamHub
from marketmem.storage.errors import STORAGE_ERROR
from marketmem.storage.models.runs import ChannelHealth
from marketmem.storage.reads import Connection
from marketmem.storage.reads.hyperliquid import (
    CANDLES_1M,
    MIDS,
    candles_at,
    closed_candles_since,
    latest_mid,
    mids_at,
)
from marketmem.storage.reads.runs import RUNS, channel_health

log = logging.getLogger(__name__)

FEED_BUFFER = 100_000
RETRY_S = 0.05
MIN_LOOK_S = 0.05
PENDING_MAX_S = 60.0
HEALTH_S = 5.0
POLL_S = 0.5
WINDOW_MS = 10 * 60_000
SWEEP_S = 30.0

# What a read of the feed may fail with: it logs it and looks again later.
_READ_FAILED: tuple[type[Exception], ...] = (ApiError, *STORAGE_ERROR)

Key = tuple[str, int]


def _own_pool(config: Config) -> Reader:
    """A read pool of one thread for a feed, so its reads never queue behind requests."""
    pool = ReadPool(config.db_path(), busy_timeout_ms=config.storage.busy_timeout_ms, max_threads=1)
    return pool.run


def bus_feed(bus: Bus, config: Config, clock: WallClock) -> tuple[StreamHub, BusFeed]:
    """The stream of a process that has the service's bus (``run``, the demo)."""
    hub = StreamHub(bus, config.http)
    return hub, BusFeed(bus, hub, config, clock, _own_pool(config))


def db_feed(config: Config, clock: WallClock) -> tuple[StreamHub, DbFeed]:
    """The stream of a process without one (``serve``): a local bus fed from the database."""
    hub = StreamHub(Bus(), config.http)
    return hub, DbFeed(hub, config, clock, _own_pool(config))


# --- health changes (pure) -------------------------------------------------------------------


def health_snapshot(rows: list[ChannelHealth], now_ms: int) -> list[ChannelStatusChange]:
    """Every enabled channel's status, as a stream sends it first."""
    return [_change(r, None, now_ms) for r in rows if r.enabled]


def _change(row: ChannelHealth, previous: str | None, now_ms: int) -> ChannelStatusChange:
    return ChannelStatusChange(
        source=row.source,
        channel=row.channel,
        status=row.status,
        previous=previous,
        at_ms=now_ms,
        last_success_at_ms=row.last_success_at_ms,
        error=row.error,
    )


class HealthWatch:
    """Channel statuses as last read. A read that differs from the last one (or the first
    read) gives every channel's status; each stream tells its client what differs from what
    it told it before (so a change between a client's first snapshot and the feed's first
    read is not lost)."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[str, str], str] | None = None

    def changes(self, rows: list[ChannelHealth], now_ms: int) -> list[ChannelStatusChange]:
        current = {(r.source, r.channel): r for r in rows if r.enabled}
        before, self.statuses = self.statuses, {k: r.status for k, r in current.items()}
        if before == self.statuses:
            return []
        before = before or {}
        return [_change(r, before.get(k), now_ms) for k, r in current.items()]


@dataclass
class FeedStatistics:
    looks: int = 0
    candles: int = 0
    mids: int = 0
    health: int = 0
    # Hints whose row never showed up (BusFeed), reads that failed.
    expired: int = 0
    failed_reads: int = 0


def _publish(
    bus: Bus, candles: list[Candle], mids: list[MidPrice], changes: list[ChannelStatusChange]
) -> None:
    """Publish without waiting (every subscriber of live events is lossy)."""
    try:
        if candles:
            candles.sort(key=lambda b: (b.open_time_ms, b.coin))
            bus.publish_nowait(LiveCandles(rows=candles))
        if mids:
            bus.publish_nowait(LiveMids(rows=mids))
        if changes:
            bus.publish_nowait(LiveHealth(changes=changes))
    except BusClosed:
        pass


# --- run: hints from the bus, read back once committed ----------------------------------------


def _read_back(
    conn: Connection,
    candle_keys: list[Key],
    mid_keys: list[Key],
    health: bool,
    config: Config,
    now_ms: int,
) -> tuple[list[Candle], list[MidPrice], list[ChannelHealth] | None]:
    return (
        candles_at(conn, candle_keys),
        mids_at(conn, mid_keys),
        channel_health(conn, config, now_ms) if health else None,
    )


class BusFeed:
    def __init__(
        self, bus: Bus, hub: StreamHub, config: Config, clock: WallClock, reader: Reader
    ) -> None:
        self.hub = hub
        self.config = config
        self.clock = clock
        self.reader = reader
        self.rx = bus.subscribe(
            "stream-feed",
            (CandleBatch, MidBatch, Committed),
            buffer=FEED_BUFFER,
            policy=Policy.DROP_OLDEST,
        )
        # Hints by key: (the newest stamp published, trio time first seen).
        self.candles: dict[Key, tuple[int, float]] = {}
        self.mids: dict[Key, tuple[int, float]] = {}
        self.last_mid: dict[str, int] = {}
        self.watch = HealthWatch()
        self.health_due = True
        self.next_health = 0.0
        self.stats = FeedStatistics()
        self._wake = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._take, nursery.cancel_scope)
            task_status.started()
            while True:
                pending = bool(self.candles or self.mids)
                with trio.move_on_after(RETRY_S if pending else HEALTH_S):
                    await self._wake.wait()
                self._wake = trio.Event()
                await self.look()
                await trio.sleep(MIN_LOOK_S)  # hints gather meanwhile

    @staticmethod
    def _hint(into: dict[Key, tuple[int, float]], key: Key, stamp: int) -> None:
        held = into.get(key)
        if held is None:
            into[key] = (stamp, trio.current_time())
        elif stamp > held[0]:
            into[key] = (stamp, held[1])

    async def _take(self, done: trio.CancelScope) -> None:
        # NOTE: everything queued is taken in one step: a receive per event would wait a
        # scheduler turn per event, and a turn is long while the clients are being written to.
        while True:
            try:
                self._note(await self.rx.receive())
                while True:
                    self._note(self.rx.receive_nowait())
            except trio.WouldBlock:
                continue
            except trio.EndOfChannel:
                break
        done.cancel()  # the bus closed: the service stops

    def _note(self, event: Event) -> None:
        if isinstance(event, CandleBatch):
            # Every closed bar, wanted yet or not (one a minute per coin): a client that
            # connects between its publishing and its commit gets it too.
            for bar in event.rows:
                if bar.closed:
                    self._hint(self.candles, (bar.coin, bar.open_time_ms), bar.updated_at_ms)
        elif isinstance(event, MidBatch):
            wanted = self.hub.coins
            if wanted:
                for mid in event.rows:
                    if mid.coin in wanted:
                        self._hint(self.mids, (mid.coin, mid.bucket_ms), mid.observed_at_ms)
        elif isinstance(event, Committed):
            tables = event.rows_by_table
            if (self.candles and CANDLES_1M in tables) or (self.mids and MIDS in tables):
                self._wake.set()
            if RUNS in tables:
                self.health_due = True
                self._wake.set()

    async def look(self) -> None:
        now = trio.current_time()
        health = self.hub.health_streams > 0 and (self.health_due or now >= self.next_health)
        if not (self.candles or self.mids or health):
            return
        self.health_due = False
        if health:
            self.next_health = now + HEALTH_S
        self.stats.looks += 1
        now_ms = self.clock.now_ms()
        try:
            bars, mids, rows = await self.reader(
                _read_back, list(self.candles), list(self.mids), health, self.config, now_ms
            )
        except _READ_FAILED as exc:
            self.stats.failed_reads += 1
            log.warning("stream feed: read failed (%s: %s); retrying", type(exc).__name__, exc)
            return
        candles = self._confirm_candles(bars)
        fresh = self._confirm_mids(mids)
        changes = self.watch.changes(rows, now_ms) if rows is not None else []
        self._expire(trio.current_time())
        self.stats.candles += len(candles)
        self.stats.mids += len(fresh)
        self.stats.health += len(changes)
        _publish(self.hub.bus, candles, fresh, changes)

    def _confirm_candles(self, bars: list[Candle]) -> list[Candle]:
        out: list[Candle] = []
        for bar in bars:
            key = (bar.coin, bar.open_time_ms)
            hint = self.candles.get(key)
            # NOTE: hints that came in during the read compare against what was read.
            if hint is not None and bar.closed and bar.updated_at_ms >= hint[0]:
                del self.candles[key]
                out.append(bar)
        return out

    def _confirm_mids(self, mids: list[MidPrice]) -> list[MidPrice]:
        out: list[MidPrice] = []
        for mid in mids:
            key = (mid.coin, mid.bucket_ms)
            hint = self.mids.get(key)
            if hint is None or mid.observed_at_ms < hint[0]:
                continue
            del self.mids[key]
            if mid.observed_at_ms > self.last_mid.get(mid.coin, -1):
                self.last_mid[mid.coin] = mid.observed_at_ms
                out.append(mid)
        return out

    def _expire(self, now: float) -> None:
        for hints in (self.candles, self.mids):
            old = [k for k, (_, seen) in hints.items() if now - seen > PENDING_MAX_S]
            for key in old:
                del hints[key]
            self.stats.expired += len(old)


# --- serve: the database polled ----------------------------------------------------------------


@dataclass
class _Polled:
    recent: dict[str, list[Candle]]
    healed: dict[str, list[Candle]]
    mids: dict[str, MidPrice | None]
    health: list[ChannelHealth] | None


def _poll(
    conn: Connection,
    since: dict[str, int],
    sweep_ms: int | None,
    health: bool,
    config: Config,
    now_ms: int,
) -> _Polled:
    window = now_ms - WINDOW_MS
    recent = {
        coin: closed_candles_since(conn, coin, updated_since_ms=s, open_from_ms=window)
        for coin, s in since.items()
    }
    healed: dict[str, list[Candle]] = {}
    if sweep_ms is not None:
        for coin, s in since.items():
            bars = closed_candles_since(
                conn,
                coin,
                updated_since_ms=max(s, sweep_ms),
                open_from_ms=now_ms - REPLAY_HORIZON_MS,
            )
            healed[coin] = [b for b in bars if b.open_time_ms < window]
    return _Polled(
        recent=recent,
        healed=healed,
        mids={coin: latest_mid(conn, coin) for coin in since},
        health=channel_health(conn, config, now_ms) if health else None,
    )


class DbFeed:
    def __init__(
        self,
        hub: StreamHub,
        config: Config,
        clock: WallClock,
        reader: Reader,
        *,
        poll_s: float = POLL_S,
    ) -> None:
        self.hub = hub
        self.config = config
        self.clock = clock
        self.reader = reader
        self.poll_s = poll_s
        # Per wanted coin: the stamp from which its rows are new (it became wanted then), the
        # bars of the window published (open time -> stamp), the latest mid published.
        self.since: dict[str, int] = {}
        self.sent: dict[str, dict[int, int]] = {}
        self.last_mid: dict[str, int] = {}
        self.watch = HealthWatch()
        self.next_health = 0.0
        self.next_sweep = 0.0
        self.swept_ms: int | None = None
        self.stats = FeedStatistics()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self.look()
            await trio.sleep(self.poll_s)

    def _follow(self, now_ms: int) -> None:
        """Start following newly wanted coins; forget the ones no stream wants any more."""
        wanted = self.hub.coins
        for coin in wanted:
            if coin not in self.since:
                self.since[coin] = now_ms - RESUME_SLACK_MS
                self.sent[coin] = {}
        for coin in [c for c in self.since if c not in wanted]:
            del self.since[coin], self.sent[coin]
            self.last_mid.pop(coin, None)

    async def look(self) -> None:
        now = trio.current_time()
        now_ms = self.clock.now_ms()
        self._follow(now_ms)
        health = self.hub.health_streams > 0 and now >= self.next_health
        if not self.since and not health:
            return
        sweep_ms: int | None = None
        if self.since and now >= self.next_sweep:
            self.next_sweep = now + SWEEP_S
            # The first sweep starts where the coins started; later ones where the last ended.
            sweep_ms = self.swept_ms if self.swept_ms is not None else now_ms
            self.swept_ms = now_ms - RESUME_SLACK_MS
        if health:
            self.next_health = now + HEALTH_S
        self.stats.looks += 1
        try:
            polled: _Polled = await self.reader(
                _poll, dict(self.since), sweep_ms, health, self.config, now_ms
            )
        except _READ_FAILED as exc:
            self.stats.failed_reads += 1
            log.warning("stream poller: read failed (%s: %s); retrying", type(exc).__name__, exc)
            return
        candles = self._new_bars(polled, now_ms)
        mids = [
            mid
            for coin, mid in polled.mids.items()
            if mid is not None and coin in self.since and self._new_mid(mid)
        ]
        changes = self.watch.changes(polled.health, now_ms) if polled.health is not None else []
        self.stats.candles += len(candles)
        self.stats.mids += len(mids)
        self.stats.health += len(changes)
        _publish(self.hub.bus, candles, mids, changes)

    def _new_bars(self, polled: _Polled, now_ms: int) -> list[Candle]:
        out: list[Candle] = []
        for coin, bars in polled.recent.items():
            sent = self.sent.get(coin)
            if sent is None:
                continue  # no stream wants it any more
            for bar in bars:
                if sent.get(bar.open_time_ms, -1) < bar.updated_at_ms:
                    sent[bar.open_time_ms] = bar.updated_at_ms
                    out.append(bar)
            for opened in [t for t in sent if t < now_ms - WINDOW_MS - 60_000]:
                del sent[opened]
        for coin, bars in polled.healed.items():
            if coin in self.sent:
                out.extend(bars)
        return out

    def _new_mid(self, mid: MidPrice) -> bool:
        if mid.observed_at_ms < self.since[mid.coin]:
            return False
        if mid.observed_at_ms <= self.last_mid.get(mid.coin, -1):
            return False
        self.last_mid[mid.coin] = mid.observed_at_ms
        return True
