"""The SQLite catalog: which tables exist, their columns, and the file's pages.

PostgreSQL will ask ``to_regclass`` / ``information_schema.columns`` for tables and columns,
and has no pages to report (``pg_total_relation_size`` is the nearest figure).
"""

from __future__ import annotations

from typing import Any

import apsw


def has_table(conn: apsw.Connection, name: str) -> bool:
    """Whether a table or view ``name`` exists."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name=?", (name,)
    ).fetchone()
    return row is not None


def tables(conn: apsw.Connection) -> set[str]:
    """Every table, SQLite's and FTS5's own included."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def data_tables(conn: apsw.Connection) -> list[str]:
    """Tables that hold rows of marketmem, by name: FTS5 tables and their shadow tables and
    SQLite's internal tables left out."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]
    virtual = {
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
        )
    }
    return [n for n in names if not any(n.startswith(f"{v}_") for v in virtual)]


def table_columns(conn: apsw.Connection, table: str) -> set[str]:
    """The column names of ``table`` (empty when it does not exist)."""
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def free_pages(conn: apsw.Connection) -> int:
    row: Any = conn.execute("PRAGMA freelist_count").fetchone()
    return int(row[0])


def file_pages(conn: apsw.Connection) -> tuple[int, int]:
    """(pages in the database, bytes per page)."""
    count: Any = conn.execute("PRAGMA page_count").fetchone()
    size: Any = conn.execute("PRAGMA page_size").fetchone()
    return int(count[0]), int(size[0])
