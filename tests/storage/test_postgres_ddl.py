"""The declarations rendered for PostgreSQL, on the real server.

Every table of the core and of ``marketmem.plugins.SOURCES`` is created in a new database
(twice: every statement is IF NOT EXISTS) and read back from the catalog
(``information_schema.columns``, its key constraints, ``pg_indexes``, ``pg_constraint``): each
column's type, nullability, default and collation, the generated search column, each table's
primary key and unique columns, every index with its method and columns, and the CHECKs. Then
the parts that are more than a type: full-text search (the words of the search column and
their weight labels), case-insensitive keys, a CHECK, and the tables partitioned by day (their
partitions are left out of the catalog comparisons: each carries its parent's columns, keys,
indexes and checks, which the partition test checks).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from marketmem.plugins import SOURCES
from marketmem.storage import schema
from marketmem.storage.declare import BOOL, INT, JSON, REAL, TEXT, Column, Index, Table
from marketmem.storage.postgres import ddl

PG_TYPES = {INT: "bigint", REAL: "double precision", TEXT: "text", BOOL: "boolean", JSON: "jsonb"}


def declared() -> tuple[list[Table], dict[str, list[Index]]]:
    sets = schema.table_sets(SOURCES)
    indexes: dict[str, list[Index]] = {}
    for declared_set in sets:
        for table, extra in declared_set.indexes.items():
            indexes.setdefault(table, []).extend(extra)
    return [t for s in sets for t in s.tables], indexes


TABLES, EXTRA_INDEXES = declared()


@pytest.fixture
def conn(pg_database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_database) as conn:
        for _ in range(2):
            with conn.transaction():
                for stmt in ddl.statements(TABLES, EXTRA_INDEXES):
                    conn.execute(stmt)
        yield conn


def partitions(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute("SELECT inhrelid::regclass::text FROM pg_inherits").fetchall()
    return {r[0] for r in rows}


def by_table(rows: Sequence[tuple[Any, ...]], skip: set[str]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table, *rest in rows:
        if table not in skip:
            out.setdefault(table, []).append(tuple(rest))
    return out


def pg_default(column: Column) -> str | None:
    value = column.default
    if value is None:
        return None
    if isinstance(value, str):
        return f"{ddl.literal(value)}::text"
    return str(value).lower()


def expected_columns(table: Table) -> list[tuple[Any, ...]]:
    out = [
        (
            c.name,
            PG_TYPES[c.type],
            "YES" if c.nullable and c.name not in table.primary_key else "NO",
            pg_default(c),
            ddl.NOCASE if c.case_insensitive else None,
            "NEVER",
        )
        for c in table.columns
    ]
    if table.search is not None:
        out.append((ddl.SEARCH_COLUMN, "tsvector", "YES", None, None, "ALWAYS"))
    return out


def test_every_declared_table_and_column_is_there_as_declared(
    conn: psycopg.Connection[Any],
) -> None:
    rows = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default, "
        "collation_name, is_generated FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    ).fetchall()
    got = by_table(rows, partitions(conn))
    assert sorted(got) == sorted(t.name for t in TABLES)
    for table in TABLES:
        assert got[table.name] == expected_columns(table), table.name
    assert len(TABLES) >= 30


def test_every_key_and_index_is_there(conn: psycopg.Connection[Any]) -> None:
    keys = conn.execute(
        "SELECT tc.table_name, tc.constraint_type, "
        "array_agg(k.column_name::text ORDER BY k.ordinal_position) "
        "FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage k "
        "USING (constraint_schema, constraint_name, table_name) "
        "WHERE tc.table_schema = 'public' AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
        "GROUP BY tc.table_name, tc.constraint_name, tc.constraint_type"
    ).fetchall()
    skip = partitions(conn)
    got_keys = {(t, kind, tuple(cols)) for t, kind, cols in keys if t not in skip}
    want_keys = {(t.name, "PRIMARY KEY", t.primary_key) for t in TABLES if t.primary_key}
    want_keys |= {(t.name, "UNIQUE", (c.name,)) for t in TABLES for c in t.columns if c.unique}
    assert got_keys == want_keys
    # Every table has a key: the natural key every upsert conflicts on.
    assert {t for t, _, _ in got_keys} == {t.name for t in TABLES}

    got_indexes = {}
    for table, name, definition in conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    ):
        if table in skip:
            continue
        found = re.search(r" USING (\w+) \((.*)\)$", definition)
        assert found, definition
        columns = tuple(c.strip().strip('"') for c in found[2].split(","))
        got_indexes[name] = (table, found[1], columns)
    want_indexes = {}
    for t in TABLES:
        if t.primary_key:
            want_indexes[f"{t.name}_pkey"] = (t.name, "btree", t.primary_key)
        for c in t.columns:
            if c.unique:
                want_indexes[f"{t.name}_{c.name}_key"] = (t.name, "btree", (c.name,))
        for i in (*t.indexes, *EXTRA_INDEXES.get(t.name, ())):
            want_indexes[i.name] = (t.name, "btree", i.columns)
        if t.search is not None:
            want_indexes[ddl.search_index(t)] = (t.name, "gin", (ddl.SEARCH_COLUMN,))
    assert got_indexes == want_indexes
    assert any(method == "gin" for _, method, _ in got_indexes.values())


def test_every_check_is_there(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'c' AND connamespace = 'public'::regnamespace"
    ).fetchall()
    skip = partitions(conn)
    rows = [(t, d) for t, d in rows if t not in skip]
    want = [(t.name, c) for t in TABLES for c in t.columns if c.allowed is not None]
    assert len(rows) == len(want) >= 1
    for table, column in want:
        (definition,) = [d for t, d in rows if t == table and column.name in d]
        assert all(ddl.literal(v) in definition for v in column.allowed or ()), definition


def test_search_case_insensitive_keys_and_checks_behave(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "INSERT INTO polymarket_markets (market_id, condition_id, event_title, slug, question, "
        "outcomes, clob_token_ids, active, closed, archived, resolution, tags, fetched_at_ms) "
        "VALUES ('1', '0x1', 'Crypto prices', 'btc-150k', 'Will Bitcoin reach $150,000?', "
        '\'["Yes", "No"]\', \'["1", "2"]\', true, false, false, \'open\', \'["crypto"]\', 0)'
    )
    conn.execute(
        "INSERT INTO defillama_subjects (kind, subject_id, name, slug, symbol, updated_at_ms) "
        "VALUES ('protocol', 'aave', 'Aave', 'aave', NULL, 0)"
    )

    def hits(table: str, words: str) -> int:
        (n,) = conn.execute(
            f"SELECT count(*) FROM {table} "
            f"WHERE {ddl.SEARCH_COLUMN} @@ plainto_tsquery('simple', %s)",
            (words,),
        ).fetchone()
        return int(n)

    assert hits("polymarket_markets", "bitcoin") == 1  # question, any case
    assert hits("polymarket_markets", "crypto") == 1  # a JSON tag (and the event title)
    assert hits("polymarket_markets", "ethereum") == 0
    assert hits("defillama_subjects", "AAVE") == 1  # a NULL searched column is no obstacle

    insert = (
        "INSERT INTO defillama_subject_assets (kind, subject_id, asset, origin) "
        "VALUES ('protocol', 'aave', %s, 'symbol') ON CONFLICT DO NOTHING"
    )
    conn.execute(insert, ("ETH",))
    conn.execute(insert, ("eth",))  # the same key, as on SQLite's NOCASE
    assert conn.execute(
        "SELECT asset FROM defillama_subject_assets WHERE asset = 'Eth'"
    ).fetchall() == [("ETH",)]

    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, status) "
            "VALUES ('r1', 's', 'c', 0, 'bogus')"
        )


def test_the_search_column_holds_the_words_fts5_finds_labelled_by_column(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute(
        "INSERT INTO polymarket_markets (market_id, condition_id, event_title, slug, question, "
        "outcomes, clob_token_ids, active, closed, archived, resolution, tags, fetched_at_ms) "
        "VALUES ('1', '0x1', 'Crème BRÛLÉE', 'btc-1.5m', 'Will Zürich’s “Café” hit 1.5?', "
        "'[\"Yes\", \"No\"]', '[]', true, false, false, 'open', '[\"Up-or-Down\"]', 0)"
    )
    (vector,) = conn.execute("SELECT search_vector::text FROM polymarket_markets").fetchone()
    # Case and diacritics folded in every script, split at every character that is not a
    # letter or a digit (no "zürich’s", "“café”" or "1.5" as one word, no hyphenated whole);
    # question A, event title B, slug C, tags D (unmarked).
    assert vector == (
        "'1':6A,11C '5':7A '5m':12C 'brulee':9B 'btc':10C 'cafe':4A 'creme':8B 'down':15 "
        "'hit':5A 'or':14 's':3A 'up':13 'will':1A 'zurich':2A"
    )
    assert [ddl.search_label(i) for i in range(6)] == ["A", "B", "C", "D", "D", "D"]


def test_tables_partitioned_by_day_have_a_default_partition_with_every_index(
    conn: psycopg.Connection[Any],
) -> None:
    declared = {t.name: t for t in TABLES if t.partition_by_day is not None}
    assert set(declared) == {"hyperliquid_candles", "hyperliquid_mid_prices"}
    keys = dict(
        conn.execute(
            "SELECT relname, pg_get_partkeydef(oid) FROM pg_class WHERE relkind = 'p'"
        ).fetchall()
    )
    assert keys == {name: f"RANGE ({t.partition_by_day})" for name, t in declared.items()}
    children = conn.execute(
        "SELECT inhparent::regclass::text, inhrelid::regclass::text, "
        "pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid "
        "WHERE c.relkind = 'r'"
    ).fetchall()
    assert sorted(children) == sorted(
        (name, ddl.default_partition(name), "DEFAULT") for name in declared
    )
    for name, table in declared.items():
        parent = {
            r[0]
            for r in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                (name,),
            )
        }
        want = {f"{name}_pkey", *(i.name for i in (*table.indexes, *EXTRA_INDEXES.get(name, ())))}
        assert parent == want
        # Each index of the parent has its counterpart on the partition (pg_inherits of indexes).
        attached = conn.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid "
            "WHERE x.indrelid = %s::regclass",
            (ddl.default_partition(name),),
        ).fetchone()
        assert attached == (len(want),)


def test_the_partition_clause_is_the_only_difference_a_day_partitioning_makes() -> None:
    from dataclasses import replace

    for table in TABLES:
        if table.partition_by_day is None:
            assert ddl.partition_statements(table) == []
            continue
        plain = ddl.table_statements(replace(table, partition_by_day=None))
        rendered = ddl.table_statements(table)
        column = ddl.ident(table.partition_by_day)
        assert rendered[0] == plain[0] + f" PARTITION BY RANGE ({column})"
        assert rendered[1] == (
            f'CREATE TABLE IF NOT EXISTS "{table.name}_default" PARTITION OF "{table.name}" DEFAULT'
        )
        assert rendered[2:] == plain[1:]
