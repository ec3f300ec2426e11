"""What every actor is handed: config, bus, wall clock, executor and database path.

A source's ``open`` (see ``marketmem.source``) yields ``ChannelSpec``s (a poll job the
scheduler runs on its cadence) and ``ActorSpec``s (a long-running task the supervisor keeps
alive, e.g. a WebSocket stream), one for every channel it implements, enabled or not. The
supervisor starts the enabled ones; one-off commands (``ingest SOURCE [CHANNEL]``) may run any
``ChannelSpec`` once. What a source opens (HTTP clients, budgets, state its actors share) it
owns and passes to its specs; the runtime holds nothing on a source's behalf.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from marketmem.bus import Bus
from marketmem.clock import SystemClock, WallClock
from marketmem.config import Config
from marketmem.executors import Executor, thread_executor

if TYPE_CHECKING:
    from marketmem.events import RunFinished
    from marketmem.runs import RunContext
    from marketmem.storage.writer import StorageWriter
    from marketmem.telemetry import Telemetry


@dataclass
class Runtime:
    config: Config
    bus: Bus
    clock: WallClock = field(default_factory=SystemClock)
    # `run --local`: bounded runs (few coins, short delays).
    local: bool = False
    # The pipeline's storage writer (None in tests that run without one).
    writer: StorageWriter | None = None
    # Where blocking reads run (never the writer's thread).
    executor: Executor = field(default_factory=thread_executor)
    # This instance's name, recorded with every run it starts.
    instance: str | None = None
    # The service's in-process statistics for its dashboard (the supervisor's; else None).
    telemetry: Telemetry | None = None
    # Told of every poll run as it ends, with what the job raised (None: it returned); the
    # supervisor watches the first round with it (``marketmem.venues_down``).
    on_run: Callable[[RunFinished, Exception | None], None] | None = None

    @property
    def database(self) -> str | Path:
        """Where the data lives: a SQLite file or a PostgreSQL URL (``storage.engine``)."""
        return self.config.database()


# A poll job does one run: it publishes its rows through ctx and returns; raising fails the run.
PollJob = Callable[["RunContext"], Awaitable[None]]


@dataclass(frozen=True)
class ChannelSpec:
    """A polled channel: the scheduler calls ``job`` every ``cadence_s`` (never overlapping)."""

    source: str
    channel: str
    cadence_s: float
    job: PollJob
    run_at_start: bool = True


@dataclass(frozen=True)
class ActorSpec:
    """A long-running actor; restarted with backoff when it raises.

    ``run`` is called as ``await run(task_status=...)`` and must call
    ``task_status.started()`` once ready. ``source``/``channel`` name the channel whose
    failed run records a crash (None for actors that belong to no channel).
    """

    name: str
    run: Callable[..., Awaitable[None]]
    source: str | None = None
    channel: str | None = None
    # Every channel this actor serves (a stream may feed several); it is started when any of
    # them is enabled. Empty: just ``channel``; no channel at all: always started.
    channels: tuple[str, ...] = ()

    def serves(self) -> tuple[str, ...]:
        if self.channels:
            return self.channels
        return (self.channel,) if self.channel else ()
