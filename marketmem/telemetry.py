"""In-process statistics of the running service, kept for the dashboard's charts: the storage
writer's commit latency and queue depth, the events the bus dropped, and scheduler skips.

They exist only in the process that ingests (``bin/marketmem run``, the demo): ``serve``
has none, and its dashboard says so. ``Telemetry`` keeps them in bounded memory: a ring buffer
of ``Sample``s, one per ``interval_s`` (an hour of them by default), and each channel's skips
per slot for a day. ``run_telemetry`` is the small actor that fills it: it takes the latency
of every ``Committed`` from the bus (its own drop-oldest subscription) and closes a sample
each interval from ``Bus.statistics()`` and the skip counters.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import msgspec
import trio

from marketmem import metrics
from marketmem.bus import Bus, BusStatistics, Policy, SubscriberStatistics
from marketmem.clock import WallClock
from marketmem.events import Committed

WRITER = "storage-writer"  # the writer's bus subscription
SAMPLE_S = 5.0
SAMPLES = 720  # an hour of 5-second samples
SKIP_SLOT_MS = 15 * 60_000
SKIP_SLOTS = 96  # a day of 15-minute slots
COMMITS_BUFFER = 1000

ChannelKey = tuple[str, str]


class Sample(msgspec.Struct, frozen=True, gc=False):
    """One interval ending at ``at_ms``: commits made in it and their latency (None without
    any), the writer's queue at its end, and events the bus dropped in it."""

    at_ms: int
    commits: int
    latency_max_s: float | None
    latency_mean_s: float | None
    writer_queued: int
    writer_buffer: int
    dropped: int


@dataclass(frozen=True)
class TelemetryView:
    """What the dashboard reads: a copy, safe to hand to another thread."""

    started_at_ms: int
    interval_s: float
    capacity: int
    samples: tuple[Sample, ...]
    # (slot start, ticks skipped in it) per channel, oldest first; only slots with skips.
    skips: Mapping[ChannelKey, tuple[tuple[int, int], ...]]
    # Every bus subscriber as of the latest sample (queue, drops since start).
    subscribers: tuple[SubscriberStatistics, ...]


class Telemetry:
    def __init__(
        self,
        started_at_ms: int,
        *,
        interval_s: float = SAMPLE_S,
        capacity: int = SAMPLES,
        slot_ms: int = SKIP_SLOT_MS,
        slots: int = SKIP_SLOTS,
    ) -> None:
        self.started_at_ms = started_at_ms
        self.interval_s = interval_s
        self.slot_ms = slot_ms
        self.samples: deque[Sample] = deque(maxlen=capacity)
        self._slots = slots
        self._skips: dict[ChannelKey, deque[tuple[int, int]]] = {}
        self._skips_seen: dict[ChannelKey, int] = {}
        self._dropped_seen = 0
        self._subscribers: tuple[SubscriberStatistics, ...] = ()
        self._commits = 0
        self._timed = 0
        self._latency_sum = 0.0
        self._latency_max: float | None = None

    def commit(self, latency_s: float) -> None:
        """One commit in the current interval (a latency that is not finite counts the commit
        only)."""
        self._commits += 1
        if math.isfinite(latency_s) and latency_s >= 0:
            self._timed += 1
            self._latency_sum += latency_s
            self._latency_max = max(latency_s, self._latency_max or 0.0)

    def baseline(self, skips: Mapping[ChannelKey, int]) -> None:
        """Skip counters as they stand before the first sample: only later skips count."""
        self._skips_seen = dict(skips)

    def sample(self, now_ms: int, bus: BusStatistics, skips: Mapping[ChannelKey, int]) -> Sample:
        """Close the current interval at ``now_ms``: its commits, the writer's queue, what was
        dropped since the last sample, and new skips in the slot of ``now_ms``."""
        writer = next((s for s in bus.subscribers if s.name == WRITER), None)
        dropped = sum(s.dropped for s in bus.subscribers)
        timed = self._timed
        sample = Sample(
            at_ms=now_ms,
            commits=self._commits,
            latency_max_s=self._latency_max,
            latency_mean_s=self._latency_sum / timed if timed else None,
            writer_queued=writer.queued if writer else 0,
            writer_buffer=writer.buffer if writer else 0,
            dropped=max(0, dropped - self._dropped_seen),
        )
        self.samples.append(sample)
        self._dropped_seen = dropped
        self._subscribers = bus.subscribers
        self._commits, self._timed, self._latency_sum, self._latency_max = 0, 0, 0.0, None
        slot = now_ms - now_ms % self.slot_ms
        for key, total in skips.items():
            new = total - self._skips_seen.get(key, 0)
            self._skips_seen[key] = total
            if new <= 0:
                continue
            kept = self._skips.setdefault(key, deque(maxlen=self._slots))
            if kept and kept[-1][0] == slot:
                kept[-1] = (slot, kept[-1][1] + new)
            else:
                kept.append((slot, new))
        return sample

    def view(self) -> TelemetryView:
        return TelemetryView(
            started_at_ms=self.started_at_ms,
            interval_s=self.interval_s,
            capacity=self.samples.maxlen or 0,
            samples=tuple(self.samples),
            skips={key: tuple(kept) for key, kept in self._skips.items()},
            subscribers=self._subscribers,
        )


def scheduler_skips(channels: Iterable[ChannelKey]) -> Callable[[], dict[ChannelKey, int]]:
    """The scheduler's skip counters (``marketmem_scheduler_skips_total``) of ``channels``."""
    keys = tuple(channels)

    def read() -> dict[ChannelKey, int]:
        return {(s, c): int(metrics.SCHEDULER_SKIPS.value(source=s, channel=c)) for s, c in keys}

    return read


async def run_telemetry(
    telemetry: Telemetry,
    bus: Bus,
    clock: WallClock,
    skips: Callable[[], Mapping[ChannelKey, int]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Fill ``telemetry`` until cancelled: commit latencies as they come, a sample every
    ``interval_s`` (drift-free on trio's clock)."""
    commits = bus.subscribe(
        "telemetry", (Committed,), buffer=COMMITS_BUFFER, policy=Policy.DROP_OLDEST
    )
    telemetry.baseline(skips())

    async def take_commits() -> None:
        async for event in commits:
            assert isinstance(event, Committed)
            telemetry.commit(event.latency_s)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take_commits)
        task_status.started()
        next_t = trio.current_time()
        while True:
            next_t += telemetry.interval_s
            await trio.sleep_until(next_t)
            telemetry.sample(clock.now_ms(), bus.statistics(), skips())
