"""Feature tables: one per channel, the liquidity impacts, and asset-context snapshots.

Feature rows are keyed by (coin, computed_at_ms); each table's columns are its row struct's
fields (``marketmem.events``), typed from their annotations, so tables and rows cannot drift.
Every table has an index on its time column for the retention pass (feature rows are kept
7 days). ``hyperliquid_asset_ctx_snapshots`` keeps every fetched ``metaAndAssetCtxs`` context
of a tracked coin: positioning compares open interest and price against it.
"""

from __future__ import annotations

from typing import Any

from marketmem.events import (
    AssetCtxSnapshot,
    AssetCtxSnapshotBatch,
    FundingPressure,
    FundingPressureBatch,
    LiquidityImpact,
    LiquidityProfile,
    LiquidityProfileBatch,
    PositioningPressure,
    PositioningPressureBatch,
    TechnicalIndicators,
    TechnicalIndicatorsBatch,
    VolatilityProfile,
    VolatilityProfileBatch,
)
from marketmem.source import Tables
from marketmem.storage.declare import JSON, Index, Table, row_columns
from marketmem.storage.engine import Connection
from marketmem.storage.tables import Upsert, rows_writer

FEATURE_KEY = ("coin", "computed_at_ms")

TECHNICAL = Upsert("hyperliquid_technical_indicators", TechnicalIndicators, key=FEATURE_KEY)
FUNDING = Upsert("hyperliquid_funding_pressure", FundingPressure, key=FEATURE_KEY)
LIQUIDITY = Upsert("hyperliquid_liquidity_profiles", LiquidityProfile, key=FEATURE_KEY)
IMPACTS = Upsert(
    "hyperliquid_liquidity_impacts",
    LiquidityImpact,
    key=("coin", "computed_at_ms", "notional_usd", "side"),
)
VOLATILITY = Upsert("hyperliquid_volatility_profiles", VolatilityProfile, key=FEATURE_KEY)
POSITIONING = Upsert("hyperliquid_positioning_pressure", PositioningPressure, key=FEATURE_KEY)
SNAPSHOTS = Upsert("hyperliquid_asset_ctx_snapshots", AssetCtxSnapshot, key=("coin", "snapshot_ms"))

# Channel name -> its table.
CHANNEL_TABLES: dict[str, Upsert] = {
    "technical_indicators": TECHNICAL,
    "funding_pressure": FUNDING,
    "liquidity_profiles": LIQUIDITY,
    "volatility_profiles": VOLATILITY,
    "positioning_pressure": POSITIONING,
}


def _table(upsert: Upsert, time_column: str) -> Table:
    """The table of a feature row: its struct's columns (``null_reasons`` is a JSON object,
    column -> reason), keyed as its upsert, with an index on its time column for retention."""
    reasons = {"null_reasons": JSON} if "null_reasons" in upsert.columns else {}
    return Table(
        upsert.table,
        row_columns(upsert.row_type, **reasons),
        primary_key=upsert.key,
        indexes=(Index(f"{upsert.table}_by_time", (time_column,)),),
    )


FEATURE_TABLES = (
    *(_table(u, "computed_at_ms") for u in (*CHANNEL_TABLES.values(), IMPACTS)),
    _table(SNAPSHOTS, "snapshot_ms"),
)


def _write_liquidity(conn: Connection, event: LiquidityProfileBatch) -> dict[str, int]:
    return {
        LIQUIDITY.table: LIQUIDITY.write(conn, event.rows),
        IMPACTS.table: IMPACTS.write(conn, event.impacts),
    }


UPSERTS: tuple[Upsert, ...] = (
    TECHNICAL,
    FUNDING,
    LIQUIDITY,
    IMPACTS,
    VOLATILITY,
    POSITIONING,
    SNAPSHOTS,
)
WRITERS: dict[type, Any] = {
    TechnicalIndicatorsBatch: rows_writer(TECHNICAL),
    FundingPressureBatch: rows_writer(FUNDING),
    LiquidityProfileBatch: _write_liquidity,
    VolatilityProfileBatch: rows_writer(VOLATILITY),
    PositioningPressureBatch: rows_writer(POSITIONING),
    AssetCtxSnapshotBatch: rows_writer(SNAPSHOTS),
}

TABLES = Tables(FEATURE_TABLES, WRITERS, UPSERTS)

# The column names of each channel's row (the API reader returns these).
COLUMNS: dict[str, tuple[str, ...]] = {name: u.columns for name, u in CHANNEL_TABLES.items()}
