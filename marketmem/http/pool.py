"""Reading connections for request handlers, used off the trio thread so a slow query never
blocks the event loop.

``ReadPool.run(fn, *args)`` calls ``fn(conn, *args)`` in a trio worker thread (at most
``max_threads`` at once) on a reading connection of the storage (``storage.readers``: one per
thread on SQLite, a connection pool on PostgreSQL). A database that cannot be reached yet
answers 503.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from marketmem.http.errors import ApiError
from marketmem.storage.readers import ReadConnections, Unavailable, open_read_connections

log = logging.getLogger(__name__)

T = TypeVar("T")


class ReadPool:
    def __init__(self, location: str | Path, *, busy_timeout_ms: int, max_threads: int = 8) -> None:
        self.location = location
        self._limiter = trio.CapacityLimiter(max_threads)
        self._readers: ReadConnections = open_read_connections(
            location, busy_timeout_ms=busy_timeout_ms, max_connections=max_threads
        )

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on a reading connection (blocking)."""
        try:
            return self._readers.call(fn, *args)
        except Unavailable as exc:
            raise ApiError(
                503, "database_unavailable", "the database is not available yet"
            ) from exc

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(self.call, fn, *args, limiter=self._limiter)

    def close(self) -> None:
        self._readers.close()
