"""Read-only SQLite connections for request handlers, one per worker thread, used off the trio
thread so a slow query never blocks the event loop.

``ReadPool.run(fn, *args)`` calls ``fn(conn, *args)`` in a trio worker thread with that thread's
own read-only connection (opened on first use and kept while the thread lives). WAL lets these
readers run beside the storage writer; they never write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from marketmem.http.errors import ApiError
from marketmem.storage import db
from marketmem.storage.errors import REOPEN, STORAGE_ERROR
from marketmem.storage.reads import Connection

log = logging.getLogger(__name__)

T = TypeVar("T")


class ReadPool:
    def __init__(self, path: str | Path, *, busy_timeout_ms: int, max_threads: int = 8) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._limiter = trio.CapacityLimiter(max_threads)

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = db.open_reader(self.path, busy_timeout_ms=self.busy_timeout_ms)
            except STORAGE_ERROR as exc:
                raise ApiError(
                    503, "database_unavailable", "the database is not available yet"
                ) from exc
            self._local.conn = conn
        return conn

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on this thread's connection (blocking)."""
        conn = self._connection()
        try:
            return fn(conn, *args)
        except REOPEN:
            # The file was replaced or damaged under us: reopen on the next call.
            self._local.conn = None
            conn.close()
            raise

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(self.call, fn, *args, limiter=self._limiter)
