"""Where blocking work (SQLite, file I/O) runs: a worker thread, or inline.

The runtime carries one ``Executor``: ``thread_executor()`` in the service; tests that drive
trio's ``MockClock`` pass ``inline_executor``, because a worker thread would let the clock
jump while the work is still running. Production code takes the executor it is given and
never asks which one it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

Executor = Callable[..., Awaitable[Any]]


def thread_executor() -> Executor:
    """Blocking calls on one worker thread at a time (a capacity limiter of one)."""
    limiter = trio.CapacityLimiter(1)

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args, limiter=limiter)

    return run


async def inline_executor(fn: Callable[..., Any], *args: Any) -> Any:
    await trio.lowlevel.checkpoint()
    return fn(*args)
