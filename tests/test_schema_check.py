"""A database that does not fit this marketmem stops the service at start, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketmem import cli
from marketmem.plugins import SOURCES
from marketmem.storage import db, schema


def migrated(path: Path) -> None:
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    conn.close()


def drop_column(path: Path, table: str, column: str) -> None:
    conn = db.open_rw(path)
    # Indexes on the column would block the drop; the candle table's key is not on it.
    conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.close()


def config_file(tmp_path: Path) -> Path:
    conf = tmp_path / "c.toml"
    conf.write_text(f'[storage]\npath = "{tmp_path / "m.db"}"\n[http]\nenabled = false\n')
    return conf


def test_a_fresh_database_matches_every_declared_row_type(tmp_path: Path) -> None:
    migrated(tmp_path / "m.db")
    conn = db.open_ro(tmp_path / "m.db")
    schema.check_columns(conn, SOURCES)  # raises when anything is off
    tables = {u.table for u in schema.upserts(SOURCES)}
    assert {"hyperliquid_candles", "polymarket_markets", "defillama_capital_base"} <= tables
    assert len(schema.upserts(SOURCES)) >= 20


def test_a_missing_column_names_its_table_column_and_row_type(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    migrated(path)
    drop_column(path, "hyperliquid_candles", "trades")
    conn = db.open_ro(path)
    with pytest.raises(schema.SchemaMismatch) as caught:
        schema.check_columns(conn, SOURCES)
    assert str(caught.value) == (
        "the database does not match this marketmem: "
        "table hyperliquid_candles lacks column(s) trades of Candle"
    )


def test_a_missing_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    migrated(path)
    conn = db.open_rw(path)
    conn.execute("DROP TABLE hyperliquid_candle_gaps")
    with pytest.raises(schema.SchemaMismatch, match=r"table hyperliquid_candle_gaps .* not exist"):
        schema.check_columns(conn, SOURCES)


def test_run_refuses_to_start_on_a_mismatched_database_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = config_file(tmp_path)
    migrated(tmp_path / "m.db")
    drop_column(tmp_path / "m.db", "hyperliquid_candles", "trades")
    code = cli.main(["--config", str(conf), "run", "--duration", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == (
        "marketmem: cannot start: the database does not match this marketmem: "
        "table hyperliquid_candles lacks column(s) trades of Candle"
    )
    assert "Traceback" not in "\n".join(err)


def test_run_refuses_a_database_of_a_newer_marketmem_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = config_file(tmp_path)
    conn = db.open_rw(tmp_path / "m.db")
    conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    conn.close()
    code = cli.main(["--config", str(conf), "run", "--duration", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("marketmem: cannot start: database schema version")
    assert "Traceback" not in "\n".join(err)
