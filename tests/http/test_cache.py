"""``TtlCache``: one computation at a time; while it recomputes an expired value, other
threads get the value it replaces (expired less than one more time-to-live ago) instead of
waiting, and beyond that they wait for the new one."""

from __future__ import annotations

import threading
from collections.abc import Callable

from marketmem.http.cache import TtlCache


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
