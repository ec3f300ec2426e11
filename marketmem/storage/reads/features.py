"""Reads of the feature area: seeds of the candle windows (``minute_rows``, ``hour_rows``),
earlier asset-context snapshots for positioning (``snapshots_between``), the listed perps
for ``coins = ["*"]`` (``listed_perps``), and the latest row of every feature channel for
the API (``latest_features``).

Tables another area owns (``hyperliquid_candles_1h``, ``hyperliquid_assets``) may be absent;
a read of a missing table returns nothing rather than failing. The table names are the
feature area's (``features/tables.py``); ``tests/storage/test_read_models.py`` checks that
they agree.
"""

from __future__ import annotations

from typing import Any

import msgspec

from marketmem.events import AssetCtxSnapshot
from marketmem.storage.catalog import has_table, table_columns
from marketmem.storage.models.features import (
    FeatureRow,
    FundingPressureRow,
    Impact,
    LiquidityProfileRow,
    PositioningPressureRow,
    TechnicalIndicatorsRow,
    VolatilityProfileRow,
    WindowHour,
    WindowMinute,
)
from marketmem.storage.reads import Connection, columns, fetch, first_column
from marketmem.storage.reads.hyperliquid import ASSETS, CANDLES_1H, CANDLES_1M

# Channel name -> its table and the model of its latest row.
FEATURE_TABLES: dict[str, tuple[str, type[FeatureRow]]] = {
    "technical_indicators": ("hyperliquid_technical_indicators", TechnicalIndicatorsRow),
    "funding_pressure": ("hyperliquid_funding_pressure", FundingPressureRow),
    "liquidity_profiles": ("hyperliquid_liquidity_profiles", LiquidityProfileRow),
    "volatility_profiles": ("hyperliquid_volatility_profiles", VolatilityProfileRow),
    "positioning_pressure": ("hyperliquid_positioning_pressure", PositioningPressureRow),
}
IMPACTS_TABLE = "hyperliquid_liquidity_impacts"
SNAPSHOTS_TABLE = "hyperliquid_asset_ctx_snapshots"


def minute_rows(conn: Connection, since_ms: int) -> list[WindowMinute]:
    """1-minute bars opened at or after ``since_ms``, every coin, ascending per coin."""
    if not has_table(conn, CANDLES_1M):
        return []
    return fetch(
        conn,
        WindowMinute,
        f"SELECT {columns(WindowMinute)} FROM {CANDLES_1M} "
        "WHERE interval = '1m' AND open_time_ms >= ? ORDER BY coin, open_time_ms",
        (since_ms,),
    )


def hour_rows(conn: Connection, since_ms: int) -> list[WindowHour]:
    """Hour rollups opened at or after ``since_ms`` (none while the rollup table is absent)."""
    if not has_table(conn, CANDLES_1H):
        return []
    return fetch(
        conn,
        WindowHour,
        f"SELECT {columns(WindowHour)} FROM {CANDLES_1H} WHERE open_time_ms >= ?",
        (since_ms,),
    )


_SNAPSHOT = columns(AssetCtxSnapshot)


def snapshots_between(
    conn: Connection, ranges: list[tuple[int, int]]
) -> dict[str, list[AssetCtxSnapshot]]:
    """Stored snapshots inside any of the (start, end) ranges, by coin, ascending in time."""
    out: dict[str, list[AssetCtxSnapshot]] = {}
    seen: set[tuple[str, int]] = set()
    for start, end in ranges:
        for row in conn.execute(
            f"SELECT {_SNAPSHOT} FROM {SNAPSHOTS_TABLE} WHERE snapshot_ms BETWEEN ? AND ?",
            (start, end),
        ):
            key = (row[0], row[1])
            if key in seen:
                continue
            seen.add(key)
            out.setdefault(row[0], []).append(AssetCtxSnapshot(*row))
    for snaps in out.values():
        snaps.sort(key=lambda s: s.snapshot_ms)
    return out


def listed_perps(conn: Connection) -> list[str] | None:
    """Listed (not delisted) perps from the registry, or None when it has not run yet."""
    if not has_table(conn, ASSETS):
        return None
    cols = table_columns(conn, ASSETS)
    name = "coin" if "coin" in cols else "name"
    if name not in cols:
        return None
    where = " WHERE NOT is_delisted" if "is_delisted" in cols else ""
    coins: list[str] = first_column(conn, f"SELECT {name} FROM {ASSETS}{where}")
    return coins or None


_decode_reasons = msgspec.json.Decoder(dict[str, str])


def _latest(conn: Connection, table: str, model: type[FeatureRow], coin: str) -> Any:
    names = [f for f in model.__struct_fields__ if f != "impacts"]
    row = conn.execute(
        f"SELECT {', '.join(names)} FROM {table} WHERE coin = ? "
        "ORDER BY computed_at_ms DESC LIMIT 1",
        (coin,),
    ).fetchone()
    if row is None:
        return None
    values = dict(zip(names, row, strict=True))
    reasons = values["null_reasons"]  # a JSON object; NULL when no column is NULL
    values["null_reasons"] = _decode_reasons.decode(reasons) if reasons else {}
    return model(**values)


def impacts(conn: Connection, coin: str, computed_at_ms: int) -> list[Impact]:
    """The impacts computed with the liquidity profile of ``coin`` at ``computed_at_ms``."""
    return fetch(
        conn,
        Impact,
        f"SELECT {columns(Impact)} FROM {IMPACTS_TABLE} WHERE coin = ? AND computed_at_ms = ? "
        "ORDER BY notional_usd, side",
        (coin, computed_at_ms),
    )


def latest_features(conn: Connection, coin: str) -> dict[str, FeatureRow | None]:
    """The latest row of each feature channel for ``coin``, by channel (None: no row yet);
    the liquidity profile comes with its ``impacts`` (one per notional and side)."""
    out: dict[str, FeatureRow | None] = {}
    for channel, (table, model) in FEATURE_TABLES.items():
        out[channel] = _latest(conn, table, model, coin) if has_table(conn, table) else None
    liq = out.get("liquidity_profiles")
    if isinstance(liq, LiquidityProfileRow):
        out["liquidity_profiles"] = msgspec.structs.replace(
            liq, impacts=impacts(conn, coin, liq.computed_at_ms)
        )
    return out
