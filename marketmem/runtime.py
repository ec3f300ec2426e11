"""What every actor is handed: config, bus, wall clock and database path.

Sources plug in through ``ChannelSpec`` (a poll job the scheduler runs on its cadence) and
``ActorSpec`` (a long-running task the supervisor keeps alive, e.g. a WebSocket stream).
A source package exposes ``build(rt: Runtime) -> list[ChannelSpec | ActorSpec]`` returning a
spec for every channel it implements, enabled or not (cadence from ``rt.config``); it is listed
in ``marketmem.sources.registry.BUILDERS``. The supervisor starts the enabled ones; one-off
commands (``ingest SOURCE [CHANNEL]``) may run any ChannelSpec once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marketmem.bus import Bus
from marketmem.clock import SystemClock, WallClock
from marketmem.config import Config

if TYPE_CHECKING:
    from marketmem.runs import RunContext
    from marketmem.storage.writer import StorageWriter


@dataclass
class Runtime:
    config: Config
    bus: Bus
    clock: WallClock = field(default_factory=SystemClock)
    # `run --local`: bounded runs (few coins, short delays).
    local: bool = False
    # The pipeline's storage writer (None in tests that run without one).
    writer: StorageWriter | None = None
    # Shared objects that several actors of one source use (e.g. an info client with its
    # weight budget), keyed by name; created lazily by the source's build().
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.config.db_path()


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
