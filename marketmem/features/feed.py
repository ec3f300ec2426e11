"""The context feed: the Hyperliquid context poller's events, kept for the feature runs.

``ContextFeed`` subscribes to the poller's typed events (``events.CONTEXT_EVENTS``) and keeps
the latest of each: the latest ``AssetContexts``, ``PredictedFundings``, ``FundingHistory`` and
``L2BookSweep`` (or the ``ContextUnavailable`` that took its place), and per coin the latest
``L2Book`` (or its failure). Its actor only stores references; the runs read them.

``RunInputs`` is one run's view: a run at T uses the inputs of its own tick, waiting for them
(bounded, ``INPUT_WAIT_SHARE`` of the channel's cadence) until they are there:

- asset contexts: the latest answer younger than ``ctx_max_age_s`` at T; otherwise a failure
  of this tick (below) fails the run, else it waits for the next answer;
- everything else: the answer or failure whose tick is this run's: at most
  ``TICK_SLACK_MS`` before T. The poller and the scheduler start together and tick at the
  same instants, so "the same instant" is within milliseconds; an older one is the previous
  tick's and is not used. That covers the start-up race: a run that starts before the poller
  has even asked finds nothing of its tick and waits; one that starts after it answered
  finds the answer there.

A run waits only while the feed's actor runs: without it (a one-off ``ingest``) nothing feeds
the inputs, and a run fails after ``START_GRACE_S`` with ``NOT_FED`` as the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import trio

from marketmem.bus import Bus, Policy
from marketmem.events import (
    CONTEXT_EVENTS,
    AssetContexts,
    ContextUnavailable,
    Event,
    FundingHistory,
    L2Book,
    L2BookSweep,
    PredictedFundings,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# What the feed keeps per kind: an answer, or the failure that took its place.
Answer = AssetContexts | PredictedFundings | FundingHistory | L2BookSweep | ContextUnavailable

SUBSCRIBER = "features.hyperliquid-context"
# NOTE: DROP_OLDEST with room for far more than one tick publishes (a sweep of every listed
# perp is ~230 books): the poller must never wait for the features, and the feed never waits
# for anything but its queue (it stores references), so it drains as fast as the poller
# publishes and nothing is dropped in practice. Should the loop be starved and the queue fill,
# the oldest events go first (the newest input is the one that matters); a run missing one
# then fails with a reason that counts the drops. Lossless would let a stalled feed hold the
# poller (and so every snapshot channel) back. The feed subscribes only to the poller's
# events, never to what features publish: a feature run waits for the feed, so a feed waiting
# for feature rows would be a cycle.
BUFFER = 4096
# How close before a run's start the poller's tick must be to be the run's own (ms).
TICK_SLACK_MS = 1_000
# Share of a channel's cadence a run waits for its inputs at most.
INPUT_WAIT_SHARE = 0.9
# How long a run waits for the feed's actor to start before it gives up (s).
START_GRACE_S = 5.0
NOT_FED = (
    "the hyperliquid context poller and the feature feed are not running "
    "(they run in the service, not in a one-off ingest)"
)


class ContextFeed:
    """The latest context inputs from the bus, and waiting for newer ones."""

    def __init__(self, bus: Bus, *, subscribe: bool = True, buffer: int = BUFFER) -> None:
        self.bus = bus
        self.buffer = buffer
        # NOTE: subscribed at build time, before the poller can publish, and once (a restarted
        # actor keeps the queue): an answer published while the actor starts is not lost.
        self._rx: trio.MemoryReceiveChannel[Event] | None = None
        if subscribe:
            self._subscribe()
        self.contexts: AssetContexts | None = None  # the latest answer (failures aside)
        self.funding: FundingHistory | None = None  # the latest refresh (failures aside)
        # Kind -> the latest answer or failure not about one coin.
        self._latest: dict[str, Answer] = {}
        # Coin -> its latest book or failure.
        self.books: dict[str, L2Book | ContextUnavailable] = {}
        self.applied = 0
        self.live = False
        self._live = trio.Event()
        self._changed = trio.Event()

    def _subscribe(self) -> trio.MemoryReceiveChannel[Event]:
        if self._rx is None:
            self._rx = self.bus.subscribe(
                SUBSCRIBER, CONTEXT_EVENTS, buffer=self.buffer, policy=Policy.DROP_OLDEST
            )
        return self._rx

    def dropped(self) -> int:
        for sub in self.bus.statistics().subscribers:
            if sub.name == SUBSCRIBER:
                return sub.dropped
        return 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The actor: apply every context event until the bus closes."""
        rx = self._subscribe()
        self.live = True
        self._live.set()
        try:
            task_status.started()
            async for event in rx:
                self.apply(event)
        finally:
            self.live = False
            self._live = trio.Event()

    def apply(self, event: Event) -> None:
        if isinstance(event, L2Book):
            self.books[event.book.coin] = event
        elif isinstance(event, ContextUnavailable) and event.coin:
            if event.kind != L2Book.KIND:
                log.error("context feed: unexpected %s failure for one coin: %r", event.kind, event)
                return
            self.books[event.coin] = event
        elif isinstance(event, ContextUnavailable):
            self._latest[event.kind] = event
        elif isinstance(event, AssetContexts | PredictedFundings | FundingHistory | L2BookSweep):
            self._latest[event.KIND] = event
            if isinstance(event, AssetContexts):
                self.contexts = event
            elif isinstance(event, FundingHistory):
                self.funding = event
        else:
            log.error("context feed: not a context event: %s", type(event).__name__)
            return
        self.applied += 1
        self._changed.set()
        self._changed = trio.Event()

    # --- what a run asks (pure reads of the state) -------------------------------------------

    def asset_contexts(
        self, run_ms: int, max_age_ms: float, since_ms: int
    ) -> AssetContexts | ContextUnavailable | None:
        """The latest context younger than ``max_age_ms`` at ``run_ms``; else the failure of
        a tick at or after ``since_ms``; else None (not there yet)."""
        ok = self.contexts
        if ok is not None and run_ms - ok.tick_ms < max_age_ms:
            return ok
        last = self._latest.get(AssetContexts.KIND)
        if isinstance(last, ContextUnavailable) and last.tick_ms >= since_ms:
            return last
        return None

    def answer(self, kind: str, since_ms: int) -> Answer | None:
        """The latest answer or failure of ``kind`` from a tick at or after ``since_ms``."""
        last = self._latest.get(kind)
        if last is None or last.tick_ms < since_ms:
            return None
        return last

    def book(self, coin: str, since_ms: int) -> L2Book | ContextUnavailable | None:
        got = self.books.get(coin)
        if got is None or got.tick_ms < since_ms:
            return None
        return got

    # --- waiting -----------------------------------------------------------------------------

    async def wait(self, query: Callable[[], T | None], deadline: float) -> T | None:
        """``query()`` once it is not None (asked again whenever an event arrives); None at
        ``deadline`` (trio time)."""
        with trio.move_on_at(deadline):
            while (got := query()) is None:
                await self._changed.wait()
            return got
        return None

    async def wait_live(self, timeout_s: float) -> bool:
        if not self.live:
            with trio.move_on_after(timeout_s):
                await self._live.wait()
        return self.live


class RunInputs:
    """The inputs of one run at ``run_ms``: each waited for until the shared ``deadline``.

    ``fed()`` first (the job fails without the feed); then each getter returns the input,
    or the error text of why it is unavailable (the poller's, or a timeout).
    """

    def __init__(self, feed: ContextFeed, run_ms: int, cadence_s: float, max_age_s: float):
        self.feed = feed
        self.run_ms = run_ms
        self.wait_s = INPUT_WAIT_SHARE * cadence_s
        self.deadline = trio.current_time() + self.wait_s
        self.max_age_ms = max_age_s * 1000
        self.since_ms = run_ms - int(min(TICK_SLACK_MS, cadence_s * 500))

    async def fed(self) -> str | None:
        """None while the feed's actor runs (waiting briefly for it to start); else why not."""
        if await self.feed.wait_live(min(START_GRACE_S, self.wait_s)):
            return None
        return NOT_FED

    def _timed_out(self) -> str:
        text = f"no answer from the hyperliquid context poller within {self.wait_s:g} s"
        dropped = self.feed.dropped()
        if dropped:
            text += f" (the bus dropped {dropped} context event(s) for the feature feed)"
        return text

    async def asset_contexts(self) -> AssetContexts | str:
        def query() -> AssetContexts | ContextUnavailable | None:
            return self.feed.asset_contexts(self.run_ms, self.max_age_ms, self.since_ms)

        got: AssetContexts | ContextUnavailable | None = await self.feed.wait(query, self.deadline)
        if got is None:
            return self._timed_out()
        return got if isinstance(got, AssetContexts) else got.error

    async def answer(self, kind: str) -> Answer | str:
        def query() -> Answer | None:
            return self.feed.answer(kind, self.since_ms)

        got: Answer | None = await self.feed.wait(query, self.deadline)
        if got is None:
            return self._timed_out()
        return got.error if isinstance(got, ContextUnavailable) else got

    async def book(self, coin: str, tick_ms: int) -> L2Book | str:
        """The book of ``coin`` from the sweep of ``tick_ms`` (or a later one)."""

        def query() -> L2Book | ContextUnavailable | None:
            return self.feed.book(coin, tick_ms)

        got: L2Book | ContextUnavailable | None = await self.feed.wait(query, self.deadline)
        if got is None:
            return self._timed_out()
        return got.error if isinstance(got, ContextUnavailable) else got
