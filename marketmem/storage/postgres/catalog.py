"""The PostgreSQL catalog: which tables exist and their columns, in the connection's schema
(``current_schema()``, ``public`` unless the URL's ``options`` say otherwise).

Read from ``pg_catalog`` itself, not the ``information_schema`` views: those check privileges
row by row and took 4 to 6 ms a question on a database with its day partitions, which the
latest-data answer (a question per feature table) paid on every composition."""

from __future__ import annotations

import weakref
from typing import Any

from marketmem.storage.postgres.connection import PostgresConnection

BLOCK_BYTES = 8192
# The engine's own table (the schema version), not marketmem's data.
VERSION_TABLE = "marketmem_schema"


# Per session (the psycopg connection), the tables it has seen exist: a table, once made, is
# not dropped while marketmem runs, and the readers ask about the same few on every request.
_seen: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def has_table(conn: PostgresConnection, name: str) -> bool:
    """Whether a table or view ``name`` exists."""
    seen = _seen.setdefault(conn.raw, set())
    if name in seen:
        return True
    row = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ? "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
        (name,),
    ).fetchone()
    if row is not None:
        seen.add(name)
    return row is not None


def data_tables(conn: PostgresConnection) -> list[str]:
    """Every table of marketmem's data, by name (partitions of a partitioned table and the
    schema version table left out)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND c.relname <> ? ORDER BY c.relname",
        (VERSION_TABLE,),
    )
    return [r[0] for r in rows]


def table_columns(conn: PostgresConnection, table: str) -> set[str]:
    """The column names of ``table`` (empty when it does not exist)."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ? "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    )
    return {r[0] for r in rows}


def database_bytes(conn: PostgresConnection) -> int:
    """The size of the whole database on disk."""
    row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0
