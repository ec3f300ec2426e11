"""A database built from the declarations has the schema of the current release.

``release_schema.RELEASE_DDL`` is what the release ran; ``schema.migrate`` is what this
marketmem runs on a new file (the declarations rendered by ``storage.sqlite.ddl``, then
migrations 2 and 3, which change nothing there). The two databases are compared object by
object of ``sqlite_master``: every table's columns (``PRAGMA table_xinfo``: name, type, NOT
NULL, default, key position), ``WITHOUT ROWID``, each column's collation and the table's CHECK
clauses; every index (automatic ones included: a UNIQUE column or a key of a table with row
ids) with its table, origin, uniqueness and columns (``PRAGMA index_xinfo``: name, order,
collation); the FTS5 tables (their shadow tables are tables like the others) and the triggers,
by name and SQL normalised for whitespace. Nothing differs. The text of a CREATE TABLE is not
compared as such (the release wrote a one-column key inline, the renderer as a table
constraint); everything that text decides is, above.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import apsw

from marketmem.plugins import SOURCES
from marketmem.storage import db, schema
from tests.storage.release_schema import RELEASE_DDL, RELEASE_VERSION


def normalised(sql: str) -> str:
    """``sql`` with runs of whitespace as one space and none around ( ) , ;"""
    return re.sub(r"\s*([(),;])\s*", r"\1", re.sub(r"\s+", " ", sql)).strip()


def checks(sql: str) -> list[str]:
    """The CHECK clauses of a CREATE TABLE, normalised, in order."""
    out = []
    for match in re.finditer(r"\bCHECK\s*\(", sql, flags=re.IGNORECASE):
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        out.append(normalised(sql[match.start() : end]))
    return out


def schema_of(conn: apsw.Connection) -> dict[tuple[str, str], Any]:
    """Every object of the database, keyed by (kind, name), as compared (module docstring)."""
    without_rowid = {r[1]: bool(r[4]) for r in conn.execute("PRAGMA table_list")}
    out: dict[tuple[str, str], Any] = {}
    objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    for kind, name, table, sql in objects:
        if kind == "table" and str(sql).startswith("CREATE VIRTUAL TABLE"):
            out[("fts", name)] = normalised(sql)
        elif kind == "table":
            columns = [r[1:6] for r in conn.execute(f"PRAGMA table_xinfo('{name}')")]
            out[(kind, name)] = {
                "columns": columns,
                "without_rowid": without_rowid[name],
                # (collation, AUTOINCREMENT) of each column
                "collations": [conn.column_metadata("main", name, c[0])[1::3] for c in columns],
                "checks": checks(sql),
            }
        elif kind == "index":
            listed = {r[1]: r[2:] for r in conn.execute(f"PRAGMA index_list('{table}')")}
            out[(kind, name)] = {
                "table": table,
                "unique, origin, partial": listed[name],
                "columns": [r[2:] for r in conn.execute(f"PRAGMA index_xinfo('{name}')")],
            }
        else:
            out[(kind, name)] = (table, normalised(sql))
    return out


def release_database(path: Path) -> apsw.Connection:
    conn = db.open_rw(path)
    with conn:
        for stmt in RELEASE_DDL:
            conn.execute(stmt)
        conn.execute(f"PRAGMA user_version={RELEASE_VERSION}")
    return conn


def test_a_database_built_from_the_declarations_has_the_release_schema(tmp_path: Path) -> None:
    # The release's database as this marketmem upgrades it (the migrations after the
    # release's version: 4 adds ingestion_runs.instance).
    upgraded = release_database(tmp_path / "release.db")
    assert schema.migrate(upgraded, SOURCES) == RELEASE_VERSION
    release = schema_of(upgraded)
    conn = db.open_rw(tmp_path / "declared.db")
    assert schema.migrate(conn, SOURCES) == 0
    declared = schema_of(conn)
    assert sorted(declared) == sorted(release)
    for key, value in release.items():
        assert declared[key] == value, key
    # Every kind of object is there to compare.
    assert {kind for kind, _ in release} == {"table", "index", "fts", "trigger"}
    assert len([k for k in release if k[0] == "trigger"]) == 6


def test_a_database_of_the_release_migrates_without_gaining_or_losing_an_object(
    tmp_path: Path,
) -> None:
    conn = release_database(tmp_path / "release.db")
    query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    before = conn.execute(query).fetchall()
    assert schema.migrate(conn, SOURCES) == RELEASE_VERSION
    after = conn.execute(query).fetchall()
    # Not one object is created again or beside the release's (no second set of triggers);
    # only the tables a later migration alters change (4: ingestion_runs gains a column).
    assert [r[:3] for r in after] == [r[:3] for r in before]
    altered = {r[1] for r, s in zip(before, after, strict=True) if r != s}
    assert altered == {"ingestion_runs"}
    assert schema.migrate(conn, SOURCES) == schema.SCHEMA_VERSION  # and again: a no-op
    assert conn.execute(query).fetchall() == after


def test_every_upsert_writes_columns_its_declared_table_has() -> None:
    declared = {t.name: t for s in schema.table_sets(SOURCES) for t in s.tables}
    for upsert in schema.upserts(SOURCES):
        table = declared[upsert.table]
        names = [c.name for c in table.columns]
        assert [c for c in upsert.columns if c not in names] == [], upsert.table
        assert set(upsert.key) == set(table.primary_key) or (
            len(upsert.key) == 1 and table.column(upsert.key[0]).unique
        ), upsert.table
