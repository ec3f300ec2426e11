"""The running core that every command shares: bus + storage writer, opened and drained.

``open_pipeline`` starts the writer on a fresh bus and yields a ``Runtime``; on exit it
closes the bus, lets the writer drain and commit everything, and only then returns. The
supervisor (``run``) and the one-off commands (``ingest``, ``discover``, ``maintain``) use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from marketmem.bus import Bus
from marketmem.clock import SystemClock, WallClock
from marketmem.config import Config
from marketmem.executors import Executor, thread_executor
from marketmem.runtime import Runtime
from marketmem.storage import engine
from marketmem.storage.errors import STORAGE_ERROR
from marketmem.storage.writer import StorageWriter
from marketmem.usage import CannotStart, Refused

WRITER_DRAIN_TIMEOUT_S = 10.0
# What opening the writer's database may raise when the database cannot be used.
CANNOT_OPEN_WRITER: tuple[type[Exception], ...] = (*STORAGE_ERROR, OSError)


@asynccontextmanager
async def open_pipeline(
    config: Config,
    *,
    clock: WallClock | None = None,
    executor: Executor | None = None,
    local: bool = False,
    service: bool = False,
    bus: Bus | None = None,
) -> AsyncIterator[Runtime]:
    """``service=True`` for the long-running ``run``: it also closes runs a crash left open.
    ``bus``: the bus to run on (one a caller subscribed to before the sources start)."""
    bus = bus or Bus()
    rt = Runtime(
        config=config,
        bus=bus,
        clock=clock or SystemClock(),
        local=local,
        executor=executor or thread_executor(),
        instance=config.service.instance(),
    )
    writer = StorageWriter(
        config.database(),
        bus,
        settings=config.storage,
        executor=executor,
        clock=rt.clock,
        close_interrupted=service,
        sources=config.SOURCES,
    )
    rt.writer = writer
    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(writer.run)
        except CANNOT_OPEN_WRITER as exc:
            # The database could not be opened (or migrated): one line that says why, not
            # the driver's traceback (commands check first; this is what slips past them).
            refusal = CannotStart if service else Refused
            raise refusal(engine.open_failure(config.database(), exc)) from None
        try:
            yield rt
        finally:
            # NOTE: the bus is closed only after every publisher has stopped (the caller's
            # block has exited); the writer then drains to EndOfChannel and commits.
            bus.close()
            # Let the writer finish on its own (EndOfChannel); bound the wait. Its final
            # commit is shielded, so the deadline cannot cut a transaction in half.
            nursery.cancel_scope.deadline = trio.current_time() + WRITER_DRAIN_TIMEOUT_S
