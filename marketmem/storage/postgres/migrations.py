"""Schema migrations of the PostgreSQL engine: its own versions, in a table.

PostgreSQL has no database of an earlier release, so its history starts at the declarations
of the release that added it: migration 1 creates every declared table (rendered by
``storage.postgres.ddl``). A later schema change appends a function to ``MIGRATIONS`` and
never edits an earlier one. The version lives in ``marketmem_schema`` (one row). Several
instances may start at once against one database: each migrates inside a transaction that
holds an advisory lock, so one migrates and the others find the work done.

Migration 1's rendering was changed once, before any release had a PostgreSQL database (so
none can hold the earlier form): the 1-minute candles and the mids became tables partitioned
by day (``Table.partition_by_day``, issue 16), each with a DEFAULT partition, rather than
adding a migration 2 that rebuilds tables no database has. A development database created
before that keeps its plain tables; ``storage.postgres.partitions`` leaves a table the
catalog does not show partitioned alone (its rows expire by chunked deletes, as before).
Every start (``create_all``) also makes the day partitions from yesterday to
``partitions.DAYS_AHEAD`` days after today, by the system clock; each maintenance pass keeps
its window (from the oldest retained day) ahead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from marketmem.clock import DAY_MS
from marketmem.storage.postgres import ddl, partitions
from marketmem.storage.postgres.catalog import VERSION_TABLE
from marketmem.storage.postgres.connection import PostgresConnection

if TYPE_CHECKING:
    from marketmem.source import Tables

MIGRATION_LOCK = partitions.SCHEMA_LOCK


def create_all(conn: PostgresConnection, tables: Sequence[Tables]) -> None:
    """Migration 1, and again at every start: every declared table (all IF NOT EXISTS), and
    the day partitions of the tables partitioned by day, from yesterday to
    ``partitions.DAYS_AHEAD`` days after today."""
    for declared in tables:
        for stmt in ddl.statements(declared.tables, declared.indexes):
            conn.execute(stmt)
    now_ms = int(time.time() * 1000)
    for declared in tables:
        for table in declared.tables:
            if table.partition_by_day is not None:
                partitions.create_days(
                    conn,
                    table.name,
                    now_ms - DAY_MS,
                    now_ms + partitions.DAYS_AHEAD * DAY_MS,
                )


Migration = Callable[[PostgresConnection, Sequence["Tables"]], None]

# Index i holds the migration that takes version i to i + 1.
MIGRATIONS: list[Migration] = [create_all]

SCHEMA_VERSION = len(MIGRATIONS)


def stored_version(conn: PostgresConnection) -> int:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version BIGINT NOT NULL)")
    row = conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: PostgresConnection, tables: Sequence[Tables], too_new: type[Exception]) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it started at. Raises
    ``too_new`` when a newer marketmem wrote it."""
    with conn:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        start = stored_version(conn)
        if start > SCHEMA_VERSION:
            raise too_new(
                f"database schema version {start} is newer than this marketmem "
                f"(PostgreSQL schema {SCHEMA_VERSION})"
            )
        for version in range(start, SCHEMA_VERSION):
            MIGRATIONS[version](conn, tables)
        if start == 0:
            conn.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)", (SCHEMA_VERSION,))
        elif start < SCHEMA_VERSION:
            conn.execute(f"UPDATE {VERSION_TABLE} SET version = ?", (SCHEMA_VERSION,))
        create_all(conn, tables)
    return start
