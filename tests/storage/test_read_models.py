"""The read models fit the tables they are read from, and name them as their areas do.

The storage knows an area's tables by name only (it never imports the areas); these checks
keep those names, and the columns each model selects, in step with the declarations, in the
tables each engine makes of them (SQLite's, one case per table; PostgreSQL's, all at once in
one database).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import apsw
import msgspec
import pytest

from marketmem.events import AssetCtxSnapshot, HyperliquidAsset, PolymarketMarketRow
from marketmem.features import tables as feature_tables
from marketmem.plugins import SOURCES
from marketmem.retention import rollup
from marketmem.retention import tables as retention_tables
from marketmem.sources.defillama import tables as dl_tables
from marketmem.sources.hyperliquid import tables as hl_tables
from marketmem.sources.polymarket import tables as pm_tables
from marketmem.storage import catalog, db, engine, schema
from marketmem.storage.models import access as am
from marketmem.storage.models import defillama as dm
from marketmem.storage.models import features as fm
from marketmem.storage.models import hyperliquid as hm
from marketmem.storage.models import retention as rm
from marketmem.storage.models import runs as runm
from marketmem.storage.reads import (
    access,
    defillama,
    features,
    hyperliquid,
    polymarket,
    retention,
    runs,
)
from marketmem.storage.sqlite.catalog import table_columns


def selected(model: type[msgspec.Struct], *computed: str) -> tuple[str, ...]:
    """The fields of ``model`` a read selects (the others it computes)."""
    return tuple(f for f in model.__struct_fields__ if f not in computed)


# (table, the columns a read selects from it)
SELECTED: list[tuple[str, tuple[str, ...]]] = [
    (runs.RUNS, selected(runm.Run)),
    (hyperliquid.ASSETS, selected(hm.Asset, "categories")),
    (hyperliquid.TAXONOMY, selected(hm.CategoryCount, "coins")),
    (hyperliquid.CANDLES_1M, selected(hm.Candle)),
    (hyperliquid.CANDLES_1H, selected(hm.HourCandle, "interval")),
    (hyperliquid.MIDS, selected(hm.MidPrice)),
    (hyperliquid.GAPS, selected(hm.CandleGap)),
    (features.IMPACTS_TABLE, selected(fm.Impact)),
    (features.SNAPSHOTS_TABLE, selected(AssetCtxSnapshot)),
    (hyperliquid.CANDLES_1M, selected(fm.WindowMinute)),
    (hyperliquid.CANDLES_1H, selected(fm.WindowHour)),
    (retention.MINUTES_TABLE, selected(rm.HourMinute)),
    *((table, selected(model, "impacts")) for table, model in features.FEATURE_TABLES.values()),
    (polymarket.MARKETS, polymarket.HIT_COLUMNS),
    (polymarket.MARKETS, selected(PolymarketMarketRow)),
    *((table, polymarket.CONTEXT_COLUMNS) for table in polymarket.TABLE_OF.values()),
    (defillama.SUBJECTS, selected(dm.Subject, *dm.Subject.__struct_fields__[8:])),
    (defillama.CAPITAL_BASE, selected(dm.BaseValue)),
    (defillama.CAPITAL_FLOWS, selected(dm.Flow)),
    (defillama.THROUGHPUT, selected(dm.Throughput)),
    (access.TOKENS, selected(am.ActiveToken)),
    (access.TOKENS, selected(am.TokenInfo)),
    (access.CLONES, selected(am.Clone)),
]


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> apsw.Connection:
    path: Path = tmp_path_factory.mktemp("schema") / "m.db"
    rw = db.open_rw(path)
    schema.migrate(rw, SOURCES)
    return rw


@pytest.mark.parametrize(("table", "columns"), SELECTED)
def test_every_selected_column_is_a_column_of_its_table(
    conn: apsw.Connection, table: str, columns: tuple[str, ...]
) -> None:
    missing = [c for c in columns if c not in table_columns(conn, table)]
    assert missing == [], f"a read selects {missing} that {table} lacks"


def test_every_selected_column_is_a_column_of_its_postgres_table(pg_database: str) -> None:
    conn = engine.open_writer(pg_database)
    try:
        schema.migrate(conn, SOURCES)
        missing = {
            table: [c for c in columns if c not in catalog.table_columns(conn, table)]
            for table, columns in SELECTED
        }
    finally:
        conn.close()
    assert {t: m for t, m in missing.items() if m} == {}


def test_the_feature_tables_are_named_and_shaped_as_the_feature_area_declares_them() -> None:
    assert list(features.FEATURE_TABLES) == list(feature_tables.CHANNEL_TABLES)
    for channel, (table, model) in features.FEATURE_TABLES.items():
        upsert = feature_tables.CHANNEL_TABLES[channel]
        assert table == upsert.table
        # Every column, in the table's order (the latest-data answer lists them so).
        assert [f for f in model.__struct_fields__ if f != "impacts"] == list(upsert.columns)
    assert feature_tables.IMPACTS.table == features.IMPACTS_TABLE
    assert list(fm.Impact.__struct_fields__) == list(feature_tables.IMPACTS.columns)[2:]
    assert feature_tables.SNAPSHOTS.table == features.SNAPSHOTS_TABLE


def test_the_hyperliquid_tables_are_named_as_the_source_declares_them() -> None:
    declared = {u.table for u in hl_tables.UPSERTS}
    ours = {hyperliquid.ASSETS, hyperliquid.TAXONOMY, hyperliquid.CATEGORIES}
    ours |= {hyperliquid.CANDLES_1M, hyperliquid.MIDS, hyperliquid.GAPS}
    assert ours <= declared
    assert [f for f in hm.Asset.__struct_fields__ if f != "categories"] == list(
        HyperliquidAsset.__struct_fields__
    )


def test_the_polymarket_tables_are_named_as_the_source_declares_them() -> None:
    declared = {u.table for u in pm_tables.UPSERTS}
    ours = {polymarket.MARKETS, polymarket.LINKS, polymarket.TERMS, *polymarket.TABLE_OF.values()}
    assert ours <= declared


def test_the_defillama_tables_are_named_as_the_source_declares_them() -> None:
    declared = {u.table for u in dl_tables.UPSERTS}
    ours = {defillama.SUBJECTS, defillama.SUBJECT_ASSETS, defillama.CAPITAL_BASE}
    ours |= {defillama.CAPITAL_FLOWS, defillama.THROUGHPUT}
    assert ours <= declared
    # A flow or throughput row is its table's columns after the key, in order.
    for table, model in ((dl_tables.CAPITAL_FLOWS, dm.Flow), (dl_tables.THROUGHPUT, dm.Throughput)):
        assert list(model.__struct_fields__) == list(table.columns)[4:]


def test_the_rolled_up_hour_is_its_table_but_the_stamp() -> None:
    """The rolled-up hour's values are its table's columns but the stamp, in order."""
    columns = [c.name for c in retention_tables.HOURS.columns]
    assert [f.name for f in dataclasses.fields(rollup.HourBar)] == columns[:-1]
