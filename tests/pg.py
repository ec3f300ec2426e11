"""A real PostgreSQL for the tests: the server named by MARKETMEM_TEST_PG_URL.

``bin/test`` and ``.ci/run`` set that variable to a throwaway cluster of ``bin/pg-cluster``
(as role ``marketmem``, which may create databases); a developer may also point it at a server
of their own. The fixtures, made available everywhere by ``tests/conftest.py``:

- ``pg_url`` (session): that URL. Skips with the reason when the variable is unset; fails, not
  skips, when it is set but the server cannot be reached.
- ``pg_database`` (function): the URL of a new empty database ``t_<random>`` for one test,
  dropped after it (``WITH (FORCE)``: a connection the test left open does not block it;
  retried while an autovacuum worker, which FORCE may not end, is on it).
  Advisory locks are per database too, so tests on their own databases never contend.
- ``pg_schema`` (function): the URL of a new empty schema ``s_<random>`` in one database the
  whole session shares, made the URL's ``search_path`` (libpq ``options``), dropped after the
  test with every session the test left on that database. Its tables are as much its own as
  in a database of its own, for a fraction of the cost of CREATE DATABASE (and of a first
  connection to a new database); what is per database is shared (advisory locks, sessions,
  ``ALTER DATABASE`` settings), so a test about those takes ``pg_database``. Tests run one at
  a time, so sharing them never makes two tests contend.

Every test that uses either is marked ``pg``: ``bin/test -m pg`` runs only the PostgreSQL
half, ``bin/test -m "not pg"`` only the rest. The admin work here is psycopg's synchronous API.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
import pytest
from psycopg import sql

PG_URL_ENV = "MARKETMEM_TEST_PG_URL"
ENGINES = ("sqlite", "postgresql")
CONNECT_TIMEOUT_S = 10


def database_url(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name`` (user, password, host and query kept)."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def schema_url(url: str, schema: str) -> str:
    """``url`` whose sessions find (and create) tables in ``schema`` first."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return parts._replace(query=urlencode(query)).geturl()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create an empty database on the server of ``admin_url``, yield its URL, drop it after."""
    name = f"t_{secrets.token_hex(8)}"
    ident = sql.Identifier(name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(ident))
    try:
        yield database_url(admin_url, name)
    finally:
        drop_database(admin_url, name)


def drop_database(admin_url: str, name: str, *, tries: int = 20) -> None:
    """Drop database ``name``, ending the sessions a test left on it (``WITH (FORCE)``).

    FORCE must be allowed to end every session on the database, and an autovacuum worker
    (which a test's mass delete may start) is not the role's to end: then a plain DROP, which
    cancels autovacuum by itself; retried a few times while both kinds are there at once.
    """
    ident = sql.Identifier(name)
    for attempt in range(tries):
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
                return
            except psycopg.errors.InsufficientPrivilege:
                try:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
                    return
                except psycopg.errors.ObjectInUse:
                    if attempt == tries - 1:
                        raise
        time.sleep(0.25)


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get(PG_URL_ENV, "")
    if not url:
        pytest.skip(
            f"{PG_URL_ENV} is not set (bin/test and .ci/run set it when PostgreSQL is installed)"
        )
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        pytest.fail(f"{PG_URL_ENV} is set but PostgreSQL is unreachable: {error}", pytrace=False)
    return url


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    with fresh_database(pg_url) as url:
        yield url


@pytest.fixture(scope="session")
def pg_shared_database(pg_url: str) -> Iterator[str]:
    """One database for the session's ``pg_schema`` tests. Dropped after the session without
    ``FORCE``, which this role may not use on the autovacuum worker its many deletes are
    likely to have started there: a plain DROP DATABASE stops autovacuum itself."""
    name = f"t_{secrets.token_hex(8)}"
    ident = sql.Identifier(name)
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(ident))
    try:
        yield database_url(pg_url, name)
    finally:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            deadline = time.monotonic() + 30
            while True:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND usename = current_user",
                    (name,),
                )
                try:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
                    break
                except psycopg.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


@pytest.fixture
def pg_schema(pg_shared_database: str) -> Iterator[str]:
    name = f"s_{secrets.token_hex(8)}"
    ident = sql.Identifier(name)
    with psycopg.connect(
        pg_shared_database, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    ) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
    try:
        yield schema_url(pg_shared_database, name)
    finally:
        with psycopg.connect(
            pg_shared_database, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        ) as conn:
            # What the test left connected (a pool, a session holding a lock) goes first.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND usename = current_user"
            )
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(ident))


def mark_pg_tests(items: list[pytest.Item]) -> None:
    """Mark ``pg`` every collected test that needs the server (directly or via pg_database)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("engine") == "postgresql"
        if on_postgres or "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pg)
