"""The read models fit the tables they are read from, and name them as their areas do.

The storage knows an area's tables by name only (it never imports the areas); these checks
keep those names, and the columns each model selects, in step with the declarations.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import msgspec
import pytest

from marketmem.events import AssetCtxSnapshot, HyperliquidAsset
from marketmem.features import tables as feature_tables
from marketmem.plugins import SOURCES
from marketmem.sources.hyperliquid import tables as hl_tables
from marketmem.storage import db, schema
from marketmem.storage.models import features as fm
from marketmem.storage.models import hyperliquid as hm
from marketmem.storage.models import retention as rm
from marketmem.storage.models import runs as runm
from marketmem.storage.reads import features, hyperliquid, retention, runs
from marketmem.storage.sqlite.catalog import table_columns

# (table, model, fields the read computes instead of selecting)
SELECTED: list[tuple[str, type[msgspec.Struct], tuple[str, ...]]] = [
    (runs.RUNS, runm.Run, ()),
    (hyperliquid.ASSETS, hm.Asset, ("categories",)),
    (hyperliquid.TAXONOMY, hm.CategoryCount, ("coins",)),
    (hyperliquid.CANDLES_1M, hm.Candle, ()),
    (hyperliquid.CANDLES_1H, hm.HourCandle, ("interval",)),
    (hyperliquid.MIDS, hm.MidPrice, ()),
    (hyperliquid.GAPS, hm.CandleGap, ()),
    (features.IMPACTS_TABLE, fm.Impact, ()),
    (features.SNAPSHOTS_TABLE, AssetCtxSnapshot, ()),
    (hyperliquid.CANDLES_1M, fm.WindowMinute, ()),
    (hyperliquid.CANDLES_1H, fm.WindowHour, ()),
    (retention.MINUTES_TABLE, rm.HourMinute, ()),
    *((table, model, ("impacts",)) for table, model in features.FEATURE_TABLES.values()),
]


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> apsw.Connection:
    path: Path = tmp_path_factory.mktemp("schema") / "m.db"
    rw = db.open_rw(path)
    schema.migrate(rw, SOURCES)
    return rw


@pytest.mark.parametrize(("table", "model", "computed"), SELECTED, ids=lambda v: str(v))
def test_every_selected_field_is_a_column_of_its_table(
    conn: apsw.Connection, table: str, model: type[msgspec.Struct], computed: tuple[str, ...]
) -> None:
    selected = [f for f in model.__struct_fields__ if f not in computed]
    missing = [f for f in selected if f not in table_columns(conn, table)]
    assert missing == [], f"{model.__name__} selects {missing} that {table} lacks"


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
