"""Declared tables as SQLite statements.

A ``Table`` becomes its ``CREATE TABLE`` (``WITHOUT ROWID`` when clustered), one
``CREATE INDEX`` per index, and for a ``Search`` an FTS5 external-content table
``<table>_fts`` over the searched columns with the three triggers that keep it in step with
the table. Every statement is ``IF NOT EXISTS``: run on a database that has the objects, they
change nothing. INT and BOOL columns are INTEGER (a bool is 0 or 1), JSON columns TEXT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from marketmem.storage.declare import (
    BOOL,
    INT,
    JSON,
    REAL,
    TEXT,
    Column,
    ColumnType,
    Index,
    Table,
    Value,
)

TYPES: dict[ColumnType, str] = {
    INT: "INTEGER",
    REAL: "REAL",
    TEXT: "TEXT",
    BOOL: "INTEGER",
    JSON: "TEXT",
}


def literal(value: Value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def column_definition(column: Column) -> str:
    parts = [column.name, TYPES[column.type]]
    if not column.nullable:
        parts.append("NOT NULL")
    if column.unique:
        parts.append("UNIQUE")
    if column.case_insensitive:
        parts.append("COLLATE NOCASE")
    if column.default is not None:
        parts.append(f"DEFAULT {literal(column.default)}")
    if column.allowed is not None:
        values = ", ".join(literal(v) for v in column.allowed)
        parts.append(f"CHECK ({column.name} IN ({values}))")
    return " ".join(parts)


def create_table(table: Table) -> str:
    lines = [column_definition(c) for c in table.columns]
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    body = ",\n    ".join(lines)
    rowid = " WITHOUT ROWID" if table.clustered else ""
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n    {body}\n){rowid}"


def create_index(table: str, index: Index) -> str:
    return f"CREATE INDEX IF NOT EXISTS {index.name} ON {table} ({', '.join(index.columns)})"


def search_table(table: Table) -> str:
    """The name of the FTS5 table of ``table``'s search."""
    return f"{table.name}_fts"


def search_statements(table: Table) -> list[str]:
    """The FTS5 external-content table of ``table``'s search and its three triggers."""
    search = table.search
    if search is None:
        return []
    fts = search_table(table)
    cols = ", ".join(search.columns)
    options = [f"content='{table.name}'", "content_rowid='rowid'"]
    if search.tokenizer is not None:
        options.append(f"tokenize={literal(search.tokenizer)}")
    new = ", ".join(f"new.{c}" for c in search.columns)
    old = ", ".join(f"old.{c}" for c in search.columns)
    insert = f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {new});"
    delete = f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    on_insert, on_delete, on_update = (f"{fts}_{s}" for s in search.trigger_suffixes)
    of = "" if search.reindex_on_any_update else f" OF {cols}"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({cols}, {', '.join(options)})",
        f"CREATE TRIGGER IF NOT EXISTS {on_insert} AFTER INSERT ON {table.name}\n"
        f"BEGIN\n    {insert}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS {on_delete} AFTER DELETE ON {table.name}\n"
        f"BEGIN\n    {delete}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS {on_update} AFTER UPDATE{of} ON {table.name}\n"
        f"BEGIN\n    {delete}\n    {insert}\nEND",
    ]


def table_statements(table: Table) -> list[str]:
    """Everything that creates ``table``: the table, its indexes, its search."""
    return [
        create_table(table),
        *(create_index(table.name, i) for i in table.indexes),
        *search_statements(table),
    ]


def statements(
    tables: Sequence[Table], indexes: Mapping[str, Sequence[Index]] | None = None
) -> list[str]:
    """The statements of ``tables`` in order, then ``indexes`` (per table name: indexes an area
    adds to a table another area declares)."""
    out = [stmt for table in tables for stmt in table_statements(table)]
    for table_name, extra in (indexes or {}).items():
        out += [create_index(table_name, i) for i in extra]
    return out
