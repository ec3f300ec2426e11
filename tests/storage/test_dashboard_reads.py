"""The reads behind the dashboard's charts and the channel page (``runs.run_minutes``,
``runs.recent_runs``, ``hyperliquid.coins_since``), on SQLite and, with the same SQL, on a real
PostgreSQL: bucket edges, runs still going, other channels, unknown coins, missing tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import psycopg
import pytest

from marketmem.plugins import SOURCES
from marketmem.storage import db, schema
from marketmem.storage.models.runs import RunMinute
from marketmem.storage.postgres import ddl
from marketmem.storage.reads import hyperliquid, runs

T0 = 1_795_564_800_000  # 2026-11-25T00:00:00Z, on a minute
M = 60_000

# run_id, source, channel, started_at_ms, finished_at_ms, status, rows_written, error
RUNS = [
    ("a", "hl", "candles", T0 - 500, T0, "ok", 5, None),
    ("b", "hl", "candles", T0 + 100, T0 + M - 1, "ok", 7, None),  # the same minute as a
    ("c", "hl", "candles", T0 + M, T0 + M, "failed", 0, "boom\nat line 2"),
    ("c2", "hl", "candles", T0 + M + 1, T0 + M + 2, "ok", 1, None),
    ("d", "hl", "candles", T0 + 2 * M, None, "running", 0, None),  # not finished: not counted
    ("e", "hl", "candles", T0 - 2 * M, T0 - 1, "ok", 9, None),  # before since
    ("f", "hl", "mids", T0, T0 + 1, "ok", 1, None),  # another channel
]
# coin, open_time_ms (1m candles), and the registry's asset index of some coins
CANDLES = [("ZZZ", T0), ("ETH", T0), ("BTC", T0), ("BTC", T0 + M), ("AAA", T0), ("OLD", T0 - M)]
ASSETS = [("BTC", 0), ("ETH", 1), ("OLD", 2)]


def insert(conn: Any, mark: str) -> None:
    """The rows above, with ``mark`` as the engine's placeholder."""

    def run(sql: str, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            conn.execute(sql.replace("?", mark), row)

    run(
        "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, finished_at_ms, "
        "status, rows_written, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        RUNS,
    )
    run(
        "INSERT INTO hyperliquid_candles (coin, interval, open_time_ms, close_time_ms, open, high, "
        "low, close, volume, trades, closed, updated_at_ms) "
        "VALUES (?, '1m', ?, ?, 1.0, 2.0, 0.5, 1.5, 3.0, 4, ?, ?)",
        [(coin, t, t + M - 1, True, t) for coin, t in CANDLES],
    )
    run(
        "INSERT INTO hyperliquid_assets (coin, asset_index, sz_decimals, max_leverage, "
        "is_delisted, only_isolated, first_seen_ms, last_seen_ms) "
        "VALUES (?, ?, 5, 50, ?, ?, 0, 0)",
        [(coin, i, False, False) for coin, i in ASSETS],
    )


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[apsw.Connection]:
    conn = db.open_rw(tmp_path / "m.db")
    schema.migrate(conn, SOURCES)
    with conn:
        insert(conn, "?")
    yield conn
    conn.close()


def answers(conn: Any) -> dict[str, Any]:
    return {
        "minutes": runs.run_minutes(conn, "hl", "candles", T0),
        "minutes later": runs.run_minutes(conn, "hl", "candles", T0 + M + 2),
        "recent": [r.run_id for r in runs.recent_runs(conn, "hl", "candles", limit=3)],
        "recent all": [r.run_id for r in runs.recent_runs(conn, "hl", "candles", limit=100)],
        "recent none": runs.recent_runs(conn, "hl", "candles", limit=0),
        "nothing": runs.run_minutes(conn, "hl", "registry", T0),
        "coins": hyperliquid.coins_since(conn, T0),
    }


EXPECTED = {
    "minutes": [
        RunMinute(T0, "ok", 2, 12),
        RunMinute(T0 + M, "failed", 1, 0),
        RunMinute(T0 + M, "ok", 1, 1),
    ],
    "minutes later": [RunMinute(T0 + M, "ok", 1, 1)],
    "recent": ["d", "c2", "c"],
    "recent all": ["d", "c2", "c", "b", "a", "e"],
    "recent none": [],
    "nothing": [],
    # Registry order first, then the coins it does not know by name; OLD is too old.
    "coins": ["BTC", "ETH", "AAA", "ZZZ"],
}


def test_the_reads_on_sqlite(sqlite: apsw.Connection) -> None:
    assert answers(sqlite) == EXPECTED
    (failed,) = [r for r in runs.recent_runs(sqlite, "hl", "candles", limit=10) if r.run_id == "c"]
    assert failed.error == "boom\nat line 2"


def test_coins_without_a_registry_are_by_name(tmp_path: Path) -> None:
    conn = db.open_rw(tmp_path / "m.db")
    schema.migrate(conn, SOURCES)
    with conn:
        insert(conn, "?")
        conn.execute("DROP TABLE hyperliquid_assets")
    assert hyperliquid.coins_since(conn, T0) == ["AAA", "BTC", "ETH", "ZZZ"]
    assert hyperliquid.coins_since(conn, T0 + 2 * M) == []


def test_a_database_without_the_tables_reads_empty(tmp_path: Path) -> None:
    conn = db.open_rw(tmp_path / "empty.db")
    assert runs.run_minutes(conn, "hl", "candles", 0) == []
    assert runs.recent_runs(conn, "hl", "candles", limit=5) == []
    assert hyperliquid.coins_since(conn, 0) == []


class PgReads:
    """A psycopg connection speaking the reads' ``?`` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), params)


def test_the_same_reads_on_postgresql(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sets = schema.table_sets(SOURCES)
    tables = [t for s in sets for t in s.tables]
    with psycopg.connect(pg_database) as conn:
        with conn.transaction():
            for stmt in ddl.statements(tables, {}):
                conn.execute(stmt)
            insert(conn, "%s")

        def pg_has_table(_: Any, name: str) -> bool:
            return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]  # type: ignore[index,no-any-return]

        # The catalog lookup is SQLite's own (storage/sqlite/catalog.py); the rest is shared.
        monkeypatch.setattr(runs, "has_table", pg_has_table)
        monkeypatch.setattr(hyperliquid, "has_table", pg_has_table)
        assert answers(PgReads(conn)) == EXPECTED
