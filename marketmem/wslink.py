"""A WebSocket link that stays up: one socket kept subscribed and reconnected, for any venue.

``Link.run`` loops until cancelled: connect (``connect_timeout_s``), send one subscribe message
per subscription, wait for every ack (``ack_timeout_s``), then read. It sends the venue's ping
every ``ping_interval_s``. A link silent (no frame at all, pongs included) for
``resubscribe_after_s`` first gets every subscription sent again on the same socket; still
silent at ``silence_timeout_s`` it is dead (``DeadLink``). Any failure closes the socket, and
the loop reconnects after a capped, jittered exponential backoff (``backoff_s``; reset once a
session got all its acks) and subscribes everything again.

A venue's per-IP limits are one ``LinkLimits`` shared by all its links: every client message
(subscribe, ping) draws from its messages budget, every connection holds one of its connection
slots and draws from its connects budget.

The venue supplies how it speaks (``Venue``: subscribe and ping messages, decoding, which
frame acknowledges which subscription; it raises to end a link on a fatal error frame), where
the other decoded frames go (``on_frame``, awaited in the reading task: a slow consumer slows
the socket) and what happens as a link goes down and comes back (``LinkEvents``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, NoReturn, Protocol, TypeVar

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from marketmem.budget import WeightBudget, spend
from marketmem.runs import describe_error

log = logging.getLogger(__name__)

MESSAGE_QUEUE = 4096
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

S = TypeVar("S")
F = TypeVar("F")
S_contra = TypeVar("S_contra", contravariant=True)


class DeadLink(Exception):
    """No frame (data, ack or pong) within the silence timeout."""

    expected = True


class SubscribeTimeout(Exception):
    """Subscriptions not acknowledged in time."""

    expected = True


class BadFrame(ValueError):
    """A frame a venue's ``decode`` cannot read, for venues with no error of their own."""


def backoff_s(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: uniform in [0.5, 1] x min(max, initial x 2^n)."""
    return min(max_s, initial_s * 2 ** min(attempt, 30)) * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class LinkSettings:
    url: str
    connect_timeout_s: float
    ping_interval_s: float
    # >= silence_timeout_s: no resubscribe step, a silence is a dead link at once.
    resubscribe_after_s: float
    silence_timeout_s: float
    backoff_initial_s: float
    backoff_max_s: float
    ack_timeout_s: float = 15.0
    message_queue: int = MESSAGE_QUEUE
    max_message_bytes: int = MAX_MESSAGE_BYTES
    disconnect_timeout_s: float = 2.0


class LinkLimits:
    """A venue's per-IP limits, shared by every link to it. Keep one per process: a restarted
    actor with fresh budgets would spend again what the venue still counts."""

    def __init__(
        self, *, max_connections: int, messages_per_minute: int, connects_per_minute: int
    ) -> None:
        self.connections = trio.CapacityLimiter(max_connections)
        self.messages = WeightBudget(messages_per_minute)
        self.connects = WeightBudget(connects_per_minute)


@dataclass
class LinkStatistics:
    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    bad_frames: int = 0
    subscribed: int = 0
    resubscribes: int = 0


class Venue(Protocol[S_contra, F]):
    """How a venue speaks on its sockets."""

    # What ``decode`` raises for a frame to skip (counted and logged); anything else it raises
    # ends the link.
    bad_frame_errors: tuple[type[Exception], ...]
    # The frame types ``ack_of`` is asked about (acks, error frames), matched by exact type:
    # one set lookup per frame, cheaper than isinstance on the hot path. Every other frame
    # goes straight to ``on_frame``.
    control_frames: frozenset[type]

    def subscribe_message(self, sub: S_contra) -> str:
        """The text frame that subscribes ``sub``."""
        ...

    def subscription_key(self, sub: S_contra) -> Hashable:
        """``sub``'s identity, as ``ack_of`` returns it for its ack."""
        ...

    def ping_message(self) -> str: ...

    def decode(self, message: str | bytes) -> F:
        """One received frame."""
        ...

    def ack_of(self, frame: F) -> Hashable | None:
        """The key of the subscription a control frame acknowledges (None: not an ack, the
        frame goes to ``on_frame``). Raises to end the link (an error frame that makes the
        socket useless)."""
        ...


class LinkEvents(Protocol):
    """What the owner of one link does as it goes down and comes back."""

    async def on_down(self, reason: str) -> None:
        """Frames may be missed from now on: before the first connect (``reason`` as given to
        ``Link.run``), after a lost socket (``reconnect``), on a silence (``resubscribe``)."""

    async def on_up(self, *, resubscribed: bool) -> None:
        """Every subscription was acknowledged after a connect, or a frame came back after
        a resubscribe (``resubscribed``)."""

    def on_lost(self, error: str, *, was_up: bool) -> None:
        """The socket is gone (``was_up``: its session got all its acks); a reconnect follows
        after the backoff."""

    def on_silent(self, silent_s: float) -> None:
        """No frame for ``silent_s``: every subscription is sent again."""


@dataclass(eq=False)
class _Session:
    """One socket's state while it is open."""

    ws: WebSocketConnection
    last_rx: float
    pending: set[Hashable]
    sent: trio.Event = field(default_factory=trio.Event)
    acked: trio.Event = field(default_factory=trio.Event)
    # Set by every frame received; renewed when a silence makes us resubscribe.
    heard: trio.Event = field(default_factory=trio.Event)
    # ``last_rx`` of the silence already answered by a resubscribe (one per silence).
    resubscribed_for: float | None = None

    def ack(self, key: Hashable) -> None:
        self.pending.discard(key)
        if not self.pending:
            self.acked.set()


class Link(Generic[S, F]):
    """One socket to ``settings.url`` kept subscribed to ``subscriptions``."""

    def __init__(
        self,
        settings: LinkSettings,
        limits: LinkLimits,
        venue: Venue[S, F],
        subscriptions: Sequence[S],
        *,
        on_frame: Callable[[F], Awaitable[None]],
        events: LinkEvents,
        name: str,
        rng: random.Random | None = None,
        stats: LinkStatistics | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.venue = venue
        self.subscriptions = list(subscriptions)
        self.on_frame = on_frame
        self.events = events
        self.name = name
        self.rng = rng or random.Random()
        # Several links may count into one owner's statistics.
        self.stats = stats if stats is not None else LinkStatistics()
        # The current session got all its acks.
        self.up = False

    async def run(self, reason: str = "start-up") -> NoReturn:
        """Connect, subscribe, read; reconnect after every failure, until cancelled."""
        settings = self.settings
        attempt = 0
        await self.events.on_down(reason)
        while True:
            self.up = False
            try:
                await self._session()
                error = "connection ended"
            except Exception as exc:
                error = describe_error(exc)
            await self.events.on_down("reconnect")
            self.events.on_lost(error, was_up=self.up)
            if self.up:
                attempt = 0
            self.stats.reconnects += 1
            delay = backoff_s(attempt, settings.backoff_initial_s, settings.backoff_max_s, self.rng)
            attempt += 1
            log.warning("%s lost (%s); reconnecting in %.1fs", self.name, error, delay)
            await trio.sleep(delay)

    async def _session(self) -> None:
        settings = self.settings
        async with self.limits.connections:
            await spend(self.limits.connects)
            async with open_websocket_url(
                settings.url,
                message_queue_size=settings.message_queue,
                max_message_size=settings.max_message_bytes,
                connect_timeout=settings.connect_timeout_s,
                disconnect_timeout=settings.disconnect_timeout_s,
            ) as ws:
                self.stats.connects += 1
                keys = {self.venue.subscription_key(sub) for sub in self.subscriptions}
                session = _Session(ws, trio.current_time(), keys)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watchdog, session, nursery)
                    nursery.start_soon(self._pinger, ws)
                    nursery.start_soon(self._subscribe, session)
                    nursery.start_soon(self._after_acks, session)
                    await self._receive(session)

    async def _send_subscriptions(self, ws: WebSocketConnection) -> None:
        # One frame per subscription, paced by the per-IP message budget.
        for sub in self.subscriptions:
            await spend(self.limits.messages)
            await ws.send_message(self.venue.subscribe_message(sub))

    async def _subscribe(self, session: _Session) -> None:
        await self._send_subscriptions(session.ws)
        self.stats.subscribed += len(self.subscriptions)
        session.sent.set()

    async def _pinger(self, ws: WebSocketConnection) -> None:
        ping = self.venue.ping_message()
        while True:
            await trio.sleep(self.settings.ping_interval_s)
            await spend(self.limits.messages)
            await ws.send_message(ping)

    async def _watchdog(self, session: _Session, nursery: trio.Nursery) -> None:
        """Escalate a silence: resubscribe in place first, then declare the link dead."""
        timeout = self.settings.silence_timeout_s
        resubscribe_s = self.settings.resubscribe_after_s
        while True:
            silent_since = session.last_rx
            if trio.current_time() >= silent_since + timeout:
                raise DeadLink(f"no frame for {timeout:.0f}s: dead link")
            due = resubscribe_s < timeout and session.resubscribed_for != silent_since
            if due and trio.current_time() >= silent_since + resubscribe_s:
                session.resubscribed_for = silent_since
                nursery.start_soon(self._resubscribe, session)
                continue
            await trio.sleep_until(silent_since + (resubscribe_s if due else timeout))

    async def _resubscribe(self, session: _Session) -> None:
        """Send every subscription again on this socket; up again once anything comes back
        (an ack, an error, data)."""
        if not session.acked.is_set():
            return  # still subscribing: the ack timeout covers this socket
        session.heard = trio.Event()
        self.stats.resubscribes += 1
        silent_s = trio.current_time() - session.last_rx
        log.warning("%s silent for %.0fs; resubscribing", self.name, silent_s)
        self.events.on_silent(silent_s)
        await self.events.on_down("resubscribe")
        await self._send_subscriptions(session.ws)
        await session.heard.wait()
        await self.events.on_up(resubscribed=True)

    async def _after_acks(self, session: _Session) -> None:
        await session.sent.wait()
        timeout = self.settings.ack_timeout_s
        with trio.move_on_after(timeout) as scope:
            await session.acked.wait()
        if scope.cancelled_caught:
            missing = ", ".join(_show(k) for k in sorted(session.pending, key=str))
            raise SubscribeTimeout(f"not acknowledged within {timeout:.0f}s: {missing}")
        self.up = True
        await self.events.on_up(resubscribed=False)

    async def _receive(self, session: _Session) -> None:
        venue, stats, on_frame = self.venue, self.stats, self.on_frame
        get_message, decode = session.ws.get_message, venue.decode
        bad_frame, control = venue.bad_frame_errors, venue.control_frames
        while True:
            message = await get_message()
            session.last_rx = trio.current_time()
            session.heard.set()
            stats.frames += 1
            try:
                frame = decode(message)
            except bad_frame as exc:
                stats.bad_frames += 1
                log.warning("%s: undecodable frame skipped: %s", self.name, exc)
                continue
            if type(frame) in control:
                key = venue.ack_of(frame)
                if key is not None:
                    session.ack(key)
                    continue
            await on_frame(frame)


def _show(key: Hashable) -> str:
    if isinstance(key, tuple):
        return "/".join(str(k) for k in key if k)
    return str(key)
