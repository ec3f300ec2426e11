"""Database reads of the feature area (read-only connections, plain synchronous calls).

- seeding the candle windows (``minute_rows``, ``hour_rows``),
- earlier asset-context snapshots for positioning (``snapshots_between``),
- which perps are listed (``listed_perps``), for ``coins = ["*"]``,
- ``latest_features(conn, coin)``: the latest row of every feature channel for the API.

Tables another area owns (``hyperliquid_candles_1h``, ``hyperliquid_assets``) may be absent;
a read of a missing table returns nothing rather than failing.
"""

from __future__ import annotations

from typing import Any

import apsw
import msgspec

from marketmem.events import AssetCtxSnapshot
from marketmem.features.tables import CHANNEL_TABLES, IMPACTS, SNAPSHOTS
from marketmem.storage.db import query

MinuteRow = tuple[str, int, float, float, float, float, float, int]
HourRow = tuple[str, int, float, float, float, float, float, int]


def table_exists(conn: apsw.Connection, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    return row is not None


def minute_rows(conn: apsw.Connection, since_ms: int) -> list[MinuteRow]:
    """1-minute bars opened at or after ``since_ms``, every coin, ascending per coin."""
    if not table_exists(conn, "hyperliquid_candles"):
        return []
    return list(
        conn.execute(
            "SELECT coin, open_time_ms, open, high, low, close, volume, updated_at_ms "
            "FROM hyperliquid_candles WHERE interval='1m' AND open_time_ms >= ? "
            "ORDER BY coin, open_time_ms",
            (since_ms,),
        )
    )


def hour_rows(conn: apsw.Connection, since_ms: int) -> list[HourRow]:
    """Hour rollups opened at or after ``since_ms`` (none while the rollup table is absent)."""
    if not table_exists(conn, "hyperliquid_candles_1h"):
        return []
    return list(
        conn.execute(
            "SELECT coin, open_time_ms, open, high, low, close, volume, minute_count "
            "FROM hyperliquid_candles_1h WHERE open_time_ms >= ?",
            (since_ms,),
        )
    )


_SNAPSHOT_COLS = ", ".join(SNAPSHOTS.columns)


def snapshots_between(
    conn: apsw.Connection, ranges: list[tuple[int, int]]
) -> dict[str, list[AssetCtxSnapshot]]:
    """Stored snapshots inside any of the (start, end) ranges, by coin, ascending in time."""
    out: dict[str, list[AssetCtxSnapshot]] = {}
    seen: set[tuple[str, int]] = set()
    for start, end in ranges:
        for row in conn.execute(
            f"SELECT {_SNAPSHOT_COLS} FROM {SNAPSHOTS.table} WHERE snapshot_ms BETWEEN ? AND ?",
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


def listed_perps(conn: apsw.Connection) -> list[str] | None:
    """Listed (not delisted) perps from the registry, or None when it has not run yet."""
    if not table_exists(conn, "hyperliquid_assets"):
        return None
    cols = {r["name"] for r in query(conn, "PRAGMA table_info(hyperliquid_assets)")}
    name = "coin" if "coin" in cols else "name"
    if name not in cols:
        return None
    where = " WHERE NOT is_delisted" if "is_delisted" in cols else ""
    coins = [r[0] for r in conn.execute(f"SELECT {name} FROM hyperliquid_assets{where}")]
    return coins or None


_decode_reasons = msgspec.json.Decoder(dict[str, str])


def _latest(conn: apsw.Connection, table: str, coin: str) -> dict[str, Any] | None:
    rows = query(
        conn,
        f"SELECT * FROM {table} WHERE coin=? ORDER BY computed_at_ms DESC LIMIT 1",
        (coin,),
    )
    if not rows:
        return None
    row = rows[0]
    reasons = row.get("null_reasons")
    row["null_reasons"] = _decode_reasons.decode(reasons) if reasons else {}
    return row


def latest_features(conn: apsw.Connection, coin: str) -> dict[str, dict[str, Any] | None]:
    """The latest row of each feature channel for ``coin`` (None: no row yet).

    Every row has ``coin``, ``computed_at_ms``, ``window_start_ms``, ``window_end_ms``, its
    named columns and ``null_reasons`` (column -> reason, for every NULL column);
    ``liquidity_profiles`` also has ``impacts`` (one dict per notional and side).
    """
    out: dict[str, dict[str, Any] | None] = {}
    for channel, upsert in CHANNEL_TABLES.items():
        if not table_exists(conn, upsert.table):
            out[channel] = None
            continue
        out[channel] = _latest(conn, upsert.table, coin)
    liq = out.get("liquidity_profiles")
    if liq is not None:
        liq["impacts"] = query(
            conn,
            f"SELECT notional_usd, side, avg_px, worst_px, slippage_bps, null_reason "
            f"FROM {IMPACTS.table} WHERE coin=? AND computed_at_ms=? "
            "ORDER BY notional_usd, side",
            (coin, liq["computed_at_ms"]),
        )
    return out
