"""Leases as advisory locks on a real PostgreSQL: one holder, released with its session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import trio

from marketmem.leases import hold
from marketmem.storage.postgres.leases import PostgresLeases, lock_id


def test_lock_ids_are_fixed_64_bit_numbers() -> None:
    assert lock_id("hyperliquid/candles") == lock_id("hyperliquid/candles")
    assert lock_id("hyperliquid/candles") != lock_id("hyperliquid/candles#1/2")
    assert -(2**63) <= lock_id("x") < 2**63


async def test_one_holder_at_a_time_and_release_hands_over(pg_database: str) -> None:
    a, b = PostgresLeases(pg_database, "a:1"), PostgresLeases(pg_database, "b:2")
    try:
        assert await a.try_acquire("hyperliquid/candles")
        assert await a.try_acquire("hyperliquid/candles")  # asking again keeps it
        assert not await b.try_acquire("hyperliquid/candles")
        assert await b.try_acquire("hyperliquid/mids")  # another key is free
        await a.release("hyperliquid/candles")
        assert await b.try_acquire("hyperliquid/candles")
        assert not await a.try_acquire("hyperliquid/candles")
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_cut_connection_loses_its_leases_to_the_standby(pg_database: str) -> None:
    a, b = PostgresLeases(pg_database, "holder"), PostgresLeases(pg_database, "standby")
    try:
        assert await a.try_acquire("k") and not await b.try_acquire("k")
        with psycopg.connect(pg_database, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'holder'"
            )
            # pg_terminate_backend only signals: the session ends, and its locks go, a moment
            # later (seen to take longer on a loaded machine).
            with trio.fail_after(10):
                while admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = 'holder'"
                ).fetchone():
                    await trio.sleep(0.05)
        assert await b.try_acquire("k")
        assert not await a.still_held()  # the holder notices, and holds nothing
        assert a.held == set()
        assert not await a.try_acquire("k")  # a new session, but b holds it now
    finally:
        await a.aclose()
        await b.aclose()


HOLDER = """
import sys, time, psycopg
from marketmem.storage.postgres.leases import lock_id
conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="doomed")
assert conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_id("k"),)).fetchone()[0]
print("held", flush=True)
time.sleep(600)
"""


async def test_the_standby_takes_over_within_seconds_of_a_sigkill(pg_database: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_database], stdout=subprocess.PIPE, text=True
    )
    standby = PostgresLeases(pg_database, "standby")
    ran: list[float] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not await standby.try_acquire("k")
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()

        async def body() -> None:
            ran.append(time.monotonic())

        with trio.fail_after(10):
            await hold(standby, "k", body, retry_s=0.2, check_s=0.2)
        assert ran and ran[0] - killed < 5
    finally:
        holder.kill()
        holder.wait()
        await standby.aclose()


async def test_an_unreachable_server_is_a_refusal_not_a_crash() -> None:
    leases = PostgresLeases("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", "x")
    assert not await leases.try_acquire("k")
    assert not await leases.still_held()
