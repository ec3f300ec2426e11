"""PostgreSQL for the benchmarks: a scratch database per measurement, and the server's settings.

``--db URL`` (a ``postgresql://`` URL) names a server and a role that may create databases
(``bin/pg-cluster start DIR`` prints one). Each measurement runs in a database of its own,
``marketmem_bench_<random>``, created from ``template0`` and dropped when it ends, whatever
happens: a benchmark never leaves data behind on the server. Only the connection's database
of the URL is used to create and drop them; nothing in it is read or written.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
from psycopg import errors, sql

from marketmem.storage.engine import is_postgres

CONNECT_TIMEOUT_S = 10
DROP_TIMEOUT_S = 30.0
# What the figures depend on, printed next to them.
SETTINGS = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers")


def check_url(url: str) -> str:
    if not is_postgres(url):
        raise SystemExit(f"--db: expected a postgresql:// URL, got {url.split(':')[0]!r}")
    return url


def database_url(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def server_settings(url: str) -> str:
    """One line: where the server is and how it is set (durability first)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        values = [
            f"{name} {conn.execute(sql.SQL('SHOW {}').format(sql.Identifier(name))).fetchone()[0]}"  # type: ignore[index]
            for name in SETTINGS
        ]
    where = urlsplit(url)
    return f"PostgreSQL at {where.hostname}:{where.port}: " + ", ".join(values)


def _drop(admin_url: str, name: str) -> None:
    """Drop ``name``; a session still closing (or an autovacuum worker, which the role may
    not end) holds it for a moment, so retry, ending our own sessions if it persists."""
    ident = sql.Identifier(name)
    deadline = time.monotonic() + DROP_TIMEOUT_S
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        while True:
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
                return
            except errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                    (name,),
                )
                time.sleep(0.2)


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """The URL of a new empty database on the server of ``url``, dropped afterwards."""
    name = f"marketmem_bench_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        yield database_url(url, name)
    finally:
        _drop(url, name)
        settle(url)


def settle(url: str) -> None:
    """Write out now what the server would write in the background after a run (dirty
    buffers: a checkpoint), so the next run measured, on either engine, does not pay for it
    on the same cores; one line says so when the role may not (``pg_checkpoint``)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        try:
            conn.execute("CHECKPOINT")
        except errors.InsufficientPrivilege as exc:
            print(f"bench: no CHECKPOINT between runs ({exc})".strip(), flush=True)
