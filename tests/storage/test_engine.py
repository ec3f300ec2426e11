"""Engine selection and the PostgreSQL connection's rewriting of the storage's statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketmem.storage import engine
from marketmem.storage.postgres.connection import PostgresConnection, translate


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = %s AND c = %s"),
        ("DELETE FROM t WHERE t < :before", "DELETE FROM t WHERE t < %(before)s"),
        ("SELECT x % 3600000 FROM t", "SELECT x %% 3600000 FROM t"),
        ("SELECT 'a?b :c 5%' , ?", "SELECT 'a?b :c 5%%' , %s"),
        ('SELECT "we?ird" FROM t', 'SELECT "we?ird" FROM t'),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
        ("SELECT x::text, :y", "SELECT x::text, %(y)s"),
        ("SELECT 1 -- why? :no\n, ?", "SELECT 1 -- why? :no\n, %s"),
        ("SELECT a[1:2]", "SELECT a[1:2]"),
    ],
)
def test_statements_are_rewritten_to_psycopg_placeholders(sql: str, expected: str) -> None:
    assert translate(sql) == expected


def test_a_location_names_its_engine() -> None:
    assert engine.is_postgres("postgresql://u@h/db") and engine.is_postgres("postgres://h/db")
    assert not engine.is_postgres(Path("/tmp/postgresql.db"))
    assert not engine.is_postgres("data/marketmem.db")
    assert engine.display("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert engine.display("postgresql://u@h/db") == "postgresql://u@h/db"
    assert engine.exists("postgresql://u@h/db") and not engine.exists(Path("/nonexistent/x.db"))


def test_postgres_connection_round_trip(pg_database: str) -> None:
    conn = engine.open_writer(pg_database)
    assert isinstance(conn, PostgresConnection) and engine.dialect_of(conn) == "postgresql"
    try:
        conn.execute('CREATE TABLE t (k BIGINT PRIMARY KEY, "user" TEXT, doc JSONB)')
        with conn:
            conn.executemany(
                'INSERT INTO t (k, "user", doc) VALUES (?, ?, ?)',
                [(1, "a", '["x", 1]'), (2, "b", None)],
            )
        assert conn.changes() == 2
        with pytest.raises(RuntimeError), conn:  # a failed transaction leaves nothing
            conn.execute('INSERT INTO t (k, "user") VALUES (?, ?)', (3, "c"))
            raise RuntimeError("rolled back")
        rows = engine.query(conn, "SELECT k, doc FROM t WHERE k >= :low ORDER BY k", {"low": 1})
        # JSON comes back as its text, as SQLite returns it.
        assert rows == [{"k": 1, "doc": '["x", 1]'}, {"k": 2, "doc": None}]
        conn.execute('UPDATE t SET "user" = ? WHERE k % 2 = 0', ("z",))
        assert conn.changes() == 1
    finally:
        conn.close()
