"""Schema migrations through ``PRAGMA user_version``.

Tables are declared by the modules in ``TABLE_MODULES`` (each exports ``DDL`` and
``WRITERS``). Migration 1 creates every declared table; later schema changes append a
migration (a list of statements) to ``MIGRATIONS`` and never edit an earlier one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import apsw

from marketmem.storage.tables import WriteFn

TABLE_MODULES: tuple[str, ...] = (
    "marketmem.storage.core_tables",
    "marketmem.sources.hyperliquid.tables",
    "marketmem.features.tables",
    "marketmem.sources.polymarket.tables",
    "marketmem.sources.defillama.tables",
    "marketmem.http.tables",
    "marketmem.retention.tables",
)


def table_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in TABLE_MODULES]


def _create_all(conn: apsw.Connection) -> None:
    for mod in table_modules():
        for stmt in mod.DDL:
            conn.execute(stmt)


Migration = Callable[[apsw.Connection], None]

# Index i holds the migration that takes user_version i to i + 1.
MIGRATIONS: list[Migration] = [_create_all]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was written by a newer marketmem."""


def migrate(conn: apsw.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it started at."""
    row = conn.execute("PRAGMA user_version").fetchone()
    start = int(row[0]) if row else 0
    if start > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema version {start} is newer than this marketmem ({SCHEMA_VERSION})"
        )
    for version in range(start, SCHEMA_VERSION):
        with conn:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version={version + 1}")
    # Tables added to a module after a database was created at the same version (during
    # development) are created too: every DDL statement is IF NOT EXISTS.
    with conn:
        _create_all(conn)
    return start


def writers() -> dict[type, WriteFn]:
    """Every event type the storage writer handles, with its write function."""
    out: dict[type, WriteFn] = {}
    for mod in table_modules():
        for event_type, fn in mod.WRITERS.items():
            if event_type in out:
                raise RuntimeError(f"two writers for {event_type.__name__}")
            out[event_type] = fn
    return out
