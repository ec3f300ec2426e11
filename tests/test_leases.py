"""``hold``: a body runs only while its lease is held; a standby takes over when it is lost."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from marketmem.health import stale_after_s
from marketmem.leases import EveryLease, hold, lease_key, takeover_poll_s
from marketmem.shards import Shard


class LockTable:
    """Session locks as a server keeps them, for instances in one test."""

    def __init__(self) -> None:
        self.holder: dict[str, str] = {}


class TableLeases:
    shared = True

    def __init__(self, table: LockTable, name: str) -> None:
        self.table = table
        self.name = name
        self.alive = True
        self.asks = 0

    async def try_acquire(self, key: str) -> bool:
        await trio.lowlevel.checkpoint()
        self.asks += 1
        if not self.alive:
            return False
        holder = self.table.holder.setdefault(key, self.name)
        return holder == self.name

    async def release(self, key: str) -> None:
        await trio.lowlevel.checkpoint()
        if self.table.holder.get(key) == self.name:
            del self.table.holder[key]

    async def still_held(self) -> bool:
        await trio.lowlevel.checkpoint()
        return self.alive

    def die(self) -> None:
        """The connection ends: the server releases every lock of the session."""
        self.alive = False
        for key, holder in list(self.table.holder.items()):
            if holder == self.name:
                del self.table.holder[key]


def test_keys_name_source_channel_and_shard() -> None:
    assert lease_key("hyperliquid", "candles") == "hyperliquid/candles"
    assert lease_key("hyperliquid", "candles", Shard(2, 3)) == "hyperliquid/candles#2/3"


def test_a_standby_polls_within_one_stale_threshold() -> None:
    for cadence in (5, 60, 300, 3600):
        assert takeover_poll_s(cadence) <= stale_after_s(cadence) / 4
    assert takeover_poll_s(3600) == 30.0


async def test_only_the_holder_runs_and_the_standby_takes_over_when_it_dies(
    autojump_clock: trio.testing.MockClock,
) -> None:
    table = LockTable()
    a, b = TableLeases(table, "a"), TableLeases(table, "b")
    ticks: list[tuple[str, float]] = []

    def body(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            while True:
                ticks.append((name, trio.current_time()))
                await trio.sleep(1)

        return run

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: hold(a, "k", body("a"), retry_s=5, check_s=2))
        await trio.sleep(0.5)
        nursery.start_soon(lambda: hold(b, "k", body("b"), retry_s=5, check_s=2))
        await trio.sleep(20)
        assert {n for n, _ in ticks} == {"a"} and b.asks >= 3  # b stood by, asking
        a.die()
        died = trio.current_time()
        await trio.sleep(20)
        nursery.cancel_scope.cancel()
    after = [(n, t) for n, t in ticks if t > died]
    # a stopped within one check; b took over within one retry of the death.
    assert max(t for n, t in after if n == "a") <= died + 2
    first_b = min(t for n, t in after if n == "b")
    assert first_b <= died + 5
    assert table.holder == {}  # b released when cancelled


async def test_a_body_that_ends_releases_its_lease(autojump_clock: object) -> None:
    table = LockTable()
    a = TableLeases(table, "a")

    async def once() -> None:
        assert table.holder == {"k": "a"}

    await hold(a, "k", once, retry_s=5, check_s=2)
    assert table.holder == {}


async def test_a_crashing_body_releases_its_lease_and_raises(autojump_clock: object) -> None:
    table = LockTable()
    a = TableLeases(table, "a")

    async def crash() -> None:
        raise RuntimeError("boom")

    with pytest.RaisesGroup(RuntimeError):
        await hold(a, "k", crash, retry_s=5, check_s=2)
    assert table.holder == {}


async def test_every_lease_grants_all(autojump_clock: object) -> None:
    one = EveryLease("only")
    assert await one.try_acquire("x") and await one.try_acquire("x") and await one.still_held()
    assert one.shared is False
