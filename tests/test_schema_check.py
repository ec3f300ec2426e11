"""A database that does not fit this marketmem stops the service at start, in one line.

On both engines (``engines``): a column or a table missing (``check_columns``) and a schema
version newer than this marketmem's (SQLite's ``PRAGMA user_version``, PostgreSQL's
``marketmem_schema`` table).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marketmem import cli
from marketmem.plugins import SOURCES
from marketmem.storage import engine, schema
from marketmem.storage.postgres import catalog as pg_catalog
from marketmem.storage.postgres import migrations as pg_migrations

pytestmark = pytest.mark.engines
Location = str | Path


def migrated(location: Location) -> None:
    conn = engine.open_writer(location)
    schema.migrate(conn, SOURCES)
    conn.close()


def execute(location: Location, sql: str) -> None:
    conn = engine.open_writer(location)
    try:
        conn.execute(sql)
    finally:
        conn.close()


def drop_column(location: Location, table: str, column: str) -> None:
    # Indexes on the column would block the drop; the candle table's key is not on it.
    execute(location, f"ALTER TABLE {table} DROP COLUMN {column}")


def newer_version(location: Location) -> None:
    """Store a schema version of a later marketmem, as each engine keeps it."""
    if engine.is_postgres(location):
        migrated(location)
        execute(
            location,
            f"UPDATE {pg_catalog.VERSION_TABLE} SET version = {pg_migrations.SCHEMA_VERSION + 1}",
        )
    else:
        execute(location, f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")


def config_file(tmp_path: Path, database: Location) -> Path:
    conf = tmp_path / "c.toml"
    where = f'url = "{database}"' if engine.is_postgres(database) else f'path = "{database}"'
    conf.write_text(f"[storage]\n{where}\n[http]\nenabled = false\n")
    return conf


def test_a_fresh_database_matches_every_declared_row_type(database: Location) -> None:
    migrated(database)
    conn = engine.open_ro(database)
    schema.check_columns(conn, SOURCES)  # raises when anything is off
    tables = {u.table for u in schema.upserts(SOURCES)}
    assert {"hyperliquid_candles", "polymarket_markets", "defillama_capital_base"} <= tables
    assert len(schema.upserts(SOURCES)) >= 20
    conn.close()


def test_a_missing_column_names_its_table_column_and_row_type(database: Location) -> None:
    migrated(database)
    drop_column(database, "hyperliquid_candles", "trades")
    conn = engine.open_ro(database)
    with pytest.raises(schema.SchemaMismatch) as caught:
        schema.check_columns(conn, SOURCES)
    conn.close()
    assert str(caught.value) == (
        "the database does not match this marketmem: "
        "table hyperliquid_candles lacks column(s) trades of Candle"
    )


def test_a_missing_table_is_named(database: Location) -> None:
    migrated(database)
    execute(database, "DROP TABLE hyperliquid_candle_gaps")
    conn = engine.open_ro(database)
    with pytest.raises(schema.SchemaMismatch, match=r"table hyperliquid_candle_gaps .* not exist"):
        schema.check_columns(conn, SOURCES)
    conn.close()


def test_run_refuses_to_start_on_a_mismatched_database_in_one_line(
    tmp_path: Path, database: Location, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = config_file(tmp_path, database)
    migrated(database)
    drop_column(database, "hyperliquid_candles", "trades")
    code = cli.main(["--config", str(conf), "run", "--duration", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == (
        "marketmem: cannot start: the database does not match this marketmem: "
        "table hyperliquid_candles lacks column(s) trades of Candle"
    )
    assert "Traceback" not in "\n".join(err)


def test_run_refuses_a_database_of_a_newer_marketmem_in_one_line(
    tmp_path: Path, database: Location, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = config_file(tmp_path, database)
    newer_version(database)
    code = cli.main(["--config", str(conf), "run", "--duration", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("marketmem: cannot start: database schema version")
    assert "newer than this marketmem" in err[-1]
    assert "Traceback" not in "\n".join(err)
