"""Hyperliquid tables and how candle, mid and registry batches are upserted into them.

- ``hyperliquid_candles``: 1m bars keyed (coin, interval, open_time_ms); ``closed`` never goes
  back to 0 once set, whatever order pushes and backfills arrive in.
- ``hyperliquid_mid_prices``: the last mid of each 5-second bucket, keyed (coin, bucket_ms).

Both are kept apart by day (``partition_by_day``: on PostgreSQL one partition per UTC day), so
retention can drop an expired day whole.
- ``hyperliquid_assets``: the perp universe from ``meta``, keyed by coin; ``first_seen_ms`` is
  kept from the first run.
- ``hyperliquid_asset_category_taxonomy`` / ``hyperliquid_asset_categories``: the taxonomy
  file and the coin-to-category map, replaced whole by each registry run.
- ``hyperliquid_candle_gaps``: the pending candle gap of each coin (see ``gaps``), kept so a
  restarted process heals what the last one left, and read by ``status``.
"""

from __future__ import annotations

from typing import Any

from marketmem.events import (
    AssetCategoryDef,
    AssetCategoryLink,
    AssetRegistryBatch,
    Candle,
    CandleBatch,
    CandleGap,
    CandleGapBatch,
    CandleGapsHealed,
    HyperliquidAsset,
    MidBatch,
    MidPrice,
)
from marketmem.source import Tables
from marketmem.storage.declare import JSON, Index, Table, row_columns
from marketmem.storage.engine import Connection
from marketmem.storage.tables import (
    Upsert,
    WriteFn,
    delete_all,
    delete_rows,
    greater,
    rows_writer,
)

CANDLE_TABLE = Table(
    "hyperliquid_candles",
    row_columns(Candle),
    primary_key=("coin", "interval", "open_time_ms"),
    partition_by_day="open_time_ms",
)
MID_TABLE = Table(
    "hyperliquid_mid_prices",
    row_columns(MidPrice),
    primary_key=("coin", "bucket_ms"),
    indexes=(Index("hyperliquid_mid_prices_by_bucket", ("bucket_ms",)),),
    partition_by_day="bucket_ms",
)
ASSET_TABLE = Table(
    "hyperliquid_assets", row_columns(HyperliquidAsset, margin_tiers=JSON), primary_key=("coin",)
)
TAXONOMY_TABLE = Table(
    "hyperliquid_asset_category_taxonomy",
    row_columns(AssetCategoryDef),
    primary_key=("category_id",),
)
CATEGORY_TABLE = Table(
    "hyperliquid_asset_categories",
    row_columns(AssetCategoryLink),
    primary_key=("coin", "category_id"),
    indexes=(Index("hyperliquid_asset_categories_by_category", ("category_id",)),),
)
GAP_TABLE = Table("hyperliquid_candle_gaps", row_columns(CandleGap), primary_key=("coin",))

CANDLES = Upsert(
    "hyperliquid_candles",
    Candle,
    key=("coin", "interval", "open_time_ms"),
    # A closed bar never reopens, whatever order pushes and backfills arrive in.
    update={"closed": "(hyperliquid_candles.closed OR excluded.closed)"},
)

# Within a bucket the latest observation wins, even when batches arrive out of order.
MIDS = Upsert(
    "hyperliquid_mid_prices",
    MidPrice,
    key=("coin", "bucket_ms"),
    update={
        "price": "CASE WHEN excluded.observed_at_ms >= hyperliquid_mid_prices.observed_at_ms "
        "THEN excluded.price ELSE hyperliquid_mid_prices.price END",
        "observed_at_ms": greater(
            "excluded.observed_at_ms", "hyperliquid_mid_prices.observed_at_ms"
        ),
    },
)

ASSETS = Upsert(
    "hyperliquid_assets",
    HyperliquidAsset,
    key=("coin",),
    keep=("first_seen_ms",),
    update={"last_seen_ms": greater("hyperliquid_assets.last_seen_ms", "excluded.last_seen_ms")},
)
TAXONOMY = Upsert("hyperliquid_asset_category_taxonomy", AssetCategoryDef, key=("category_id",))
CATEGORIES = Upsert("hyperliquid_asset_categories", AssetCategoryLink, key=("coin", "category_id"))


GAPS = Upsert("hyperliquid_candle_gaps", CandleGap, key=("coin",))


def write_gaps_healed(conn: Connection, ev: Any) -> dict[str, int]:
    assert isinstance(ev, CandleGapsHealed)
    deleted = delete_rows(conn, GAPS.table, ("coin",), [(coin,) for coin in ev.coins])
    return {GAPS.table: deleted}


def write_registry(conn: Connection, ev: Any) -> dict[str, int]:
    """Upsert the assets; replace the taxonomy and the category map (inside the writer's txn)."""
    assert isinstance(ev, AssetRegistryBatch)
    assets = ASSETS.write(conn, ev.assets)
    delete_all(conn, TAXONOMY.table)
    delete_all(conn, CATEGORIES.table)
    return {
        ASSETS.table: assets,
        TAXONOMY.table: TAXONOMY.write(conn, ev.taxonomy),
        CATEGORIES.table: CATEGORIES.write(conn, ev.categories),
    }


UPSERTS: tuple[Upsert, ...] = (CANDLES, MIDS, ASSETS, TAXONOMY, CATEGORIES, GAPS)
WRITERS: dict[type, WriteFn] = {
    CandleBatch: rows_writer(CANDLES),
    MidBatch: rows_writer(MIDS),
    AssetRegistryBatch: write_registry,
    CandleGapBatch: rows_writer(GAPS),
    CandleGapsHealed: write_gaps_healed,
}
TABLES = Tables(
    (CANDLE_TABLE, MID_TABLE, ASSET_TABLE, TAXONOMY_TABLE, CATEGORY_TABLE, GAP_TABLE),
    WRITERS,
    UPSERTS,
)
