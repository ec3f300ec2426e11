"""The in-process message bus: typed fan-out over one trio memory channel per subscriber.

Trio channel clones share one queue (each item goes to one receiver), so broadcasting needs
a channel per subscriber; ``publish`` loops over the subscribers of the event's type.

Each subscriber declares a bounded buffer and a policy for when it is full:

- ``LOSSLESS``: the publisher waits (the storage writer: nothing may be lost).
- ``DROP_NEWEST``: the new event is dropped and counted.
- ``DROP_OLDEST``: the oldest queued event is dropped and counted (lossy views such as mids,
  where the newest value is the one that matters).

``close()`` closes every send side synchronously; subscribers then drain what is queued and
see ``trio.EndOfChannel``. NOTE: only the bus holds send handles; subscribers only receive.

A subscriber that leaves before the bus closes (an HTTP stream client that disconnects) calls
``unsubscribe``: it is gone from the fan-out and from ``statistics()`` at once, and a publish
under way skips it. ``dropped(receive)`` is one subscriber's drop count, for a lossy view that
tells its own consumer how much it lost.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import trio

from marketmem.events import Event


class Policy(enum.Enum):
    LOSSLESS = "lossless"
    DROP_NEWEST = "drop_newest"
    DROP_OLDEST = "drop_oldest"


@dataclass(frozen=True)
class SubscriberStatistics:
    name: str
    policy: str
    buffer: int
    queued: int
    delivered: int
    dropped: int


@dataclass(frozen=True)
class BusStatistics:
    subscribers: tuple[SubscriberStatistics, ...]
    published: int
    closed: bool


@dataclass
class _Subscriber:
    name: str
    types: frozenset[type[Event]] | None
    policy: Policy
    buffer: int
    send: trio.MemorySendChannel[Event]
    # A clone of the receive side, used only by DROP_OLDEST to evict the oldest item.
    evict: trio.MemoryReceiveChannel[Event] | None
    # The receive side handed out, by which ``unsubscribe`` and ``dropped`` find this one.
    receive: trio.MemoryReceiveChannel[Event]
    delivered: int = 0
    dropped: int = 0


class BusClosed(Exception):
    """publish() after close()."""


class Bus:
    """Fan-out of published events to subscribers by event type."""

    def __init__(self) -> None:
        self._subscribers: list[_Subscriber] = []
        self._by_receive: dict[int, _Subscriber] = {}
        self._by_type: dict[type[Event], list[_Subscriber]] = {}
        self._published = 0
        self._closed = False

    def subscribe(
        self,
        name: str,
        types: Iterable[type[Event]] | None = None,
        *,
        buffer: int = 1000,
        policy: Policy = Policy.LOSSLESS,
    ) -> trio.MemoryReceiveChannel[Event]:
        """Register a subscriber for ``types`` (None: every event); returns its receive side."""
        if self._closed:
            raise BusClosed(f"bus is closed; cannot subscribe {name!r}")
        if buffer < 1:
            raise ValueError("a subscriber needs a buffer of at least 1")
        send, receive = trio.open_memory_channel[Event](buffer)
        sub = _Subscriber(
            name=name,
            types=frozenset(types) if types is not None else None,
            policy=policy,
            buffer=buffer,
            send=send,
            evict=receive.clone() if policy is Policy.DROP_OLDEST else None,
            receive=receive,
        )
        self._subscribers.append(sub)
        self._by_receive[id(receive)] = sub
        self._by_type.clear()
        return receive

    def unsubscribe(self, receive: trio.MemoryReceiveChannel[Event]) -> None:
        """Remove the subscriber of ``receive`` (what ``subscribe`` returned): it gets no more
        events, leaves ``statistics()``, and drains what is queued to ``EndOfChannel``. A
        publisher waiting on it (lossless) goes on to the next subscriber. Idempotent."""
        sub = self._by_receive.pop(id(receive), None)
        if sub is None:
            return
        self._subscribers.remove(sub)
        self._by_type.clear()
        sub.send.close()
        if sub.evict is not None:
            sub.evict.close()

    def dropped(self, receive: trio.MemoryReceiveChannel[Event]) -> int:
        """Events dropped so far for the subscriber of ``receive`` (0 once it has left)."""
        sub = self._by_receive.get(id(receive))
        return sub.dropped if sub is not None else 0

    def _targets(self, event_type: type[Event]) -> list[_Subscriber]:
        targets = self._by_type.get(event_type)
        if targets is None:
            targets = [s for s in self._subscribers if s.types is None or event_type in s.types]
            self._by_type[event_type] = targets
        return targets

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber of its type, honouring each one's policy."""
        if self._closed:
            raise BusClosed(f"bus is closed; dropped {type(event).__name__}")
        self._published += 1
        for sub in self._targets(type(event)):
            if sub.policy is Policy.LOSSLESS:
                try:
                    await sub.send.send(event)
                except trio.ClosedResourceError:
                    continue  # it unsubscribed meanwhile: it has left
                sub.delivered += 1
            else:
                self._offer(sub, event)
        await trio.lowlevel.checkpoint_if_cancelled()

    def publish_nowait(self, event: Event) -> None:
        """Deliver without waiting; a full LOSSLESS subscriber raises trio.WouldBlock."""
        if self._closed:
            raise BusClosed(f"bus is closed; dropped {type(event).__name__}")
        self._published += 1
        for sub in self._targets(type(event)):
            if sub.policy is Policy.LOSSLESS:
                try:
                    sub.send.send_nowait(event)
                except trio.ClosedResourceError:
                    continue
                sub.delivered += 1
            else:
                self._offer(sub, event)

    @staticmethod
    def _offer(sub: _Subscriber, event: Event) -> None:
        try:
            sub.send.send_nowait(event)
            sub.delivered += 1
            return
        except trio.WouldBlock:
            pass
        except trio.BrokenResourceError:
            # The subscriber closed its receive side: it has left; count as dropped.
            sub.dropped += 1
            return
        except trio.ClosedResourceError:
            return  # unsubscribed while a publish was under way: it has left
        sub.dropped += 1
        if sub.policy is Policy.DROP_OLDEST and sub.evict is not None:
            try:
                sub.evict.receive_nowait()
                sub.send.send_nowait(event)
                sub.delivered += 1
            except (
                trio.WouldBlock,
                trio.EndOfChannel,
                trio.BrokenResourceError,
                trio.ClosedResourceError,
            ):
                pass

    def close(self) -> None:
        """Close every send side (synchronously); subscribers drain and then end."""
        if self._closed:
            return
        self._closed = True
        for sub in self._subscribers:
            sub.send.close()
            if sub.evict is not None:
                sub.evict.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def statistics(self) -> BusStatistics:
        subs = []
        for s in self._subscribers:
            queued = s.send.statistics().current_buffer_used
            subs.append(
                SubscriberStatistics(
                    name=s.name,
                    policy=s.policy.value,
                    buffer=s.buffer,
                    queued=queued,
                    delivered=s.delivered,
                    dropped=s.dropped,
                )
            )
        return BusStatistics(
            subscribers=tuple(subs), published=self._published, closed=self._closed
        )
