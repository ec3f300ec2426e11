"""Runs poll channels on their cadence, drift-free on trio's clock.

Each channel has its own task: ticks fall at ``t0 + k * cadence`` (``trio.sleep_until``), so
time spent in a run never shifts the schedule. A run still going at the next tick makes that
tick a skip (counted, logged): a channel never overlaps itself. A run that raises becomes a
failed run (see ``runs.execute_run``) and the channel keeps its schedule; one channel never
affects another's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from marketmem import metrics
from marketmem.logs import context
from marketmem.runs import execute_run
from marketmem.runtime import ChannelSpec, Runtime

log = logging.getLogger(__name__)


@dataclass
class ChannelStatistics:
    started: int = 0
    finished: int = 0
    skipped: int = 0


class Scheduler:
    def __init__(self, rt: Runtime, channels: list[ChannelSpec]) -> None:
        self.rt = rt
        self.channels = channels
        self.stats: dict[tuple[str, str], ChannelStatistics] = {
            (c.source, c.channel): ChannelStatistics() for c in channels
        }

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for spec in self.channels:
                nursery.start_soon(self._channel_loop, spec, name=f"{spec.source}/{spec.channel}")
            task_status.started()

    async def _channel_loop(self, spec: ChannelSpec) -> None:
        stats = self.stats[(spec.source, spec.channel)]
        running = False
        next_t = trio.current_time() + (0 if spec.run_at_start else spec.cadence_s)

        async def one_run() -> None:
            nonlocal running
            try:
                await execute_run(self.rt, spec.source, spec.channel, spec.job)
            finally:
                running = False
                stats.finished += 1

        async with trio.open_nursery() as nursery:
            while True:
                await trio.sleep_until(next_t)
                if running:
                    stats.skipped += 1
                    metrics.SCHEDULER_SKIPS.inc(source=spec.source, channel=spec.channel)
                    log.warning(
                        "previous run still going; skipping this tick",
                        extra=context(spec.source, spec.channel),
                    )
                else:
                    running = True
                    stats.started += 1
                    nursery.start_soon(one_run)
                next_t += spec.cadence_s
                now = trio.current_time()
                if next_t <= now:
                    # Fell behind by whole periods (e.g. a suspended machine): skip them.
                    missed = int((now - next_t) // spec.cadence_s) + 1
                    next_t += missed * spec.cadence_s
