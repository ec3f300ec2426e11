"""PostgreSQL's staged upserts (``storage.postgres.staging``) write exactly what executemany does.

Every ``Upsert`` of the core and the sources is written twice on the real server from an
empty table, with the same batches: once by ``executemany`` of its statement, once through
the staging table (``COPY``, then one ``INSERT ... SELECT`` with the same conflict clause).
The batches repeat keys within a batch and across batches, in shuffled order, with values
that exercise the update expressions (``greater(...)``, ``CASE``, ``OR``), ``keep`` columns,
NULLs, JSON text, and text COPY must escape; the tables must then be equal, row for row and
value for value (floats compared bit for bit). Keys equal only under a case-insensitive
collation fall back to executemany; a constraint the rows break fails as executemany fails.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from marketmem.events import Candle, MidPrice
from marketmem.plugins import SOURCES
from marketmem.sources.defillama.tables import LINKS as DEFILLAMA_LINKS
from marketmem.sources.hyperliquid.tables import ASSETS, CANDLES, MIDS
from marketmem.storage import schema
from marketmem.storage.declare import BOOL, INT, JSON, REAL, TEXT, Column, Table
from marketmem.storage.postgres import staging
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.tables import Upsert
from tests.pg import fresh_database

UPSERTS = schema.upserts(SOURCES)
TABLES: dict[str, Table] = {t.name: t for s in schema.table_sets(SOURCES) for t in s.tables}
TEXTS = ["a", "B", "tab\there", "new\nline", "back\\slash", "\\N", "quote'\"", "100%", "é€😀", ""]
JSON_TEXTS = ['["a", "b"]', '{"k": 1, "v": [1.5, null]}', '"s"', "[]", "{}", "3", "true"]
FLOATS = [0.1, -2.5, 1e300, 5e-324, -0.0, 123456.789012345, 3, math.inf, -math.inf, math.nan]


@pytest.fixture(scope="module")
def pg(pg_url: str) -> Iterator[PostgresConnection]:
    """One database with every table, for the module (each test empties what it writes)."""
    with fresh_database(pg_url) as url:
        conn = PostgresConnection.open(url)
        schema.migrate(conn, SOURCES)
        try:
            yield conn
        finally:
            conn.close()


def value(rng: random.Random, column: Column, *, key: bool) -> Any:
    if column.allowed is not None:
        return rng.choice(column.allowed)
    if column.nullable and rng.random() < 0.2:
        return None
    if column.type is INT:
        # Keys from a small domain, so that they repeat; other integers of any size.
        return (
            rng.randrange(4) if key else rng.choice([0, -1, 2**62, rng.randrange(-(10**6), 10**6)])
        )
    if column.type is REAL:
        return float(rng.randrange(3)) if key else rng.choice([*FLOATS, rng.uniform(-1e6, 1e6)])
    if column.type is BOOL:
        return rng.random() < 0.5
    if column.type is JSON:
        return rng.choice(JSON_TEXTS)
    assert column.type is TEXT
    return rng.choice(TEXTS[:3]) if key else rng.choice(TEXTS)


def batch(rng: random.Random, upsert: Upsert, n: int) -> list[tuple[Any, ...]]:
    table = TABLES[upsert.table]
    cols = [table.column(c) for c in upsert.columns]
    rows = [tuple(value(rng, c, key=c.name in upsert.key) for c in cols) for _ in range(n)]
    rng.shuffle(rows)
    return rows


def comparable(v: Any) -> Any:
    if isinstance(v, float):
        return ("float", struct.pack(">d", v))
    return v


def stored(conn: PostgresConnection, upsert: Upsert) -> list[tuple[Any, ...]]:
    cols = ", ".join(upsert.columns)
    order = ", ".join(upsert.key)
    rows = conn.execute(f"SELECT {cols} FROM {upsert.table} ORDER BY {order}").fetchall()
    return [tuple(comparable(v) for v in row) for row in rows]


def write_both(
    conn: PostgresConnection, upsert: Upsert, batches: Sequence[list[tuple[Any, ...]]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The table after ``batches`` by executemany, and after the same through staging."""
    results = []
    for staged in (False, True):
        conn.execute(f"DELETE FROM {upsert.table}")
        for rows in batches:
            with conn:
                if staged:
                    staging.write_staged(conn, upsert, rows)
                else:
                    conn.executemany(upsert.sql, rows)
        results.append(stored(conn, upsert))
    conn.execute(f"DELETE FROM {upsert.table}")
    return results[0], results[1]


class Spy:
    """Counts executemany calls on a connection (the staged path's fallback)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, conn: PostgresConnection) -> None:
        self.calls = 0
        original = conn.executemany

        def executemany(sql: str, seq: Any) -> None:
            self.calls += 1
            original(sql, seq)

        monkeypatch.setattr(conn, "executemany", executemany)


def test_rounds_hold_each_key_once_and_keep_the_order_of_its_rows() -> None:
    rows = [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("c", 1), ("b", 2)]
    keys = [r[0] for r in rows]
    assert staging.rounds(keys, rows) == [
        [("a", 1), ("b", 1), ("c", 1)],
        [("a", 2), ("b", 2)],
        [("a", 3)],
    ]
    unique = rows[:2]
    assert staging.rounds(keys[:2], unique) == [unique]


@pytest.mark.parametrize("upsert", UPSERTS, ids=[f"{u.table}-{i}" for i, u in enumerate(UPSERTS)])
def test_every_upsert_writes_the_same_through_staging_as_executemany(
    pg: PostgresConnection, upsert: Upsert, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(f"{upsert.table}/{upsert.keep}")
    batches = [batch(rng, upsert, n) for n in (150, 97, 200)]
    # One batch (keys repeated within it), then three (and across them).
    by_executemany, by_staging = write_both(pg, upsert, batches[:1])
    assert by_staging == by_executemany
    spy = Spy(monkeypatch, pg)
    by_executemany, by_staging = write_both(pg, upsert, batches)
    assert by_staging == by_executemany
    assert by_executemany, "the batches wrote nothing"
    case_insensitive_key = any(TABLES[upsert.table].column(c).case_insensitive for c in upsert.key)
    if not case_insensitive_key:
        # executemany ran only for the reference writes, never as the staged path's fallback.
        assert spy.calls == len(batches)


def test_the_candle_and_mid_update_rules_hold_within_one_staged_batch(
    pg: PostgresConnection,
) -> None:
    """The rules the hyperliquid tables state, in one batch of many keys repeated."""

    def bar(coin: str, minute: int, closed: bool, trades: int) -> tuple[Any, ...]:
        row = Candle(
            coin=coin,
            interval="1m",
            open_time_ms=minute * 60_000,
            close_time_ms=minute * 60_000 + 59_999,
            open=1.0,
            high=2.0,
            low=0.5,
            close=float(trades),
            volume=1.0,
            trades=trades,
            closed=closed,
            updated_at_ms=trades,
        )
        return tuple(getattr(row, f) for f in CANDLES.columns)

    # Every coin's bar 0: closed, then an older open state arrives: it stays closed.
    rows = [bar(f"C{i}", 0, True, 5) for i in range(80)] + [
        bar(f"C{i}", 0, False, 6) for i in range(80)
    ]
    by_executemany, by_staging = write_both(pg, CANDLES, [rows])
    assert by_staging == by_executemany
    closed = CANDLES.columns.index("closed")
    trades = CANDLES.columns.index("trades")
    assert all(r[closed] is True and r[trades] == 6 for r in by_staging)

    def mid(coin: str, observed: int, price: float) -> tuple[Any, ...]:
        row = MidPrice(coin=coin, bucket_ms=0, price=price, observed_at_ms=observed)
        return tuple(getattr(row, f) for f in MIDS.columns)

    # The latest observation of a bucket wins, whatever order the batch holds them in.
    mids = [mid(f"C{i}", 20, 2.0) for i in range(70)] + [mid(f"C{i}", 10, 1.0) for i in range(70)]
    by_executemany, by_staging = write_both(pg, MIDS, [mids])
    assert by_staging == by_executemany
    assert {r[MIDS.columns.index("price")] for r in by_staging} == {
        ("float", struct.pack(">d", 2.0))
    }


def test_kept_columns_stay_as_first_written(pg: PostgresConnection) -> None:
    rng = random.Random(3)
    first = batch(rng, ASSETS, 100)
    later = [
        tuple(v if c != "first_seen_ms" else -5 for c, v in zip(ASSETS.columns, row, strict=True))
        for row in batch(rng, ASSETS, 100)
    ]
    by_executemany, by_staging = write_both(pg, ASSETS, [first, later])
    assert by_staging == by_executemany
    assert -5 not in {r[ASSETS.columns.index("first_seen_ms")] for r in by_staging}


def test_keys_equal_only_under_their_collation_fall_back_to_executemany(
    pg: PostgresConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``defillama_subject_assets.asset`` is case-insensitive: "BTC" and "btc" are one key to
    the server, two to Python; one INSERT ... SELECT would touch the row twice."""
    assert TABLES[DEFILLAMA_LINKS.table].column("asset").case_insensitive
    origin = TABLES[DEFILLAMA_LINKS.table].column("origin")
    rows = [
        ("protocol", f"p{i}", asset, value(random.Random(i), origin, key=False))
        for i in range(40)
        for asset in ("BTC", "btc", "Eth")
    ]
    assert len(rows) >= staging.STAGED_MIN_ROWS
    spy = Spy(monkeypatch, pg)
    by_executemany, by_staging = write_both(pg, DEFILLAMA_LINKS, [rows])
    assert by_staging == by_executemany
    assert len(by_staging) == 80
    assert spy.calls == 2  # the reference write, and the staged path's fallback


def test_a_broken_constraint_fails_as_executemany_fails(pg: PostgresConnection) -> None:
    rows = batch(random.Random(5), CANDLES, 100)
    bad = [*rows[:50], (None, *rows[50][1:]), *rows[51:]]
    errors = []
    for staged in (False, True):
        with pytest.raises(psycopg.errors.NotNullViolation) as failed, pg:
            if staged:
                staging.write_staged(pg, CANDLES, bad)
            else:
                pg.executemany(CANDLES.sql, bad)
        errors.append(type(failed.value))
        assert stored(pg, CANDLES) == []
    assert errors[0] is errors[1]


def test_the_writer_stages_large_batches_and_not_small_ones(
    pg: PostgresConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Upsert.write`` takes the staged path from ``STAGED_MIN_ROWS`` rows on PostgreSQL."""
    staged: list[int] = []
    original = staging.write_staged

    def spy(conn: PostgresConnection, upsert: Upsert, rows: Sequence[Any]) -> None:
        staged.append(len(rows))
        original(conn, upsert, rows)

    monkeypatch.setattr("marketmem.storage.tables.write_staged", spy)
    n = staging.STAGED_MIN_ROWS
    small = [
        Candle(**dict(zip(CANDLES.columns, r, strict=True)))
        for r in batch(random.Random(1), CANDLES, n - 1)
    ]
    large = [
        Candle(**dict(zip(CANDLES.columns, r, strict=True)))
        for r in batch(random.Random(2), CANDLES, n)
    ]
    with pg:
        assert CANDLES.write(pg, small) == n - 1
        assert CANDLES.write(pg, large) == n
    pg.execute(f"DELETE FROM {CANDLES.table}")
    assert staged == [n]


def test_the_staging_tables_leave_the_catalog_alone(pg: PostgresConnection) -> None:
    """Temporary tables live in the session's own schema: the catalog of the data does not
    list them, and nothing of them outlives the connection's writes."""
    rows = batch(random.Random(9), CANDLES, 100)
    with pg:
        staging.write_staged(pg, CANDLES, rows)
    names = {
        r[0]
        for r in pg.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    }
    assert not any(n.startswith("marketmem_stage") for n in names)
    candles = staging._staging[pg][CANDLES.sql]
    name = candles.name
    # Binary COPY where every column is a plain type its annotation names; text where a
    # JSON column holds encoded text (binary jsonb would store it as one JSON string).
    assert candles.binary
    with pg:
        staging.write_staged(pg, ASSETS, batch(random.Random(9), ASSETS, 100))
    assert not staging._staging[pg][ASSETS.sql].binary
    pg.execute(f"DELETE FROM {ASSETS.table}")
    assert pg.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)
    pg.execute(f"DELETE FROM {CANDLES.table}")
