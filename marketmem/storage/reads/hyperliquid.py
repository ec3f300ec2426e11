"""Reads of the Hyperliquid tables: the asset registry, candles (and pages of candle
history), mids, the execution price, pending candle gaps, what the dashboard shows (latest
price times, the coins it charts), and what the live stream reads back of committed rows (by
key, or closed bars changed since a time).

Tables that do not exist yet (a fresh database, or ``hyperliquid_candles_1h`` before the
retention engine made it) read as empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from marketmem.storage.catalog import has_table
from marketmem.storage.models.hyperliquid import (
    Asset,
    Bar,
    Candle,
    CandleGap,
    CategoryCount,
    ExecutionPrice,
    HourCandle,
    MidPrice,
    PriceTimes,
)
from marketmem.storage.reads import Connection, columns, fetch, fetch_one, first_column, scalar

ASSETS = "hyperliquid_assets"
CATEGORIES = "hyperliquid_asset_categories"
TAXONOMY = "hyperliquid_asset_category_taxonomy"
CANDLES_1M = "hyperliquid_candles"
CANDLES_1H = "hyperliquid_candles_1h"
MIDS = "hyperliquid_mid_prices"
GAPS = "hyperliquid_candle_gaps"
INTERVALS = ("1m", "1h")

_ASSET_FIELDS = tuple(c for c in Asset.__struct_fields__ if c != "categories")
_ASSET = ", ".join(f"a.{c}" for c in _ASSET_FIELDS)
_CANDLE = columns(Candle)
_HOUR = ", ".join(c for c in HourCandle.__struct_fields__ if c != "interval")
_BAR = ", ".join(c for c in Bar.__struct_fields__ if c != "closed")


def _candle(*row: Any) -> Candle:
    values = dict(zip(Candle.__struct_fields__, row, strict=True))
    values["closed"] = bool(values["closed"])  # an integer on SQLite
    return Candle(**values)


def _bar(*row: Any) -> Bar:
    values = dict(zip(Bar.__struct_fields__, row, strict=True))
    values["closed"] = bool(values["closed"])  # stored as an integer
    return Bar(**values)


_json = msgspec.json.Encoder()
_raw_json = msgspec.json.Decoder()


def compact_json(text: str | None) -> str | None:
    """JSON text in the compact form the writer stores: PostgreSQL gives a JSONB column
    back in its own canonical form (a space after every ``,`` and ``:``), SQLite as written."""
    return None if text is None else _json.encode(_raw_json.decode(text)).decode()


def _asset(row: tuple[Any, ...], categories: list[str]) -> Asset:
    values = dict(zip(_ASSET_FIELDS, row, strict=True))
    for flag in ("is_delisted", "only_isolated"):  # integers on SQLite, booleans on PostgreSQL
        values[flag] = bool(values[flag])
    values["margin_tiers"] = compact_json(values["margin_tiers"])
    return Asset(**values, categories=categories)


def list_assets(
    conn: Connection, *, category: str | None = None, include_delisted: bool = False
) -> list[Asset]:
    """Assets in asset-index order, each with its ``categories`` (ids, sorted)."""
    if not has_table(conn, ASSETS):
        return []
    have_categories = has_table(conn, CATEGORIES)
    where: list[str] = []
    params: list[Any] = []
    if not include_delisted:
        where.append("NOT a.is_delisted")
    if category is not None:
        if not have_categories:
            return []
        where.append(
            f"EXISTS (SELECT 1 FROM {CATEGORIES} c WHERE c.coin = a.coin AND c.category_id = ?)"
        )
        params.append(category)
    sql = f"SELECT {_ASSET} FROM {ASSETS} a"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY a.asset_index"
    rows = list(conn.execute(sql, tuple(params)))
    cats: dict[str, list[str]] = {}
    if have_categories:
        for coin, cid in conn.execute(
            f"SELECT coin, category_id FROM {CATEGORIES} ORDER BY coin, category_id"
        ):
            cats.setdefault(coin, []).append(cid)
    return [_asset(r, cats.get(r[0], [])) for r in rows]


def listed_coin(conn: Connection, symbol: str) -> str | None:
    """The listed (not delisted) perp ``symbol`` names: spelled as given, else the one coin
    that matches it ignoring case; None when none (or several) do."""
    if not has_table(conn, ASSETS):
        return None
    coins: list[str] = first_column(
        conn,
        f"SELECT coin FROM {ASSETS} WHERE lower(coin) = lower(?) AND NOT is_delisted",
        (symbol,),
    )
    if symbol in coins:
        return symbol
    return coins[0] if len(coins) == 1 else None


def listed_coins(conn: Connection) -> list[str]:
    """The coins of the registry that are listed (not delisted), in asset-index order."""
    if not has_table(conn, ASSETS):
        return []
    return first_column(
        conn, f"SELECT coin FROM {ASSETS} WHERE NOT is_delisted ORDER BY asset_index"
    )


def category_taxonomy(conn: Connection) -> list[CategoryCount]:
    """Every category (id, label, description) with how many listed coins it holds."""
    if not has_table(conn, TAXONOMY):
        return []
    return fetch(
        conn,
        CategoryCount,
        "SELECT t.category_id, t.label, t.description, "
        f"(SELECT count(*) FROM {CATEGORIES} c JOIN {ASSETS} a ON a.coin = c.coin "
        " WHERE c.category_id = t.category_id AND NOT a.is_delisted) AS coins "
        f"FROM {TAXONOMY} t ORDER BY t.category_id",
    )


def candles(
    conn: Connection,
    coin: str,
    interval: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int | None = None,
) -> list[Candle] | list[HourCandle]:
    """Bars of ``coin`` by open time, ascending; with ``limit``, the latest ``limit`` of them.

    ``start_ms``/``end_ms`` bound the open time (inclusive). 1m bars are ``Candle`` rows
    (with ``closed``); 1h bars (rolled up from closed minutes) are ``HourCandle`` rows.
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
    cols = _CANDLE if interval == "1m" else _HOUR
    sql = f"SELECT {cols} FROM {table} WHERE {' AND '.join(where)} ORDER BY open_time_ms DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(0, limit))
    if interval == "1m":
        minutes = fetch(conn, _candle, sql, tuple(params))
        minutes.reverse()
        return minutes
    hours = fetch(conn, HourCandle, sql, tuple(params))
    hours.reverse()
    return hours


def bars(
    conn: Connection, coin: str, interval: str, start_ms: int, end_ms: int, limit: int
) -> list[Bar]:
    """The first ``limit`` bars of ``coin`` opened in [start_ms, end_ms], ascending: 1m from
    the stored minutes (closed as their rows say), 1h from the rolled-up hours (all closed;
    the hours not rolled up yet are ``retention.forming``'s)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    table = CANDLES_1M if interval == "1m" else CANDLES_1H
    if not has_table(conn, table):
        return []
    where = "coin = ? AND open_time_ms >= ? AND open_time_ms <= ?"
    params = (coin, start_ms, end_ms, limit)
    if interval == "1m":
        sql = f"SELECT {_BAR}, closed FROM {table} WHERE {where} AND interval = '1m'"
        return fetch(conn, _bar, f"{sql} ORDER BY open_time_ms LIMIT ?", params)
    sql = f"SELECT {_BAR}, 1 FROM {table} WHERE {where} ORDER BY open_time_ms LIMIT ?"
    return fetch(conn, _bar, sql, params)


def newest_hour(conn: Connection, coin: str) -> int | None:
    """The open time of the latest rolled-up hour of ``coin`` (None before the first)."""
    if not has_table(conn, CANDLES_1H):
        return None
    value: int | None = scalar(
        conn, f"SELECT max(open_time_ms) FROM {CANDLES_1H} WHERE coin = ?", (coin,)
    )
    return value


def last_closed_candle(
    conn: Connection, coin: str, interval: str = "1m"
) -> Candle | HourCandle | None:
    """The latest closed bar of ``coin`` (every stored 1h bar counts as closed)."""
    if interval == "1m":
        if not has_table(conn, CANDLES_1M):
            return None
        return fetch_one(
            conn,
            _candle,
            f"SELECT {_CANDLE} FROM {CANDLES_1M} WHERE coin = ? AND interval = '1m' AND closed "
            "ORDER BY open_time_ms DESC LIMIT 1",
            (coin,),
        )
    bars = candles(conn, coin, interval, limit=1)
    return bars[0] if bars else None


def closed_candles_since(
    conn: Connection, coin: str, *, updated_since_ms: int, open_from_ms: int
) -> list[Candle]:
    """Closed 1m bars of ``coin`` stored (or rewritten) at ``updated_since_ms`` or later, by
    open time; ``open_from_ms`` bounds the open time from below (the key's range)."""
    if not has_table(conn, CANDLES_1M):
        return []
    return fetch(
        conn,
        _candle,
        f"SELECT {_CANDLE} FROM {CANDLES_1M} WHERE coin = ? AND interval = '1m' "
        "AND open_time_ms >= ? AND closed AND updated_at_ms >= ? ORDER BY open_time_ms",
        (coin, open_from_ms, updated_since_ms),
    )


def candles_at(conn: Connection, keys: Iterable[tuple[str, int]]) -> list[Candle]:
    """The stored 1m bars of these (coin, open time) keys; keys with no row are left out."""
    if not has_table(conn, CANDLES_1M):
        return []
    sql = (
        f"SELECT {_CANDLE} FROM {CANDLES_1M} "
        "WHERE coin = ? AND interval = '1m' AND open_time_ms = ?"
    )
    out: list[Candle] = []
    for key in keys:
        bar = fetch_one(conn, _candle, sql, key)
        if bar is not None:
            out.append(bar)
    return out


def mids_at(conn: Connection, keys: Iterable[tuple[str, int]]) -> list[MidPrice]:
    """The stored mids of these (coin, bucket) keys; keys with no row are left out."""
    if not has_table(conn, MIDS):
        return []
    sql = f"SELECT {columns(MidPrice)} FROM {MIDS} WHERE coin = ? AND bucket_ms = ?"
    out: list[MidPrice] = []
    for key in keys:
        mid = fetch_one(conn, MidPrice, sql, key)
        if mid is not None:
            out.append(mid)
    return out


def latest_mid(conn: Connection, coin: str) -> MidPrice | None:
    if not has_table(conn, MIDS):
        return None
    return fetch_one(
        conn,
        MidPrice,
        f"SELECT {columns(MidPrice)} FROM {MIDS} WHERE coin = ? ORDER BY bucket_ms DESC LIMIT 1",
        (coin,),
    )


def execution_price(
    conn: Connection, coin: str, now_ms: int, *, max_mid_age_ms: int
) -> ExecutionPrice | None:
    """The price to execute at: the latest mid while it is at most ``max_mid_age_ms`` old,
    otherwise the close of the latest 1m candle (the forming one included: its close is the
    last trade). A stale mid is still returned when no candle exists; None when neither does.

    ``at_ms`` is when the price was true: the mid's observation time, or for a candle the
    moment its state was received, capped at the bar's end.
    """
    mid = latest_mid(conn, coin)
    if mid is not None and now_ms - mid.observed_at_ms <= max_mid_age_ms:
        return _price(coin, mid.price, "mid", mid.observed_at_ms, now_ms)
    candle = None
    if has_table(conn, CANDLES_1M):
        candle = conn.execute(
            f"SELECT close, close_time_ms, updated_at_ms FROM {CANDLES_1M} "
            "WHERE coin = ? AND interval = '1m' ORDER BY open_time_ms DESC LIMIT 1",
            (coin,),
        ).fetchone()
    if candle is not None:
        close, close_time_ms, updated_at_ms = candle
        at = min(updated_at_ms, close_time_ms + 1)
        return _price(coin, close, "candle_close", at, now_ms)
    if mid is not None:
        return _price(coin, mid.price, "mid", mid.observed_at_ms, now_ms)
    return None


def _price(coin: str, price: float, source: str, at_ms: int, now_ms: int) -> ExecutionPrice:
    return ExecutionPrice(
        coin=coin, price=price, source=source, at_ms=at_ms, age_ms=max(0, now_ms - at_ms)
    )


def candle_gaps(conn: Connection) -> list[CandleGap]:
    """Pending candle gaps, one per coin, oldest first (empty before the table exists)."""
    if not has_table(conn, GAPS):
        return []
    return fetch(
        conn, CandleGap, f"SELECT {columns(CandleGap)} FROM {GAPS} ORDER BY first_open_ms, coin"
    )


def latest_price_times(conn: Connection) -> PriceTimes:
    """Per coin, the time of its latest mid bucket and of its latest closed 1m candle."""
    mid: list[int] = []
    candle_1m: list[int] = []
    if has_table(conn, MIDS):
        mid = [r[1] for r in conn.execute(f"SELECT coin, max(bucket_ms) FROM {MIDS} GROUP BY coin")]
    if has_table(conn, CANDLES_1M):
        candle_1m = [
            r[1]
            for r in conn.execute(
                f"SELECT coin, max(close_time_ms) FROM {CANDLES_1M} "
                "WHERE interval = '1m' AND closed GROUP BY coin"
            )
        ]
    return PriceTimes(mid=mid, candle_1m=candle_1m)


def coins_since(conn: Connection, since_ms: int) -> list[str]:
    """The coins with a 1m candle opened at or after ``since_ms``: in registry order (asset
    index), then the coins the registry does not know, by name."""
    if not has_table(conn, CANDLES_1M):
        return []
    recent = f"SELECT DISTINCT coin FROM {CANDLES_1M} WHERE interval = '1m' AND open_time_ms >= ?"
    if not has_table(conn, ASSETS):
        return first_column(conn, f"{recent} ORDER BY coin", (since_ms,))
    return first_column(
        conn,
        f"SELECT r.coin FROM ({recent}) r LEFT JOIN {ASSETS} a ON a.coin = r.coin "
        "ORDER BY CASE WHEN a.asset_index IS NULL THEN 1 ELSE 0 END, a.asset_index, r.coin",
        (since_ms,),
    )
