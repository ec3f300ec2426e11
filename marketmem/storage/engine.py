"""Which storage engine a database location names, and opening its connections.

A location is a SQLite file path (the embedded default) or a ``postgresql://`` URL
(``[storage] url`` or ``MARKETMEM_DB``). Everything above the storage passes locations around
and asks this module for connections; only here, in ``storage.schema`` and in the engines'
own packages does the engine matter. A connection says its engine by its type: an apsw
connection is SQLite's, a ``PostgresConnection`` names its ``dialect``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import apsw
import trio

from marketmem.executors import Executor
from marketmem.leases import EveryLease, Leases
from marketmem.storage import db
from marketmem.storage.errors import STORAGE_ERROR
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.postgres.leases import PostgresLeases
from marketmem.storage.sqlite import files
from marketmem.storage.sqlite.instance import hold_instance

Connection: TypeAlias = apsw.Connection | PostgresConnection
Dialect = Literal["sqlite", "postgresql"]
Location: TypeAlias = str | Path

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres(location: Location) -> bool:
    return isinstance(location, str) and urlsplit(location).scheme in POSTGRES_SCHEMES


def dialect_of(conn: Connection) -> Dialect:
    return "postgresql" if isinstance(conn, PostgresConnection) else "sqlite"


def display(location: Location) -> str:
    """The location as logs and messages show it: a URL without its password."""
    if not is_postgres(location):
        return str(location)
    parts = urlsplit(str(location))
    if parts.password is None:
        return str(location)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def open_reader(
    location: Location,
    *,
    busy_timeout_ms: int = db.DEFAULT_BUSY_TIMEOUT_MS,
    application_name: str = "marketmem reader",
) -> Connection:
    """A connection that only reads, already known to work (a missing SQLite file or an
    unreachable server fails here, not at the first read)."""
    if is_postgres(location):
        return PostgresConnection.open(str(location), application_name=application_name)
    return db.open_reader(location, busy_timeout_ms=busy_timeout_ms)


def open_ro(location: Location, *, busy_timeout_ms: int = db.DEFAULT_BUSY_TIMEOUT_MS) -> Connection:
    """A reading connection opened lazily where the engine allows (SQLite's read-only open
    succeeds before the file is read; PostgreSQL connects at once)."""
    if is_postgres(location):
        return PostgresConnection.open(str(location), application_name="marketmem reader")
    return db.open_ro(location, busy_timeout_ms=busy_timeout_ms)


def open_writer(
    location: Location,
    *,
    busy_timeout_ms: int = db.DEFAULT_BUSY_TIMEOUT_MS,
    wal_autocheckpoint: int = db.DEFAULT_WAL_AUTOCHECKPOINT,
    cache_mib: int | None = None,
    application_name: str = "marketmem writer",
) -> Connection:
    """The read-write connection of the storage writer (SQLite: creates the file; its page
    cache is ``cache_mib``, None for SQLite's default; PostgreSQL caches in the server)."""
    if is_postgres(location):
        return PostgresConnection.open(str(location), application_name=application_name)
    return db.open_rw(
        location,
        busy_timeout_ms=busy_timeout_ms,
        wal_autocheckpoint=wal_autocheckpoint,
        cache_mib=cache_mib,
    )


def exists(location: Location) -> bool:
    """Whether there may be data to read: the SQLite file exists (a PostgreSQL database is
    assumed to; its tables may still be missing, which reads treat as empty)."""
    return is_postgres(location) or Path(location).exists()


def unusable(location: Location, *, write: bool) -> str | None:
    """Why the database at ``location`` cannot be used, in one line; None when it can be
    tried. SQLite: asked of the file system (``sqlite.files``: a directory, a file that is
    not SQLite, what cannot be written when ``write``; a missing file counts as one to
    create). PostgreSQL: a connection is made and closed (``cannot reach PostgreSQL at``)."""
    if not is_postgres(location):
        return files.problem(Path(location), write=write)
    try:
        PostgresConnection.open(str(location), application_name="marketmem check").close()
    except STORAGE_ERROR as exc:
        return open_failure(location, exc)
    return None


def open_failure(location: Location, exc: BaseException) -> str:
    """One line for a connection to ``location`` that could not be opened (or used at once)
    with ``exc``: what the file system says of a SQLite file, else the driver's first line."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if is_postgres(location):
        return f"cannot reach PostgreSQL at {display(location)}: {first or type(exc).__name__}"
    why = files.problem(Path(location), write=True)
    return why or f"cannot open database {location}: {type(exc).__name__}: {first}"


def query(conn: Connection, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict]:
    """Run a read and return rows as dicts keyed by column name (tools and tests; the
    service reads through ``storage.reads``' typed models)."""
    if isinstance(conn, PostgresConnection):
        cur = conn.execute(sql, params)
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur]
    return db.query(conn, sql, params)


@asynccontextmanager
async def open_leases(
    location: Location, name: str, *, executor: Executor | None = None
) -> AsyncIterator[Leases]:
    """The leases of instance ``name`` on the database at ``location``: SQLite serves one
    instance (it holds the file, ``sqlite.instance``) and grants every lease; PostgreSQL holds
    advisory locks on a session of its own, closed on exit (which releases them)."""
    if not is_postgres(location):
        with hold_instance(Path(location), name):
            yield EveryLease(name)
        return
    leases = PostgresLeases(str(location), name, executor=executor)
    try:
        yield leases
    finally:
        with trio.CancelScope(shield=True):
            await leases.aclose()
