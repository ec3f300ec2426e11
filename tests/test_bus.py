"""The bus: fan-out by type, lossless backpressure, both lossy policies, statistics, drain."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from marketmem.bus import Bus, BusClosed, Policy
from marketmem.events import Event


class Ping(Event):
    n: int


class Pong(Event):
    n: int


async def drain(rx: trio.MemoryReceiveChannel[Event]) -> list[int]:
    out: list[int] = []
    async for ev in rx:
        out.append(ev.n)  # type: ignore[attr-defined]
    return out


async def test_fan_out_to_every_subscriber_of_the_type() -> None:
    bus = Bus()
    a = bus.subscribe("a", [Ping], buffer=10)
    b = bus.subscribe("b", [Ping, Pong], buffer=10)
    c = bus.subscribe("c", [Pong], buffer=10)
    everything = bus.subscribe("all", None, buffer=10)
    await bus.publish(Ping(n=1))
    await bus.publish(Pong(n=2))
    bus.close()
    assert await drain(a) == [1]
    assert await drain(b) == [1, 2]
    assert await drain(c) == [2]
    assert await drain(everything) == [1, 2]


async def test_lossless_publisher_waits_for_a_full_subscriber() -> None:
    bus = Bus()
    rx = bus.subscribe("slow", [Ping], buffer=2, policy=Policy.LOSSLESS)
    published: list[int] = []

    async def publisher() -> None:
        for i in range(5):
            await bus.publish(Ping(n=i))
            published.append(i)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publisher)
        await trio.testing.wait_all_tasks_blocked()
        assert published == [0, 1]  # the third publish waits for room
        received = [(await rx.receive()).n for _ in range(5)]  # type: ignore[attr-defined]
    assert received == [0, 1, 2, 3, 4]
    stats = bus.statistics().subscribers[0]
    assert stats.dropped == 0 and stats.delivered == 5


async def test_drop_newest_counts_drops() -> None:
    bus = Bus()
    rx = bus.subscribe("lossy", [Ping], buffer=3, policy=Policy.DROP_NEWEST)
    for i in range(10):
        await bus.publish(Ping(n=i))
    stats = bus.statistics().subscribers[0]
    assert stats.queued == 3 and stats.dropped == 7
    bus.close()
    assert await drain(rx) == [0, 1, 2]


async def test_drop_oldest_keeps_the_newest() -> None:
    bus = Bus()
    rx = bus.subscribe("mids", [Ping], buffer=3, policy=Policy.DROP_OLDEST)
    for i in range(10):
        bus.publish_nowait(Ping(n=i))
    assert bus.statistics().subscribers[0].dropped == 7
    bus.close()
    assert await drain(rx) == [7, 8, 9]


async def test_lossy_subscriber_never_blocks_lossless_one() -> None:
    bus = Bus()
    slow = bus.subscribe("slow-view", [Ping], buffer=1, policy=Policy.DROP_NEWEST)
    store = bus.subscribe("store", [Ping], buffer=100, policy=Policy.LOSSLESS)
    for i in range(50):
        await bus.publish(Ping(n=i))
    bus.close()
    assert await drain(store) == list(range(50))
    assert await drain(slow) == [0]
    by_name = {s.name: s for s in bus.statistics().subscribers}
    assert by_name["slow-view"].dropped == 49
    assert by_name["store"].dropped == 0


async def test_close_lets_every_subscriber_drain_to_the_end() -> None:
    bus = Bus()
    subs = [bus.subscribe(f"s{i}", [Ping], buffer=100) for i in range(3)]
    for i in range(20):
        await bus.publish(Ping(n=i))
    bus.close()
    results: dict[int, list[int]] = {}

    async def consume(i: int, rx: trio.MemoryReceiveChannel[Event]) -> None:
        results[i] = await drain(rx)

    async with trio.open_nursery() as nursery:
        for i, rx in enumerate(subs):
            nursery.start_soon(consume, i, rx)
    assert all(results[i] == list(range(20)) for i in range(3))
    with pytest.raises(BusClosed):
        await bus.publish(Ping(n=99))
    assert bus.statistics().closed


async def test_publish_with_no_subscriber_is_fine_and_counted() -> None:
    bus = Bus()
    await bus.publish(Ping(n=1))
    assert bus.statistics().published == 1


def test_subscribe_rejects_empty_buffer() -> None:
    with pytest.raises(ValueError):
        Bus().subscribe("x", [Ping], buffer=0)


async def test_unsubscribe_removes_a_subscriber_at_once() -> None:
    bus = Bus()
    stays = bus.subscribe("stays", [Ping], buffer=10)
    leaves = bus.subscribe("client", [Ping], buffer=3, policy=Policy.DROP_OLDEST)
    for i in range(5):
        await bus.publish(Ping(n=i))
    assert bus.dropped(leaves) == 2
    bus.unsubscribe(leaves)
    bus.unsubscribe(leaves)  # idempotent
    await bus.publish(Ping(n=5))
    assert [s.name for s in bus.statistics().subscribers] == ["stays"]
    assert bus.dropped(leaves) == 0
    # What was queued drains, then it ends.
    assert await drain(leaves) == [2, 3, 4]
    bus.close()
    assert await drain(stays) == [0, 1, 2, 3, 4, 5]


async def test_a_publisher_waiting_on_a_subscriber_that_leaves_goes_on() -> None:
    bus = Bus()
    full = bus.subscribe("full", [Ping], buffer=1, policy=Policy.LOSSLESS)
    after = bus.subscribe("after", [Ping], buffer=10)
    await bus.publish(Ping(n=0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.publish, Ping(n=1))
        await trio.testing.wait_all_tasks_blocked()  # waiting for room in "full"
        bus.unsubscribe(full)
    bus.close()
    assert await drain(after) == [0, 1]
    assert await drain(full) == [0]
