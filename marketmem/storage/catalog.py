"""The catalog, whatever the engine: which tables exist and their columns.

Each engine answers from its own catalog (``storage.sqlite.catalog``: ``sqlite_master`` and
``PRAGMA table_info``; ``storage.postgres.catalog``: ``information_schema``).
"""

from __future__ import annotations

from marketmem.storage.engine import Connection
from marketmem.storage.postgres import catalog as postgres
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.sqlite import catalog as sqlite


def has_table(conn: Connection, name: str) -> bool:
    """Whether a table or view ``name`` exists."""
    if isinstance(conn, PostgresConnection):
        return postgres.has_table(conn, name)
    return sqlite.has_table(conn, name)


def table_columns(conn: Connection, table: str) -> set[str]:
    """The column names of ``table`` (empty when it does not exist)."""
    if isinstance(conn, PostgresConnection):
        return postgres.table_columns(conn, table)
    return sqlite.table_columns(conn, table)


def data_tables(conn: Connection) -> list[str]:
    """The tables that hold marketmem's rows, by name (no search index or engine table)."""
    if isinstance(conn, PostgresConnection):
        return postgres.data_tables(conn)
    return sqlite.data_tables(conn)


def tables(conn: Connection) -> set[str]:
    """Every table (SQLite: its own and FTS5's included)."""
    if isinstance(conn, PostgresConnection):
        return set(postgres.data_tables(conn))
    return sqlite.tables(conn)


def free_pages(conn: Connection) -> int:
    """Pages the file holds free for reuse (PostgreSQL: 0, its free space is VACUUM's)."""
    if isinstance(conn, PostgresConnection):
        return 0
    return sqlite.free_pages(conn)


def file_pages(conn: Connection) -> tuple[int, int]:
    """(pages in the database, bytes per page); PostgreSQL's size in its 8 KiB blocks."""
    if isinstance(conn, PostgresConnection):
        return postgres.database_bytes(conn) // postgres.BLOCK_BYTES, postgres.BLOCK_BYTES
    return sqlite.file_pages(conn)
