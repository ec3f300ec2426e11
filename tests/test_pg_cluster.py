"""The PostgreSQL the tests get (tests/pg.py, a bin/pg-cluster cluster under bin/test and
.ci/run) has the properties the project relies on: a recent server, a fresh isolated database
per test, dropped afterwards, and session advisory locks that exclude other sessions until the
holder releases them or dies (how one instance at a time ingests a channel)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import psycopg

from tests.pg import database_name, fresh_database

LOCK_KEY = 7_340_001
# A bug must fail the test, not hang it: no lock wait outlasts this.
WAIT_OPTIONS = "-c lock_timeout=20s"


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, options=WAIT_OPTIONS)


def scalar(conn: psycopg.Connection, query: Any, *params: object) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def try_lock(conn: psycopg.Connection, key: int = LOCK_KEY) -> bool:
    return scalar(conn, "SELECT pg_try_advisory_lock(%s)", key) is True


def user_tables(conn: psycopg.Connection) -> int:
    query = "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    return int(scalar(conn, query))


def database_exists(admin_url: str, name: str) -> bool:
    with connect(admin_url) as conn:
        return scalar(conn, "SELECT count(*) FROM pg_database WHERE datname = %s", name) == 1


def test_server_is_postgresql_13_or_newer(pg_url: str) -> None:
    with connect(pg_url) as conn:
        assert conn.info.server_version >= 130000, conn.info.server_version
        assert int(scalar(conn, "SHOW server_version_num")) >= 130000


def test_fresh_databases_are_empty_and_isolated(pg_url: str, pg_database: str) -> None:
    with fresh_database(pg_url) as other:
        assert database_name(other) != database_name(pg_database)
        with connect(pg_database) as a, connect(other) as b:
            assert scalar(a, "SELECT current_database()") == database_name(pg_database)
            assert scalar(b, "SELECT current_database()") == database_name(other)
            assert user_tables(a) == user_tables(b) == 0

            a.execute("CREATE TABLE candles (coin text PRIMARY KEY, close float8 NOT NULL)")
            a.execute("INSERT INTO candles VALUES ('BTC', 1.5)")
            assert scalar(b, "SELECT to_regclass('candles')") is None
            # The same name in the other database is another table.
            b.execute("CREATE TABLE candles (coin text PRIMARY KEY, close float8 NOT NULL)")
            assert scalar(b, "SELECT count(*) FROM candles") == 0
            assert scalar(a, "SELECT count(*) FROM candles") == 1


def test_fresh_database_is_dropped_after_even_with_a_connection_left_open(pg_url: str) -> None:
    with fresh_database(pg_url) as url:
        leaked = psycopg.connect(url)
        leaked.execute("SELECT 1")
    try:
        assert not database_exists(pg_url, database_name(url))
    finally:
        leaked.close()


def test_advisory_lock_blocks_other_sessions_until_released(pg_database: str) -> None:
    with connect(pg_database) as holder, connect(pg_database) as standby:
        assert try_lock(holder)
        assert not try_lock(standby)
        assert try_lock(holder)  # re-entrant for its own session (held twice now)

        acquired = threading.Event()

        def wait_for_lock() -> None:
            standby.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            acquired.set()

        waiter = threading.Thread(target=wait_for_lock, daemon=True)
        waiter.start()
        assert not acquired.wait(0.3), "the standby took a lock that is held"
        assert scalar(holder, "SELECT pg_advisory_unlock(%s)", LOCK_KEY) is True
        assert not acquired.wait(0.3), "released once, but still held once"
        assert scalar(holder, "SELECT pg_advisory_unlock(%s)", LOCK_KEY) is True
        assert acquired.wait(10), "the standby never got the released lock"
        waiter.join(10)

        assert not try_lock(holder)
        assert scalar(standby, "SELECT pg_advisory_unlock(%s)", LOCK_KEY) is True
        assert try_lock(holder)


def test_advisory_locks_are_per_database(pg_url: str, pg_database: str) -> None:
    with fresh_database(pg_url) as other, connect(pg_database) as a, connect(other) as b:
        assert try_lock(a)
        assert try_lock(b), "a lock in one test's database excluded a session in another"


def test_advisory_lock_is_released_when_its_holder_is_killed(pg_database: str) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, psycopg\n"
            "conn = psycopg.connect(sys.argv[1], autocommit=True)\n"
            "conn.execute('SELECT pg_advisory_lock(%s)', (int(sys.argv[2]),))\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
            pg_database,
            str(LOCK_KEY),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with connect(pg_database) as standby:
            assert not try_lock(standby)
            holder.kill()
            holder.wait(10)
            deadline = time.monotonic() + 10
            while not try_lock(standby):
                assert time.monotonic() < deadline, "the dead holder's lock was never released"
                time.sleep(0.02)
    finally:
        holder.kill()
        holder.wait(10)
