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

Every test that uses either is marked ``pg``: ``bin/test -m pg`` runs only the PostgreSQL
half, ``bin/test -m "not pg"`` only the rest. The admin work here is psycopg's synchronous API.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

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


def mark_pg_tests(items: list[pytest.Item]) -> None:
    """Mark ``pg`` every collected test that needs the server (directly or via pg_database)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("engine") == "postgresql"
        if on_postgres or "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pg)
