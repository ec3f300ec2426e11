"""The service's in-process telemetry: samples of commits, queue and drops, skips per slot, in
bounded memory; and the actor that fills it from a real bus under MockClock."""

from __future__ import annotations

import math

import trio
import trio.testing

from marketmem.bus import Bus, BusStatistics, Policy, SubscriberStatistics
from marketmem.clock import TrioWallClock
from marketmem.events import Committed, RunStarted
from marketmem.telemetry import Telemetry, run_telemetry
from tests.conftest import T0_MS

SLOT = 15 * 60_000
KEY = ("hyperliquid", "registry")


def bus_stats(queued: int = 0, dropped: int = 0, lossy_dropped: int = 0) -> BusStatistics:
    return BusStatistics(
        subscribers=(
            SubscriberStatistics("storage-writer", "lossless", 100, queued, 0, dropped),
            SubscriberStatistics("view", "drop_oldest", 10, 0, 0, lossy_dropped),
        ),
        published=0,
        closed=False,
    )


def test_a_sample_holds_its_interval_commits_and_then_starts_afresh() -> None:
    t = Telemetry(T0_MS)
    for latency in (0.010, 0.030, math.nan, -1.0):
        t.commit(latency)
    s = t.sample(T0_MS + 5_000, bus_stats(queued=7), {})
    assert (s.commits, s.latency_max_s, s.writer_queued, s.writer_buffer) == (4, 0.030, 7, 100)
    assert s.latency_mean_s is not None and math.isclose(s.latency_mean_s, 0.020)
    empty = t.sample(T0_MS + 10_000, bus_stats(), {})
    assert (empty.commits, empty.latency_max_s, empty.latency_mean_s) == (0, None, None)


def test_only_nan_latencies_count_commits_without_a_latency() -> None:
    t = Telemetry(T0_MS)
    t.commit(math.nan)
    s = t.sample(T0_MS, bus_stats(), {})
    assert (s.commits, s.latency_max_s, s.latency_mean_s) == (1, None, None)


def test_drops_are_counted_per_interval_over_every_subscriber() -> None:
    t = Telemetry(T0_MS)
    assert t.sample(T0_MS, bus_stats(lossy_dropped=3), {}).dropped == 3
    assert t.sample(T0_MS + 5_000, bus_stats(lossy_dropped=3), {}).dropped == 0
    assert t.sample(T0_MS + 10_000, bus_stats(dropped=1, lossy_dropped=5), {}).dropped == 3
    view = t.view()
    assert [s.name for s in view.subscribers] == ["storage-writer", "view"]


def test_no_writer_subscription_reads_as_an_empty_queue() -> None:
    t = Telemetry(T0_MS)
    s = t.sample(T0_MS, BusStatistics(subscribers=(), published=0, closed=True), {})
    assert (s.writer_queued, s.writer_buffer, s.dropped) == (0, 0, 0)


def test_skips_after_the_baseline_land_in_the_slot_of_their_sample() -> None:
    t = Telemetry(T0_MS)
    t.baseline({KEY: 4})  # skips before the service's telemetry started do not count
    t.sample(T0_MS + 1_000, bus_stats(), {KEY: 4})
    t.sample(T0_MS + 2_000, bus_stats(), {KEY: 6})
    t.sample(T0_MS + 3_000, bus_stats(), {KEY: 7})
    t.sample(T0_MS + SLOT + 1, bus_stats(), {KEY: 8, ("polymarket", "discovery"): 1})
    assert t.view().skips == {
        KEY: ((T0_MS, 3), (T0_MS + SLOT, 1)),
        ("polymarket", "discovery"): ((T0_MS + SLOT, 1),),
    }


def test_memory_is_bounded() -> None:
    t = Telemetry(T0_MS, capacity=3, slots=2)
    for i in range(10):
        t.sample(T0_MS + i * SLOT, bus_stats(), {KEY: i})
    view = t.view()
    assert [s.at_ms for s in view.samples] == [T0_MS + i * SLOT for i in (7, 8, 9)]
    assert view.capacity == 3
    assert view.skips[KEY] == ((T0_MS + 8 * SLOT, 1), (T0_MS + 9 * SLOT, 1))


async def test_the_actor_samples_a_real_bus_on_its_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = Bus()
    writer = bus.subscribe("storage-writer", (RunStarted,), buffer=10, policy=Policy.LOSSLESS)
    view = bus.subscribe("view", (RunStarted,), buffer=1, policy=Policy.DROP_NEWEST)
    t = Telemetry(T0_MS, interval_s=5.0)
    skips = {KEY: 2}
    clock = TrioWallClock(T0_MS)
    assert clock.now_ms() == T0_MS  # its time starts now
    async with trio.open_nursery() as nursery:
        await nursery.start(run_telemetry, t, bus, clock, lambda: dict(skips))
        for latency in (0.002, 0.004):
            await bus.publish(Committed(events=1, rows_by_table={"t": 1}, latency_s=latency))
        for i in range(3):
            await bus.publish(RunStarted(run_id=f"r{i}", source="s", channel="c", started_at_ms=0))
        skips[KEY] = 3
        await trio.sleep(5.5)
        await trio.sleep(5.0)
        nursery.cancel_scope.cancel()
    first, second = t.view().samples
    assert (first.at_ms, second.at_ms) == (T0_MS + 5_000, T0_MS + 10_000)
    assert first.commits == 2 and first.latency_max_s == 0.004
    assert first.writer_queued == 3 and first.dropped == 2  # "view" kept one of three
    assert second.commits == 0 and second.dropped == 0
    assert t.view().skips == {KEY: ((T0_MS + 5_000 - (T0_MS + 5_000) % SLOT, 1),)}
    del writer, view
