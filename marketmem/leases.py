"""Who ingests what when several instances share one database.

Each (source, channel, shard) is ingested by one instance at a time: the instance that holds
its lease. ``Leases`` is what an engine offers: the embedded SQLite engine serves one
instance per database and grants every lease (``EveryLease``); PostgreSQL holds one session
advisory lock per lease (``marketmem.storage.postgres.leases``), which the server releases
when the holder's connection ends, so a standby takes over when the holder dies.

``hold`` runs a body only while its lease is held: a standby asks again every ``retry_s``
(a fraction of the channel's stale threshold, ``takeover_poll_s``), so it takes over within
one stale threshold; a holder checks every ``check_s`` (``CHECK_S``) that its lease is still
there and stops its body as soon as it is not, so two instances overlap for at most that
long (their writes are idempotent upserts, so an overlap duplicates nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from marketmem.health import stale_after_s
from marketmem.shards import WHOLE, Shard

log = logging.getLogger(__name__)

# A standby asks for a lease this many times per stale threshold, at most every 30 s.
POLLS_PER_STALE_THRESHOLD = 4
MAX_POLL_S = 30.0
# A holder checks its lease this often: a holder whose session ended stops within this.
CHECK_S = 5.0


class Leases(Protocol):
    """The leases of one instance (``name``), all on one connection of its engine."""

    name: str
    shared: bool  # False: this engine serves one instance, every lease is granted

    async def try_acquire(self, key: str) -> bool:
        """Take the lease of ``key`` if nobody holds it; True if this instance holds it."""
        ...

    async def release(self, key: str) -> None: ...

    async def still_held(self) -> bool:
        """Whether the leases taken are still held (False once the connection is gone)."""
        ...


class EveryLease:
    """One instance per database: every lease is this instance's."""

    shared = False

    def __init__(self, name: str) -> None:
        self.name = name

    async def try_acquire(self, key: str) -> bool:
        return True

    async def release(self, key: str) -> None:
        return None

    async def still_held(self) -> bool:
        return True


def lease_key(source: str, channel: str, shard: Shard = WHOLE) -> str:
    return f"{source}/{channel}" + ("" if shard == WHOLE else f"#{shard}")


def takeover_poll_s(cadence_s: float) -> float:
    """How often a standby asks for the lease of a channel of ``cadence_s``."""
    return min(MAX_POLL_S, stale_after_s(cadence_s) / POLLS_PER_STALE_THRESHOLD)


async def hold(
    leases: Leases,
    key: str,
    body: Callable[[], Awaitable[object]],
    *,
    retry_s: float,
    check_s: float,
) -> None:
    """Run ``body`` whenever this instance holds ``key``; forever (until cancelled).

    A body that returns while its lease is held ends the hold; one cut short by a lost
    lease is started again once the lease is taken again.
    """
    while True:
        if not await leases.try_acquire(key):
            await trio.sleep(retry_s)
            continue
        log.info("%s: holding %s", leases.name, key)
        lost = False
        try:
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    nonlocal lost
                    while await leases.still_held():
                        await trio.sleep(check_s)
                    lost = True
                    nursery.cancel_scope.cancel()

                nursery.start_soon(watch)
                await body()
                nursery.cancel_scope.cancel()
        finally:
            if not lost:
                with trio.CancelScope(shield=True):
                    await leases.release(key)
        if not lost:
            return
        log.warning("%s: lost %s (its connection ended); standing by", leases.name, key)
        await trio.sleep(retry_s)
