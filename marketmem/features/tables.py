"""Feature tables: one per channel, the liquidity impacts, and asset-context snapshots.

Feature rows are keyed by (coin, computed_at_ms); each table's columns are its row struct's
fields (``marketmem.events``), typed from their annotations, so DDL and rows cannot drift.
Every table has an index on its time column for the retention pass (feature rows are kept
7 days). ``hyperliquid_asset_ctx_snapshots`` keeps every fetched ``metaAndAssetCtxs`` context
of a tracked coin: positioning compares open interest and price against it.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import apsw

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
    Row,
    TechnicalIndicators,
    TechnicalIndicatorsBatch,
    VolatilityProfile,
    VolatilityProfileBatch,
)
from marketmem.storage.tables import Upsert, rows_writer

_SQL_TYPES = {int: "INTEGER", float: "REAL", str: "TEXT", bool: "INTEGER"}


def _column_type(annotation: Any) -> str:
    args = typing.get_args(annotation)
    nullable = isinstance(annotation, types.UnionType) and type(None) in args
    base = next((a for a in args if a is not type(None)), annotation) if nullable else annotation
    return _SQL_TYPES[base] + ("" if nullable else " NOT NULL")


def create_table(table: str, row_type: type[Row], key: tuple[str, ...]) -> str:
    hints = typing.get_type_hints(row_type)
    cols = [f"{f} {_column_type(hints[f])}" for f in row_type.__struct_fields__]
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n    "
        + ",\n    ".join([*cols, f"PRIMARY KEY ({', '.join(key)})"])
        + "\n) WITHOUT ROWID"
    )


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

DDL: list[str] = []
for _u in (*CHANNEL_TABLES.values(), IMPACTS):
    DDL.append(create_table(_u.table, _u.row_type, _u.key))
    DDL.append(f"CREATE INDEX IF NOT EXISTS {_u.table}_by_time ON {_u.table} (computed_at_ms)")
DDL.append(create_table(SNAPSHOTS.table, AssetCtxSnapshot, SNAPSHOTS.key))
DDL.append(
    f"CREATE INDEX IF NOT EXISTS {SNAPSHOTS.table}_by_time ON {SNAPSHOTS.table} (snapshot_ms)"
)


def _write_liquidity(conn: apsw.Connection, event: LiquidityProfileBatch) -> dict[str, int]:
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

# The column names of each channel's row (the API reader returns these).
COLUMNS: dict[str, tuple[str, ...]] = {name: u.columns for name, u in CHANNEL_TABLES.items()}
