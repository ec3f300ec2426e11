"""Read models of the retention area: the hour in progress, aggregated from its minutes."""

from __future__ import annotations

import msgspec


class FormingHour(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The hour containing now so far: the columns of ``hyperliquid_candles_1h`` without
    ``rolled_up_at_ms``, plus ``updated_at_ms`` (the latest update of its minutes)."""

    coin: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    minute_count: int
    updated_at_ms: int


class HourMinute(msgspec.Struct, frozen=True, gc=False):
    """A stored 1-minute bar of the hour in progress."""

    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    updated_at_ms: int
