"""Reads of the Hyperliquid tables for the HTTP API and the CLI (read-only connections).

Each function takes an open apsw connection and returns plain dicts/lists. Tables that do not
exist yet (a fresh database, or ``hyperliquid_candles_1h`` before the retention engine made
it) read as empty.
"""

from __future__ import annotations

from typing import Any

import apsw

from marketmem.storage.db import query
from marketmem.storage.reads.catalog import has_table

CANDLES_1M = "hyperliquid_candles"
CANDLES_1H = "hyperliquid_candles_1h"
INTERVALS = ("1m", "1h")


def list_assets(
    conn: apsw.Connection, *, category: str | None = None, include_delisted: bool = False
) -> list[dict[str, Any]]:
    """Assets in asset-index order, each with its ``categories`` (ids, sorted)."""
    if not has_table(conn, "hyperliquid_assets"):
        return []
    have_categories = has_table(conn, "hyperliquid_asset_categories")
    where: list[str] = []
    params: list[Any] = []
    if not include_delisted:
        where.append("NOT a.is_delisted")
    if category is not None:
        if not have_categories:
            return []
        where.append(
            "EXISTS (SELECT 1 FROM hyperliquid_asset_categories c "
            "WHERE c.coin = a.coin AND c.category_id = ?)"
        )
        params.append(category)
    sql = "SELECT a.* FROM hyperliquid_assets a"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY a.asset_index"
    rows = query(conn, sql, tuple(params))
    cats: dict[str, list[str]] = {}
    if have_categories:
        for coin, cid in conn.execute(
            "SELECT coin, category_id FROM hyperliquid_asset_categories ORDER BY coin, category_id"
        ):
            cats.setdefault(coin, []).append(cid)
    out = []
    for r in rows:
        r["is_delisted"] = bool(r["is_delisted"])
        r["only_isolated"] = bool(r["only_isolated"])
        r["categories"] = cats.get(r["coin"], [])
        out.append(r)
    return out


def category_taxonomy(conn: apsw.Connection) -> list[dict[str, Any]]:
    """Every category (id, label, description) with how many listed coins it holds."""
    if not has_table(conn, "hyperliquid_asset_category_taxonomy"):
        return []
    return query(
        conn,
        "SELECT t.category_id, t.label, t.description, "
        "(SELECT count(*) FROM hyperliquid_asset_categories c "
        " JOIN hyperliquid_assets a ON a.coin = c.coin "
        " WHERE c.category_id = t.category_id AND NOT a.is_delisted) AS coins "
        "FROM hyperliquid_asset_category_taxonomy t ORDER BY t.category_id",
    )


def candles(
    conn: apsw.Connection,
    coin: str,
    interval: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Bars of ``coin`` by open time, ascending; with ``limit``, the latest ``limit`` of them.

    ``start_ms``/``end_ms`` bound the open time (inclusive). 1m bars carry ``closed``; 1h
    bars (rolled up from closed minutes) carry ``minute_count``.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    table = CANDLES_1M if interval == "1m" else CANDLES_1H
    if not has_table(conn, table):
        return []
    where = ["coin = ?"]
    params: list[Any] = [coin]
    if interval == "1m":
        where.append("interval = '1m'")
    if start_ms is not None:
        where.append("open_time_ms >= ?")
        params.append(start_ms)
    if end_ms is not None:
        where.append("open_time_ms <= ?")
        params.append(end_ms)
    sql = f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY open_time_ms DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(0, limit))
    rows = query(conn, sql, tuple(params))
    rows.reverse()
    for r in rows:
        if "closed" in r:
            r["closed"] = bool(r["closed"])
        if interval == "1h":
            r.setdefault("interval", "1h")
    return rows


def last_closed_candle(
    conn: apsw.Connection, coin: str, interval: str = "1m"
) -> dict[str, Any] | None:
    """The latest closed bar of ``coin`` (every stored 1h bar counts as closed)."""
    if interval == "1m":
        if not has_table(conn, CANDLES_1M):
            return None
        rows = query(
            conn,
            f"SELECT * FROM {CANDLES_1M} WHERE coin = ? AND interval = '1m' AND closed "
            "ORDER BY open_time_ms DESC LIMIT 1",
            (coin,),
        )
        if rows:
            rows[0]["closed"] = True
        return rows[0] if rows else None
    rows = candles(conn, coin, interval, limit=1)
    return rows[0] if rows else None


def latest_mid(conn: apsw.Connection, coin: str) -> dict[str, Any] | None:
    if not has_table(conn, "hyperliquid_mid_prices"):
        return None
    rows = query(
        conn,
        "SELECT coin, bucket_ms, price, observed_at_ms FROM hyperliquid_mid_prices "
        "WHERE coin = ? ORDER BY bucket_ms DESC LIMIT 1",
        (coin,),
    )
    return rows[0] if rows else None


def execution_price(
    conn: apsw.Connection, coin: str, now_ms: int, *, max_mid_age_ms: int
) -> dict[str, Any] | None:
    """The price to execute at: the latest mid while it is at most ``max_mid_age_ms`` old,
    otherwise the close of the latest 1m candle (the forming one included: its close is the
    last trade). A stale mid is still returned when no candle exists; None when neither does.

    ``at_ms`` is when the price was true: the mid's observation time, or for a candle the
    moment its state was received, capped at the bar's end.
    """
    mid = latest_mid(conn, coin)
    if mid is not None and now_ms - mid["observed_at_ms"] <= max_mid_age_ms:
        return _price(coin, mid["price"], "mid", mid["observed_at_ms"], now_ms)
    candle = None
    if has_table(conn, CANDLES_1M):
        rows = query(
            conn,
            f"SELECT close, close_time_ms, updated_at_ms FROM {CANDLES_1M} "
            "WHERE coin = ? AND interval = '1m' ORDER BY open_time_ms DESC LIMIT 1",
            (coin,),
        )
        candle = rows[0] if rows else None
    if candle is not None:
        at = min(candle["updated_at_ms"], candle["close_time_ms"] + 1)
        return _price(coin, candle["close"], "candle_close", at, now_ms)
    if mid is not None:
        return _price(coin, mid["price"], "mid", mid["observed_at_ms"], now_ms)
    return None


def _price(coin: str, price: float, source: str, at_ms: int, now_ms: int) -> dict[str, Any]:
    return {
        "coin": coin,
        "price": price,
        "source": source,
        "at_ms": at_ms,
        "age_ms": max(0, now_ms - at_ms),
    }


def candle_gaps(conn: apsw.Connection) -> list[dict[str, Any]]:
    """Pending candle gaps, one per coin, oldest first (empty before the table exists)."""
    if not has_table(conn, "hyperliquid_candle_gaps"):
        return []
    return query(conn, "SELECT * FROM hyperliquid_candle_gaps ORDER BY first_open_ms, coin")
