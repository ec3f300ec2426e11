"""The PostgreSQL catalog: which tables exist and their columns, in the connection's schema
(``current_schema()``, ``public`` unless the URL's ``options`` say otherwise)."""

from __future__ import annotations

from marketmem.storage.postgres.connection import PostgresConnection

BLOCK_BYTES = 8192
# The engine's own table (the schema version), not marketmem's data.
VERSION_TABLE = "marketmem_schema"


def has_table(conn: PostgresConnection, name: str) -> bool:
    """Whether a table or view ``name`` exists."""
    row = conn.execute(
        "SELECT 1 FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ?",
        (name,),
    ).fetchone()
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
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {r[0] for r in rows}


def database_bytes(conn: PostgresConnection) -> int:
    """The size of the whole database on disk."""
    row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0
