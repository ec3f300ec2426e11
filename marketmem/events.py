"""Every event that travels on the bus, as frozen, tagged msgspec Structs.

Sources convert their wire types into these at their boundary; nothing downstream sees raw
JSON. Hot streams publish batches (``CandleBatch``, ``MidBatch``), not one event per row.
Row structs (``Candle``, ``MidPrice``, ...) list their fields in the column order of the table
they are stored in, so the storage writer can turn them into parameter tuples directly.

Times are integer milliseconds since the Unix epoch (``*_ms``) everywhere.
"""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Base of every bus event; the tag is the class name."""


class Row(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of every stored row; field order is column order."""


# --- runs and storage --------------------------------------------------------------------


class RunStarted(Event):
    run_id: str
    source: str
    channel: str
    started_at_ms: int


class RunFinished(Event):
    run_id: str
    source: str
    channel: str
    started_at_ms: int
    finished_at_ms: int
    status: str  # "ok" | "failed"
    rows_written: int = 0
    error: str | None = None


class Committed(Event):
    """Published by the storage writer after each transaction it committed."""

    events: int
    rows_by_table: dict[str, int]
    latency_s: float
    # Results of events that carried a request_id (commands such as a maintenance pass).
    results: dict[str, dict[str, int]] = {}


class CommitFailed(Event):
    """Published by the storage writer when a transaction could not be committed."""

    events: int
    error: str
    will_retry: bool


# --- hyperliquid ---------------------------------------------------------------------------


class Candle(Row):
    """One OHLCV bar; key (coin, interval, open_time_ms). Prices are the venue's decimals."""

    coin: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    closed: bool
    updated_at_ms: int


class CandleBatch(Event):
    rows: list[Candle]


class MidPrice(Row):
    """Last mid seen in a 5-second bucket; key (coin, bucket_ms)."""

    coin: str
    bucket_ms: int
    price: float
    observed_at_ms: int


class MidBatch(Event):
    rows: list[MidPrice]


# --- hyperliquid: end ----------------------------------------------------------------------


# --- features ------------------------------------------------------------------------------


# --- features: end -------------------------------------------------------------------------


# --- retention -----------------------------------------------------------------------------


# --- retention: end ------------------------------------------------------------------------


# --- polymarket ----------------------------------------------------------------------------


# --- polymarket: end -----------------------------------------------------------------------


# --- defillama -----------------------------------------------------------------------------


# --- defillama: end ------------------------------------------------------------------------


# --- http ----------------------------------------------------------------------------------


# --- http: end -----------------------------------------------------------------------------
