"""``TtlCache``: one computation at a time; while it recomputes an expired value, other
threads get the value it replaces (expired less than one more time-to-live ago) instead of
waiting, and beyond that they wait for the new one."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import trio

from marketmem.http.cache import KeyedTtlCache, RefreshAhead, TtlCache


def slow_compute(
    started: threading.Event, release: threading.Event, value: str
) -> Callable[[], str]:
    def compute() -> str:
        started.set()
        assert release.wait(5)
        return value

    return compute


def recompute_in_thread(
    cache: TtlCache[str], now_ms: int, value: str
) -> tuple[threading.Thread, threading.Event, list[str]]:
    """A thread recomputing the value at ``now_ms``, started and held until ``release``."""
    started, release, got = threading.Event(), threading.Event(), []
    thread = threading.Thread(
        target=lambda: got.append(cache.get(now_ms, slow_compute(started, release, value)))
    )
    thread.start()
    assert started.wait(5)
    return thread, release, got


def test_a_fresh_value_is_computed_once() -> None:
    cache: TtlCache[str] = TtlCache(1000)
    calls = []
    assert cache.get(0, lambda: calls.append(1) or "a") == "a"
    assert cache.get(999, lambda: calls.append(1) or "b") == "a"
    assert cache.get(1000, lambda: calls.append(1) or "c") == "c"
    assert len(calls) == 2


def test_while_an_expired_value_is_recomputed_others_get_it_without_waiting() -> None:
    cache: TtlCache[str] = TtlCache(1000)
    cache.get(0, lambda: "old")
    thread, release, got = recompute_in_thread(cache, 1500, "new")
    # Another thread, meanwhile: the value being replaced, no second computation.
    assert cache.get(1600, lambda: "other") == "old"
    release.set()
    thread.join(5)
    assert got == ["new"]
    assert cache.get(1700, lambda: "other") == "new"


def test_a_value_expired_more_than_a_ttl_ago_is_never_served() -> None:
    cache: TtlCache[str] = TtlCache(1000)
    cache.get(0, lambda: "old")
    thread, release, got = recompute_in_thread(cache, 2500, "new")
    waiter: list[str] = []
    other = threading.Thread(target=lambda: waiter.append(cache.get(2600, lambda: "other")))
    other.start()
    other.join(0.2)
    assert other.is_alive()  # it waits for the computation in progress
    release.set()
    thread.join(5)
    other.join(5)
    assert got == ["new"] and waiter == ["new"]


# --- RefreshAhead ----------------------------------------------------------------------


async def test_a_value_is_due_from_its_share_of_the_ttl_while_nothing_redoes_it() -> None:
    cache: KeyedTtlCache[str, str] = KeyedTtlCache(1_000)
    ahead = RefreshAhead(0.75, concurrency=1)
    cache.put("BTC", "answer", 0)
    assert not ahead.due(cache, "BTC", 900)  # no nursery: nothing is ever ahead
    release = trio.Event()

    async def job() -> None:
        await release.wait()
        cache.put("BTC", "new", 900)

    async with trio.open_nursery() as nursery:
        ahead.nursery = nursery
        assert not ahead.due(cache, "BTC", 749)
        assert not ahead.due(cache, "ETH", 900)  # nothing kept: the request composes it
        assert ahead.due(cache, "BTC", 750)
        ahead.start(cache, "BTC", job)
        assert not ahead.due(cache, "BTC", 800) and ahead.running == 1
        release.set()
    assert ahead.running == 0
    assert cache.peek("BTC", 1_100) == "new"
    ahead.nursery = None


async def test_refreshes_run_at_most_concurrency_at_once() -> None:
    cache: KeyedTtlCache[str, int] = KeyedTtlCache(1_000)
    ahead = RefreshAhead(0.5, concurrency=2)
    busy, most = 0, 0

    def job_for(key: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            nonlocal busy, most
            busy += 1
            most = max(most, busy)
            for _ in range(3):  # let the others start, were they allowed to
                await trio.lowlevel.checkpoint()
            busy -= 1
            cache.put(key, 1, 600)

        return job

    async with trio.open_nursery() as nursery:
        ahead.nursery = nursery
        for i in range(6):
            cache.put(f"C{i}", 0, 0)
            assert ahead.due(cache, f"C{i}", 600)
            ahead.start(cache, f"C{i}", job_for(f"C{i}"))
    assert most == 2 and ahead.running == 0
    assert all(cache.peek(f"C{i}", 1_000) == 1 for i in range(6))
