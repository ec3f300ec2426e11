"""Leases as PostgreSQL session advisory locks, one connection per instance.

A lease key becomes a 64-bit lock id (the first 8 bytes of its BLAKE2b digest, signed, as
``pg_try_advisory_lock(bigint)`` takes). The locks live as long as the session: when the
holder dies or its connection is cut, the server releases them and a standby's next
``try_acquire`` succeeds. psycopg's connection is blocking, so every call runs on a worker
thread (its executor), one at a time; the connection is in autocommit mode (session locks are not
transactional) and named after the instance (``application_name``), so ``pg_stat_activity``
shows who holds what.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import psycopg

from marketmem.executors import Executor, thread_executor

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10


def lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), signed=True)


class PostgresLeases:
    shared = True

    def __init__(self, url: str, name: str, *, executor: Executor | None = None) -> None:
        self.url = url
        self.name = name
        self.held: set[str] = set()
        self._conn: psycopg.Connection[Any] | None = None
        # One call at a time, on a worker thread of its own (tests under MockClock: inline).
        self._executor = executor or thread_executor()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                application_name=self.name[:63],
                connect_timeout=CONNECT_TIMEOUT_S,
            )
            self.held.clear()  # a new session holds nothing
        return self._conn

    def _scalar(self, sql: str, *params: object) -> Any:
        row = self._connection().execute(sql, params).fetchone()
        return None if row is None else row[0]

    async def _run(self, sql: str, *params: object) -> Any:
        return await self._executor(self._scalar, sql, *params)

    async def try_acquire(self, key: str) -> bool:
        if key in self.held and await self.still_held():
            return True
        try:
            got = bool(await self._run("SELECT pg_try_advisory_lock(%s)", lock_id(key)))
        except psycopg.OperationalError as exc:
            log.warning("%s: cannot ask for %s: %s", self.name, key, str(exc).strip())
            self._drop()
            return False
        if got:
            self.held.add(key)
        return got

    async def release(self, key: str) -> None:
        if key not in self.held:
            return
        self.held.discard(key)
        try:
            await self._run("SELECT pg_advisory_unlock(%s)", lock_id(key))
        except psycopg.OperationalError:
            self._drop()  # the session is gone, and its locks with it

    async def still_held(self) -> bool:
        """True while the session that took the locks is alive (they end only with it)."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            await self._run("SELECT 1")
        except psycopg.OperationalError as exc:
            log.warning("%s: lease connection lost: %s", self.name, str(exc).strip())
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self.held.clear()

    async def aclose(self) -> None:
        await self._executor(self._drop)
