"""Hyperliquid tables and how candle and mid batches are upserted into them."""

from __future__ import annotations

from marketmem.events import Candle, CandleBatch, MidBatch, MidPrice
from marketmem.storage.tables import Upsert, rows_writer

DDL = [
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_candles (
        coin TEXT NOT NULL,
        interval TEXT NOT NULL,
        open_time_ms INTEGER NOT NULL,
        close_time_ms INTEGER NOT NULL,
        open REAL NOT NULL,
        high REAL NOT NULL,
        low REAL NOT NULL,
        close REAL NOT NULL,
        volume REAL NOT NULL,
        trades INTEGER NOT NULL,
        closed INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (coin, interval, open_time_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_mid_prices (
        coin TEXT NOT NULL,
        bucket_ms INTEGER NOT NULL,
        price REAL NOT NULL,
        observed_at_ms INTEGER NOT NULL,
        PRIMARY KEY (coin, bucket_ms)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS hyperliquid_mid_prices_by_bucket "
    "ON hyperliquid_mid_prices (bucket_ms)",
]

CANDLES = Upsert(
    "hyperliquid_candles",
    Candle,
    key=("coin", "interval", "open_time_ms"),
    # A closed bar never reopens, whatever order pushes and backfills arrive in.
    update={"closed": "max(hyperliquid_candles.closed, excluded.closed)"},
)

# Within a bucket the latest observation wins, even when batches arrive out of order.
MIDS = Upsert(
    "hyperliquid_mid_prices",
    MidPrice,
    key=("coin", "bucket_ms"),
    update={
        "price": "CASE WHEN excluded.observed_at_ms >= hyperliquid_mid_prices.observed_at_ms "
        "THEN excluded.price ELSE hyperliquid_mid_prices.price END",
        "observed_at_ms": "max(excluded.observed_at_ms, hyperliquid_mid_prices.observed_at_ms)",
    },
)

WRITERS = {
    CandleBatch: rows_writer(CANDLES),
    MidBatch: rows_writer(MIDS),
}
