"""Schema migrations, per engine, and the start-up check of every row type's columns.

SQLite keeps its version in ``PRAGMA user_version``; PostgreSQL in a table, with its own
history (``storage.postgres.migrations``). ``migrate`` and ``check_columns`` take a connection
of either engine.

Tables are declared without SQL (``marketmem.storage.declare``) by the core
(``core_tables``: runs; ``access_tables``: tokens, clones) and by each source
(``Source.tables``: its tables and a write function per event type); the SQLite dialect
(``storage.sqlite.ddl``) renders them. Migration 1 creates every declared table; later schema
changes append a migration (a function of the connection and the declared tables) to
``MIGRATIONS`` and never edit an earlier one. Migration 2 makes the Polymarket volume and
liquidity columns nullable; migration 3 drops the rollup-marking triggers of the candle table
(the writer marks hours in the write path). What they do that no declaration can say is
SQLite's own, in ``storage.sqlite.upgrades``.

The SQLite migrations below bring databases of earlier releases up; PostgreSQL never had
those, so its migration 1 renders today's declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import apsw

from marketmem.source import Source, Tables
from marketmem.storage import access_tables, catalog, core_tables
from marketmem.storage.engine import Connection
from marketmem.storage.postgres import migrations as postgres_migrations
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.sqlite import upgrades
from marketmem.storage.tables import AfterWrite, RowsWriter, Upsert, WriteFn
from marketmem.usage import CannotStart

CORE_TABLES = (core_tables.TABLES, access_tables.TABLES)


def table_sets(sources: Sequence[Source]) -> list[Tables]:
    """The core tables, then each source's in order."""
    return [*CORE_TABLES, *(src.tables for src in sources)]


def _create_all(conn: apsw.Connection, tables: Sequence[Tables]) -> None:
    """Migration 1, and again at every start: every declared table (all IF NOT EXISTS)."""
    for declared in tables:
        for stmt in declared.ddl:
            conn.execute(stmt)
    upgrades.mark_unmarked_minutes(conn, {t.name for d in tables for t in d.tables})


def _nullable_polymarket_numbers(conn: apsw.Connection, tables: Sequence[Tables]) -> None:
    """Migration 2: Polymarket volume, 24 h volume and liquidity become nullable (a number
    Gamma left out is NULL, no longer 0). The FTS index of ``polymarket_markets`` stays
    valid: its content rowids are kept, and its triggers are recreated."""
    for table in (
        "polymarket_events",
        "polymarket_markets",
        "polymarket_immediate_markets",
        "polymarket_later_markets",
        "polymarket_recently_closed_markets",
    ):
        upgrades.drop_not_null(conn, table, ("volume", "volume_24h", "liquidity"))


def _rollup_marks_in_the_write_path(conn: apsw.Connection, tables: Sequence[Tables]) -> None:
    """Migration 3: the triggers that marked rollup hours on every candle insert or update
    go; the writer marks them after writing a candle batch (retention's after-write)."""
    upgrades.drop_rollup_triggers(conn)


def _runs_name_their_instance(conn: apsw.Connection, tables: Sequence[Tables]) -> None:
    """Migration 4: ``ingestion_runs.instance``, the instance that ran each run (runs of
    earlier releases keep NULL)."""
    upgrades.add_column(conn, "ingestion_runs", "instance", "TEXT")


Migration = Callable[[apsw.Connection, Sequence[Tables]], None]

# Index i holds the migration that takes user_version i to i + 1.
MIGRATIONS: list[Migration] = [
    _create_all,
    _nullable_polymarket_numbers,
    _rollup_marks_in_the_write_path,
    _runs_name_their_instance,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(CannotStart):
    """The database was written by a newer marketmem."""


class SchemaMismatch(CannotStart):
    """A row type has columns its table lacks: every such row would be rejected later."""


MAX_NAMED_MISMATCHES = 3


def upserts(sources: Sequence[Source]) -> list[Upsert]:
    """Every upsert the writer may run: those each table set lists and those of its
    ``rows_writer`` functions, once each."""
    found: dict[int, Upsert] = {}
    for declared in table_sets(sources):
        for upsert in declared.upserts:
            found.setdefault(id(upsert), upsert)
        for fn in declared.writers.values():
            if isinstance(fn, RowsWriter):
                found.setdefault(id(fn.upsert), fn.upsert)
    return list(found.values())


def check_columns(conn: Connection, sources: Sequence[Source]) -> None:
    """Refuse to start when a row type's columns are not all in its table."""
    problems: list[str] = []
    for upsert in upserts(sources):
        have = catalog.table_columns(conn, upsert.table)
        row_type = upsert.row_type.__name__
        if not have:
            problems.append(f"table {upsert.table} (for {row_type}) does not exist")
            continue
        missing = [c for c in upsert.columns if c not in have]
        if missing:
            problems.append(
                f"table {upsert.table} lacks column(s) {', '.join(missing)} of {row_type}"
            )
    if problems:
        more = len(problems) - MAX_NAMED_MISMATCHES
        raise SchemaMismatch(
            "the database does not match this marketmem: "
            + "; ".join(problems[:MAX_NAMED_MISMATCHES])
            + (f"; and {more} more" if more > 0 else "")
        )


def migrate(conn: Connection, sources: Sequence[Source]) -> int:
    """Bring the database to its engine's current schema; returns the version it started at."""
    tables = table_sets(sources)
    if isinstance(conn, PostgresConnection):
        return postgres_migrations.migrate(conn, tables, SchemaTooNew)
    row = conn.execute("PRAGMA user_version").fetchone()
    start = int(row[0]) if row else 0
    if start > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema version {start} is newer than this marketmem ({SCHEMA_VERSION})"
        )
    for version in range(start, SCHEMA_VERSION):
        with conn:
            MIGRATIONS[version](conn, tables)
            conn.execute(f"PRAGMA user_version={version + 1}")
    # Tables added to a module after a database was created at the same version (during
    # development) are created too: every DDL statement is IF NOT EXISTS.
    with conn:
        _create_all(conn, tables)
    return start


def after_writes(sources: Sequence[Source]) -> dict[type, list[AfterWrite]]:
    """Per event type, the bookkeeping functions that run after its write, in table order."""
    out: dict[type, list[AfterWrite]] = {}
    for declared in table_sets(sources):
        for event_type, fn in declared.after_writes.items():
            out.setdefault(event_type, []).append(fn)
    return out


def writers(sources: Sequence[Source]) -> dict[type, WriteFn]:
    """Every event type the storage writer handles, with its write function."""
    out: dict[type, WriteFn] = {}
    for declared in table_sets(sources):
        for event_type, fn in declared.writers.items():
            if event_type in out:
                raise RuntimeError(f"two writers for {event_type.__name__}")
            out[event_type] = fn
    return out
