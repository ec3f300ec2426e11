"""The WebSocket link with a second, made-up venue (MockClock): nothing Hyperliquid about it.

The toy venue is a trio-websocket server on 127.0.0.1 speaking plain words: the client sends
``SUB <topic>`` (acked ``OK <topic>``) and ``PING`` (answered ``PONG``); the server pushes
``DATA <topic> <n>`` every second per topic, and ``ERR <text>`` ends a link. The same
``marketmem.wslink.Link`` the Hyperliquid stream uses connects, subscribes, receives, and
survives a dropped socket, a silent server and refused handshakes, within its limits.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import pytest
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    serve_websocket,
)

from marketmem.wslink import (
    BadFrame,
    Link,
    LinkLimits,
    LinkSettings,
    backoff_s,
)


class Okay(NamedTuple):
    topic: str


class Data(NamedTuple):
    topic: str
    n: int


class Pong(NamedTuple):
    pass


class Refusal(NamedTuple):
    text: str


ToyFrame = Okay | Data | Pong | Refusal


class ToyRefused(Exception):
    """The toy venue's ``ERR`` frame."""


class ToyVenue:
    """The toy venue's words, as a ``wslink.Venue``."""

    bad_frame_errors: tuple[type[Exception], ...] = (BadFrame,)
    control_frames: frozenset[type] = frozenset((Okay, Refusal))

    def subscribe_message(self, sub: str) -> str:
        return f"SUB {sub}"

    def subscription_key(self, sub: str) -> str:
        return sub

    def ping_message(self) -> str:
        return "PING"

    def decode(self, message: str | bytes) -> ToyFrame:
        verb, _, rest = message.partition(" ") if isinstance(message, str) else ("", "", "")
        if verb == "DATA":
            topic, _, n = rest.partition(" ")
            return Data(topic, int(n))
        if verb == "OK":
            return Okay(rest)
        if verb == "PONG":
            return Pong()
        if verb == "ERR":
            return Refusal(rest)
        raise BadFrame(f"not a toy frame: {message!r}")

    def ack_of(self, frame: ToyFrame) -> str | None:
        if isinstance(frame, Refusal):
            raise ToyRefused(frame.text)
        return frame.topic if isinstance(frame, Okay) else None


@dataclass
class ToyEvents:
    """Records what the link reports, with the (virtual) time."""

    log: list[tuple[float, str, object]] = field(default_factory=list)
    data: list[Data] = field(default_factory=list)
    losses: list[tuple[str, bool]] = field(default_factory=list)  # (error, was_up)
    up: trio.Event = field(default_factory=trio.Event)

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.log]

    def of(self, kind: str) -> list[object]:
        return [what for _, k, what in self.log if k == kind]

    async def on_frame(self, frame: ToyFrame) -> None:
        assert not isinstance(frame, Okay)  # acks stay with the link
        if isinstance(frame, Data):
            self.data.append(frame)

    async def on_down(self, reason: str) -> None:
        self.log.append((trio.current_time(), "down", reason))

    async def on_up(self, *, resubscribed: bool) -> None:
        self.log.append((trio.current_time(), "up", resubscribed))
        self.up.set()

    def on_lost(self, error: str, *, was_up: bool) -> None:
        self.log.append((trio.current_time(), "lost", error))
        self.losses.append((error, was_up))

    def on_silent(self, silent_s: float) -> None:
        self.log.append((trio.current_time(), "silent", silent_s))


class ToyServer:
    """The toy venue's server side, with switches for faults."""

    def __init__(self) -> None:
        self.port = 0
        self.attempts: list[float] = []  # handshake times, accepted or not
        self.connections = 0
        self.open: list[WebSocketConnection] = []
        self.received: list[tuple[float, str]] = []
        self.reject = False
        self.silent = False  # nothing is sent: no acks, no pongs, no data
        self.counter = 0

    async def handler(self, request: WebSocketRequest) -> None:
        self.attempts.append(trio.current_time())
        if self.reject:
            await request.reject(503, body=b"busy")
            return
        ws = await request.accept()
        self.connections += 1
        self.open.append(ws)
        topics: list[str] = []
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._push, ws, topics)
                while True:
                    message = await ws.get_message()
                    assert isinstance(message, str)
                    self.received.append((trio.current_time(), message))
                    verb, _, arg = message.partition(" ")
                    if self.silent:
                        continue
                    if verb == "SUB":
                        topics.append(arg)
                        await ws.send_message(f"OK {arg}")
                    elif verb == "PING":
                        await ws.send_message("PONG")
        except* ConnectionClosed:
            pass  # the client went away (or the server dropped it)
        finally:
            self.open.remove(ws)

    async def _push(self, ws: WebSocketConnection, topics: list[str]) -> None:
        while True:
            await trio.sleep(1)
            if self.silent:
                continue
            for topic in topics:
                self.counter += 1
                await ws.send_message(f"DATA {topic} {self.counter}")

    async def drop(self) -> None:
        """Close every socket from the server's side."""
        for ws in list(self.open):
            await ws.aclose(code=1011, reason="going away")

    async def send(self, text: str) -> None:
        for ws in list(self.open):
            await ws.send_message(text)

    def sent(self, verb: str) -> list[float]:
        return [t for t, m in self.received if m.split()[0] == verb]


@asynccontextmanager
async def toy_server() -> AsyncIterator[ToyServer]:
    server = ToyServer()
    async with trio.open_nursery() as nursery:
        ws_server = await nursery.start(
            partial(serve_websocket, server.handler, "127.0.0.1", 0, ssl_context=None)
        )
        server.port = ws_server.port
        yield server
        nursery.cancel_scope.cancel()


def settings(server: ToyServer, **kw: float) -> LinkSettings:
    base = LinkSettings(
        url=f"ws://127.0.0.1:{server.port}/toy",
        connect_timeout_s=5.0,
        ping_interval_s=4.0,
        resubscribe_after_s=6.0,
        silence_timeout_s=15.0,
        backoff_initial_s=1.0,
        backoff_max_s=8.0,
        ack_timeout_s=3.0,
    )
    return dataclasses.replace(base, **kw)


def limits(**kw: int) -> LinkLimits:
    values = {"max_connections": 5, "messages_per_minute": 1000, "connects_per_minute": 1000}
    values.update(kw)
    return LinkLimits(**values)


def toy_link(
    server: ToyServer,
    events: ToyEvents,
    topics: tuple[str, ...] = ("red", "blue"),
    *,
    link_limits: LinkLimits | None = None,
    seed: int = 1,
    **kw: float,
) -> Link[str, ToyFrame]:
    return Link(
        settings(server, **kw),
        link_limits or limits(),
        ToyVenue(),
        topics,
        on_frame=events.on_frame,
        events=events,
        name="toy link",
        rng=random.Random(seed),
    )


async def wait_for(check: Callable[[], bool], timeout_s: float = 300) -> float:
    with trio.fail_after(timeout_s):
        while not check():
            await trio.sleep(0.05)
    return trio.current_time()


async def test_connects_subscribes_and_receives(autojump_clock: trio.testing.MockClock) -> None:
    events = ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        link = toy_link(server, events)
        nursery.start_soon(link.run, "start-up")
        await wait_for(lambda: len(events.data) >= 6)
        await trio.sleep(10)  # pings keep the link alive: no silence
        nursery.cancel_scope.cancel()
    assert events.log[0][1:] == ("down", "start-up")
    assert events.log[1][1:] == ("up", False)
    assert [m for _, m in server.received[:2]] == ["SUB red", "SUB blue"]
    assert {f.topic for f in events.data} == {"red", "blue"}
    assert server.sent("PING") and link.stats.connects == 1 and link.stats.reconnects == 0
    assert link.stats.subscribed == 2 and link.stats.resubscribes == 0
    assert "silent" not in events.kinds() and "lost" not in events.kinds()


async def test_a_dropped_socket_reconnects_and_resubscribes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        link = toy_link(server, events, seed=5)
        nursery.start_soon(link.run, "start-up")
        await events.up.wait()
        await trio.sleep(3)
        events.up = trio.Event()
        dropped_at = trio.current_time()
        await server.drop()
        await events.up.wait()
        back_at = trio.current_time()
        seen = len(events.data)
        await trio.sleep(3)
        assert len(events.data) > seen  # data flows on the new socket
        nursery.cancel_scope.cancel()
    assert server.connections == 2 and link.stats.reconnects == 1
    assert [m for _, m in server.received].count("SUB red") == 2
    assert events.kinds()[:5] == ["down", "up", "down", "lost", "up"]
    assert events.log[2][2] == "reconnect"
    error, was_up = events.losses[0]
    assert was_up and "ConnectionClosed" in error
    # The first reconnect waits the first backoff step: [0.5, 1] x initial.
    assert 0.5 <= back_at - dropped_at <= 1.0 + 0.01


async def test_a_silent_server_is_resubscribed_then_declared_dead_then_reconnected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        link = toy_link(server, events)
        nursery.start_soon(link.run, "start-up")
        await events.up.wait()
        await trio.sleep(2.5)
        server.silent = True
        last_frame = trio.current_time() - 0.5  # the last push came on the second
        await wait_for(lambda: link.stats.resubscribes >= 1)
        resubscribed_at = trio.current_time()
        await wait_for(lambda: link.stats.reconnects >= 1)
        dead_at = trio.current_time()
        server.silent = False
        events.up = trio.Event()
        await events.up.wait()
        await trio.sleep(3)
        nursery.cancel_scope.cancel()
    # Silent for resubscribe_after_s (6 s): every subscription sent again on the same socket.
    assert 6 - 0.1 <= resubscribed_at - last_frame <= 6 + 1
    subs = [t for t, m in server.received if m.startswith("SUB")]
    assert len([t for t in subs if resubscribed_at - 0.1 <= t <= resubscribed_at + 0.1]) == 2
    # Still silent at silence_timeout_s (15 s): dead, one resubscribe per silence, reconnected.
    assert 15 - 0.1 <= dead_at - last_frame <= 15 + 1
    assert link.stats.resubscribes == 1 and server.connections == 2
    kinds = events.kinds()
    assert kinds[:6] == ["down", "up", "silent", "down", "down", "lost"]
    assert events.of("down")[:3] == ["start-up", "resubscribe", "reconnect"]
    error, was_up = events.losses[0]
    assert "DeadLink" in error and "dead link" in error and was_up
    assert kinds[-1] == "up" and len(events.data) > 0


async def test_a_silence_that_ends_is_recovered_on_the_same_socket(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        link = toy_link(server, events)
        nursery.start_soon(link.run, "start-up")
        await events.up.wait()
        server.silent = True
        await wait_for(lambda: link.stats.resubscribes >= 1)
        server.silent = False
        await wait_for(lambda: events.kinds().count("up") >= 2)
        await trio.sleep(20)
        nursery.cancel_scope.cancel()
    assert server.connections == 1 and link.stats.reconnects == 0
    assert events.of("up") == [False, True]  # up again after the resubscribe
    assert events.of("down") == ["start-up", "resubscribe"]


async def test_refused_handshakes_back_off_capped_and_jittered_then_reset(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        server.reject = True
        link = toy_link(server, events, seed=11, backoff_initial_s=1.0, backoff_max_s=8.0)
        nursery.start_soon(link.run, "start-up")
        await wait_for(lambda: len(server.attempts) >= 7)
        server.reject = False
        await events.up.wait()
        events.up = trio.Event()
        reconnects = link.stats.reconnects
        dropped_at = trio.current_time()
        await server.drop()
        await events.up.wait()
        nursery.cancel_scope.cancel()
    assert reconnects == 7 and len(server.attempts) == 9
    rng = random.Random(11)
    expected = [backoff_s(a, 1.0, 8.0, rng) for a in range(reconnects)]
    waits = [b - a for a, b in itertools.pairwise(server.attempts[: reconnects + 1])]
    # Between attempts, exactly the backoff: doubling, capped at 8 s, jittered.
    assert waits == pytest.approx(expected, abs=0.01)
    assert max(waits) <= 8.0 and waits[5] > 4.0
    # A session that got its acks resets the backoff: the drop after it waits the first step.
    after_drop = server.attempts[-1] - dropped_at
    assert after_drop == pytest.approx(backoff_s(0, 1.0, 8.0, rng), abs=0.01)
    assert after_drop <= 1.0 + 0.01
    failed = events.losses[:reconnects]
    assert all(not was_up and "ConnectionRejected" in error for error, was_up in failed)


async def test_undecodable_frames_are_skipped_and_an_error_frame_ends_the_link(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        link = toy_link(server, events)
        nursery.start_soon(link.run, "start-up")
        await events.up.wait()
        await server.send("garbage here")
        await trio.sleep(2)
        assert link.stats.bad_frames == 1 and link.stats.reconnects == 0
        await server.send("ERR too many topics")
        await wait_for(lambda: link.stats.reconnects == 1)
        nursery.cancel_scope.cancel()
    error, was_up = events.losses[0]
    assert "ToyRefused: too many topics" in error and was_up


async def test_unacknowledged_subscriptions_fail_the_session(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events = ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        server.silent = True
        link = toy_link(server, events, ack_timeout_s=3.0)
        nursery.start_soon(link.run, "start-up")
        await wait_for(lambda: link.stats.reconnects >= 1)
        nursery.cancel_scope.cancel()
    error, was_up = events.losses[0]
    assert not was_up
    assert "SubscribeTimeout: not acknowledged within 3s: blue, red" in error


async def test_messages_are_paced_by_the_shared_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Three messages a minute for two links: six subscriptions take two more minutes."""
    events = ToyEvents()
    shared = limits(messages_per_minute=3)
    async with toy_server() as server, trio.open_nursery() as nursery:
        for topics in (("a", "b", "c"), ("d", "e", "f")):
            # A link whose subscriptions wait for the budget hears nothing meanwhile: no
            # ping, no silence escalation in this test.
            link = toy_link(
                server,
                events,
                topics,
                link_limits=shared,
                ping_interval_s=1000,
                resubscribe_after_s=1000,
                silence_timeout_s=1000,
            )
            nursery.start_soon(link.run, "start-up")
        await wait_for(lambda: events.kinds().count("up") == 2)
        nursery.cancel_scope.cancel()
    subs = sorted(server.sent("SUB"))
    assert len(subs) == 6
    for i, t in enumerate(subs):
        assert t == pytest.approx(60.0 * (i // 3), abs=0.01)


async def test_connections_and_connects_stay_within_the_shared_limits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One connection at a time for two links; two new connections a minute."""
    shared = limits(max_connections=1, connects_per_minute=2)
    first, second = ToyEvents(), ToyEvents()
    async with toy_server() as server, trio.open_nursery() as nursery:
        scope = trio.CancelScope()

        async def run_first() -> None:
            with scope:
                await toy_link(server, first, ("a",), link_limits=shared).run()

        nursery.start_soon(run_first)
        await first.up.wait()
        nursery.start_soon(toy_link(server, second, ("b",), link_limits=shared).run)
        await trio.sleep(30)
        assert server.connections == 1 and not second.up.is_set()  # waits for a slot
        scope.cancel()
        await second.up.wait()
        assert trio.current_time() == pytest.approx(30, abs=0.01)
        # Dropped at once, the second link may reconnect only once a connect left the window.
        await server.drop()
        await wait_for(lambda: server.connections == 3)
        nursery.cancel_scope.cancel()
    assert server.attempts[2] == pytest.approx(60.0, abs=0.01)


def test_backoff_is_capped_and_jittered() -> None:
    rng = random.Random(3)
    delays = [backoff_s(a, 1.0, 60.0, rng) for a in range(12)]
    assert all(0.5 <= d <= 1.0 for d in delays[:1])
    assert all(d <= 60.0 for d in delays) and delays[-1] >= 30.0
    assert len({round(d, 6) for d in delays[8:]}) > 1  # jittered, not constant


def test_backoff_doubles_up_to_the_cap() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [backoff_s(a, 0.5, 5.0, Top()) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff_s(10_000, 0.5, 5.0, Top()) == 5.0  # no overflow for long outages
