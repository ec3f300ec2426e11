"""A value recomputed at most once per time-to-live, shared by request threads.

It protects the database from the public dashboard and keeps channel health (dozens of small
queries) off the hot latest-data path. Times are the injected wall clock's, so tests control
expiry. One thread computes while the others wait for its result; ``TtlCache`` (channel
health, which every latest-data composition reads) instead serves the value being replaced,
expired less than one more time-to-live ago, while another thread recomputes it: threads that
waited on a recomputation of 20 ms and more (PostgreSQL under load) held the read pool's
threads, and every request queued behind them.

``RefreshAhead`` recomputes kept values of ``KeyedTtlCache``s in the background before they
expire, while they are asked for (latest-data answers, token and clone checks), so that no
request waits for a recomputation at all.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

import trio

T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(self, ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self._computing = threading.Lock()
        self._value: T | None = None
        self._at_ms: int | None = None

    def _age(self, now_ms: int) -> int | None:
        # A value computed after ``now_ms`` (a request that started earlier) is fresh too.
        return None if self._at_ms is None else abs(now_ms - self._at_ms)

    def get(self, now_ms: int, compute: Callable[[], T]) -> T:
        age = self._age(now_ms)
        if age is not None and age < self.ttl_ms:
            assert self._value is not None
            return self._value
        replaceable = age is not None and age < 2 * self.ttl_ms
        if not self._computing.acquire(blocking=not replaceable):
            assert self._value is not None
            return self._value  # being recomputed by another thread: the previous value
        try:
            age = self._age(now_ms)
            if age is not None and age < self.ttl_ms:
                assert self._value is not None
                return self._value
            value = compute()
            self._value, self._at_ms = value, now_ms
            return value
        finally:
            self._computing.release()


K = TypeVar("K")


class KeyedTtlCache(Generic[K, T]):
    """Values by key, each kept ``ttl_ms``; bounded (cleared when ``max_entries`` is reached).

    ``peek``/``put`` are cheap enough for the trio thread; nothing here touches the database.
    """

    def __init__(self, ttl_ms: int, max_entries: int = 10_000) -> None:
        self.ttl_ms = ttl_ms
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[K, tuple[int, T]] = {}
        self._computing: dict[K, threading.Lock] = {}

    def peek(self, key: K, now_ms: int) -> T | None:
        entry = self._entries.get(key)
        if entry is None or abs(now_ms - entry[0]) >= self.ttl_ms:
            return None
        return entry[1]

    def age(self, key: K, now_ms: int) -> int | None:
        """How old the kept value of ``key`` is (None: nothing kept)."""
        entry = self._entries.get(key)
        return None if entry is None else abs(now_ms - entry[0])

    def drop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def put(self, key: K, value: T, now_ms: int) -> None:
        if self.ttl_ms <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now_ms, value)

    def get(self, key: K, now_ms: int, compute: Callable[[], T]) -> T:
        """The kept value, else ``compute()``'s; threads asking for the same key meanwhile
        wait for that one computation instead of repeating it."""
        value = self.peek(key, now_ms)
        if value is not None:
            return value
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        try:
            with key_lock:
                value = self.peek(key, now_ms)
                if value is None:
                    value = compute()
                    self.put(key, value, now_ms)
                return value
        finally:
            with self._lock:
                if self._computing.get(key) is key_lock:
                    del self._computing[key]


class RefreshAhead:
    """Kept values recomputed before they expire, while they are asked for.

    A value asked for once it is ``share`` of its cache's time-to-live old is ``due``; its
    recomputation (``start``) runs in ``nursery`` (the server's; None: nothing is ahead), one
    at a time per cache and key, at most ``concurrency`` at once. So while a value is asked
    for at least once per time-to-live, no caller waits for it, and it stays younger than the
    time-to-live. Trio thread only.
    """

    def __init__(self, share: float, concurrency: int) -> None:
        self.share = share
        self.nursery: trio.Nursery | None = None
        self._running: set[tuple[int, Hashable]] = set()
        # Values kept together fall due together (an agent asks for every symbol of its clone
        # in turn); redone all at once, they would take every reader thread, and the GIL from
        # the trio thread that serves the kept ones.
        self._limiter = trio.CapacityLimiter(concurrency)

    @property
    def running(self) -> int:
        return len(self._running)

    def due(self, cache: KeyedTtlCache[Any, Any], key: Hashable, now_ms: int) -> bool:
        if self.nursery is None or (id(cache), key) in self._running:
            return False
        age = cache.age(key, now_ms)
        return age is not None and age >= cache.ttl_ms * self.share

    def start(
        self, cache: KeyedTtlCache[Any, Any], key: Hashable, job: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``job`` (it puts the new value, or drops the old one) in the nursery."""
        assert self.nursery is not None
        running = (id(cache), key)
        self._running.add(running)

        async def run() -> None:
            try:
                async with self._limiter:
                    await job()
            finally:
                self._running.discard(running)

        self.nursery.start_soon(run)
