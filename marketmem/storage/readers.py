"""Reading connections for threads that serve many reads (the HTTP API's workers).

``open_read_connections(location, ...)`` gives an object whose ``call(fn, *args)`` runs
``fn(conn, *args)`` on a reading connection, on the calling (worker) thread:

- SQLite: one read-only connection per thread, opened on first use and kept while the thread
  lives (WAL lets them read beside the writer); a file replaced or damaged under it is opened
  again on the next call.
- PostgreSQL: a psycopg-pool ``ConnectionPool`` of at most ``max_connections`` sessions, each
  checked before it is lent, so a server restart costs the calls in flight, not the pool.

``UNAVAILABLE`` are the failures of getting a connection at all (the caller answers "not
available yet"), as opposed to a failing read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import psycopg_pool

from marketmem.storage import engine
from marketmem.storage.errors import REOPEN, STORAGE_ERROR
from marketmem.storage.postgres.connection import CONNECT_TIMEOUT_S, PostgresConnection, configure

T = TypeVar("T")

UNAVAILABLE: tuple[type[Exception], ...] = (*STORAGE_ERROR, psycopg_pool.PoolTimeout)


class ReadConnections(Protocol):
    def call(self, fn: Callable[..., T], *args: Any) -> T: ...

    def close(self) -> None: ...


class Unavailable(Exception):
    """No reading connection could be had; ``__cause__`` says why."""


class SqliteReadConnections:
    def __init__(self, path: engine.Location, *, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()

    def _connection(self) -> engine.Connection:
        conn: engine.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = engine.open_reader(self.path, busy_timeout_ms=self.busy_timeout_ms)
            except STORAGE_ERROR as exc:
                raise Unavailable(str(exc)) from exc
            self._local.conn = conn
        return conn

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._connection()
        try:
            return fn(conn, *args)
        except REOPEN:
            self._local.conn = None
            conn.close()
            raise

    def close(self) -> None:
        # Each thread's connection closes with its thread.
        return None


class PostgresReadConnections:
    def __init__(self, url: str, *, max_connections: int, name: str = "marketmem reader") -> None:
        self.pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={
                "autocommit": True,
                "application_name": name[:63],
                "connect_timeout": CONNECT_TIMEOUT_S,
            },
            configure=configure,
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT_S,
            open=False,
        )
        self.pool.open(wait=False)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            lent = self.pool.connection()
            raw = lent.__enter__()
        except UNAVAILABLE as exc:
            raise Unavailable(str(exc)) from exc
        try:
            result = fn(PostgresConnection(raw), *args)
        except BaseException as exc:
            lent.__exit__(type(exc), exc, exc.__traceback__)
            raise
        lent.__exit__(None, None, None)
        return result

    def close(self) -> None:
        self.pool.close()


def open_read_connections(
    location: engine.Location, *, busy_timeout_ms: int, max_connections: int
) -> ReadConnections:
    if engine.is_postgres(location):
        return PostgresReadConnections(str(location), max_connections=max_connections)
    return SqliteReadConnections(location, busy_timeout_ms=busy_timeout_ms)
